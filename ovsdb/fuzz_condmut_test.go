package ovsdb

import (
	"testing"

	"github.com/ovsdb-go/ovsdb-server/schema"
)

// fuzzRows builds the sample rows the fuzz targets evaluate against.
func fuzzRows(t testing.TB, tbl *schema.Table) []*Row {
	rows := make([]*Row, 0, len(condRows)+1)
	for _, r := range condRows {
		rows = append(rows, makeRow(t, tbl, r))
	}
	return append(rows, makeRow(t, tbl, `{}`))
}

func requireSortedUnique(t *testing.T, c *schema.Column, d schema.Datum) {
	t.Helper()
	for i := 1; i < len(d.Keys); i++ {
		if schema.CompareAtoms(d.Keys[i-1], d.Keys[i]) >= 0 {
			t.Fatalf("column %s: keys not sorted/unique: %v", c.Name, d.Keys)
		}
	}
	if c.Type.IsMap() && len(d.Values) != len(d.Keys) {
		t.Fatalf("column %s: %d keys but %d values", c.Name, len(d.Keys), len(d.Values))
	}
}

func FuzzParseConditions(f *testing.F) {
	for _, tc := range conditionCases {
		f.Add(tc.where)
	}
	tbl := cmTable(f)
	rows := fuzzRows(f, tbl)
	f.Fuzz(func(t *testing.T, where string) {
		js, err := schema.DecodeJSON([]byte(where))
		if err != nil {
			return
		}
		conds, err := ParseConditions(tbl, js, testSymtab{})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		for i := range conds {
			requireSortedUnique(t, conds[i].Column, conds[i].Arg)
			_ = conds[i].ToJSON()
		}
		for _, r := range rows {
			_ = MatchAll(conds, r)
		}
	})
}

func FuzzParseMutations(f *testing.F) {
	for _, tc := range mutationCases {
		f.Add(`[` + tc.mutation + `]`)
	}
	tbl := cmTable(f)
	rows := fuzzRows(f, tbl)
	f.Fuzz(func(t *testing.T, mutations string) {
		js, err := schema.DecodeJSON([]byte(mutations))
		if err != nil {
			return
		}
		muts, err := ParseMutations(tbl, js, testSymtab{})
		if err != nil {
			return
		}
		for i := range muts {
			_ = muts[i].ToJSON()
		}
		for _, r := range rows {
			before := make([]schema.Datum, len(r.Fields))
			for i, d := range r.Fields {
				before[i] = d.Clone()
			}
			fields := append([]schema.Datum(nil), r.Fields...)
			if err := ApplyMutations(tbl, muts, fields); err == nil {
				for _, c := range tbl.Columns {
					d := fields[c.Index]
					requireSortedUnique(t, c, d)
					if n := len(d.Keys); n < c.Type.Min || n > c.Type.Max {
						t.Fatalf("column %s: %d elements violate %d..%d", c.Name, n, c.Type.Min, c.Type.Max)
					}
					if err := schema.CheckDatum(&c.Type, d); err != nil {
						t.Fatalf("column %s: %v", c.Name, err)
					}
				}
			}
			for i := range before {
				if !before[i].Equal(r.Fields[i]) {
					t.Fatalf("ApplyMutations modified the row's datum %d", i)
				}
			}
		}
	})
}

package ovsdb

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/stretchr/testify/require"
)

// TestCompactRowField checks that a compact row keeps only non-default
// columns and that Field, Dense and NumFields give the dense values back.
func TestCompactRowField(t *testing.T) {
	tbl := cmTable(t)
	lay := &rowLayout{defaults: make([]schema.Datum, len(tbl.Columns))}
	for i, c := range tbl.Columns {
		lay.defaults[i] = schema.DefaultDatum(&c.Type)
	}
	for _, tc := range []struct {
		name    string
		vals    string
		present int // columns kept besides _uuid, _version and e
	}{
		{"all default", `{}`, 0},
		{"one set", `{"si":["set",[1,2]]}`, 1},
		{"map and scalar", `{"m":["map",[["a","1"]]],"i":7}`, 2},
		{"scalar equal to default", `{"i":0,"s":""}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dense := makeRow(t, tbl, tc.vals)
			want := append([]schema.Datum(nil), dense.Fields...)
			r := NewRow(dense.Dense())
			r.compact(lay)
			require.Nil(t, r.Fields)
			require.Equal(t, 3+tc.present, r.numPresent())
			require.Equal(t, len(want), r.NumFields())
			for i := range want {
				require.True(t, want[i].Equal(r.Field(i)), "column %d", i)
				require.Equal(t, want[i].Values != nil, r.Field(i).Values != nil, "column %d map-ness", i)
			}
			got := r.Dense()
			require.Len(t, got, len(want))
			for i := range want {
				require.True(t, want[i].Equal(got[i]), "dense column %d", i)
			}
			require.Equal(t, dense.UUID(), r.UUID())
			require.Equal(t, dense.Version(), r.Version())
			require.Equal(t, 0, compareRows(dense, r, nil))
			require.Equal(t, indexKey(dense, tbl.Columns), indexKey(r, tbl.Columns))
		})
	}
}

// TestCommittedRowsCompact checks that committed rows are compact after a
// transaction and after Apply, and that later transactions on them
// (update, mutate, select, wait) see every column.
func TestCommittedRowsCompact(t *testing.T) {
	db := NewDatabase(loadTestSchema(t), nil)
	ctx := context.Background()
	tx := func(ops string) string {
		t.Helper()
		out := fmt.Sprint(db.Transact(ctx, decode(t, ops).([]any), TransactOptions{}))
		require.NotContains(t, out, "error", ops)
		return out
	}
	tx(`[{"op":"insert","table":"Parent","row":{"name":"p","tags":["map",[["k","v"]]]}}]`)
	var r *Row
	db.Read(func(tables map[string]map[schema.UUID]*Row) {
		for _, x := range tables["Parent"] {
			r = x
		}
	})
	require.NotNil(t, r)
	require.Nil(t, r.Fields, "committed row is compact")
	ts := db.Schema().Table("Parent")
	require.Equal(t, "p", r.Field(ts.Column("name").Index).Keys[0])
	require.Equal(t, int64(0), r.Field(ts.Column("n").Index).Keys[0])
	require.Equal(t, 0, r.Field(ts.Column("kids").Index).Len())

	tx(`[{"op":"mutate","table":"Parent","where":[],"mutations":[["n","+=",5],["tags","insert",["map",[["a","b"]]]]]}]`)
	out := tx(`[{"op":"select","table":"Parent","where":[["n","==",5]],"columns":["name","n","tags","kids"]}]`)
	require.Equal(t, "[map[rows:[map[kids:[set []] n:5 name:p tags:[map [[a b] [k v]]]]]]]", out)
	tx(`[{"op":"update","table":"Parent","where":[],"row":{"n":0,"tags":["map",[]]}},` +
		`{"op":"wait","table":"Parent","where":[],"columns":["n","tags"],"until":"==","rows":[{}],"timeout":0}]`)
	r2 := db.Row("Parent", r.UUID())
	require.Nil(t, r2.Fields)
	require.Equal(t, 3, r2.numPresent(), "only _uuid, _version and name differ from the defaults")

	// Apply compacts the dense rows it is given.
	nr := NewRow(r2.Dense())
	nr.Fields[schema.ColVersion] = schema.NewScalar(schema.NewUUID())
	nr.Fields[ts.Column("imm").Index] = schema.NewScalar("x")
	db.Apply(&ChangeSet{Tables: map[string]map[schema.UUID]*RowChange{"Parent": {r.UUID(): {Old: r2, New: nr}}}})
	require.Same(t, nr, db.Row("Parent", r.UUID()))
	require.Nil(t, nr.Fields)
	require.Equal(t, "x", nr.Field(ts.Column("imm").Index).Keys[0])
}

// TestWideTableRowsStayDense checks that rows of tables with more columns
// than a compact row can describe stay dense and work.
func TestWideTableRowsStayDense(t *testing.T) {
	var cols []string
	for i := 0; i < maxCompactColumns; i++ {
		cols = append(cols, fmt.Sprintf(`"c%d":{"type":{"key":"integer","min":0,"max":1}}`, i))
	}
	s, err := schema.ParseSchemaBytes([]byte(`{"name":"w","version":"1.0.0","tables":{"T":{"columns":{` +
		strings.Join(cols, ",") + `},"isRoot":true}}}`))
	require.NoError(t, err)
	db := NewDatabase(s, nil)
	out := fmt.Sprint(db.Transact(context.Background(), decode(t,
		`[{"op":"insert","table":"T","row":{"c63":1}},{"op":"select","table":"T","where":[["c63","==",1]],"columns":["c63","c0"]}]`).([]any),
		TransactOptions{}))
	require.Contains(t, out, "rows:[map[c0:[set []] c63:1]]")
	db.Read(func(tables map[string]map[schema.UUID]*Row) {
		require.Len(t, tables["T"], 1)
		for _, r := range tables["T"] {
			require.Len(t, r.Fields, maxCompactColumns+2)
		}
	})
}

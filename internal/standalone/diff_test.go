package standalone

import (
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/stretchr/testify/require"
)

func TestDiffRoundTrip(t *testing.T) {
	setT := schema.Type{Key: schema.NewBaseType(schema.TypeString), Min: 0, Max: schema.Unlimited}
	v := schema.NewBaseType(schema.TypeString)
	mapT := schema.Type{Key: schema.NewBaseType(schema.TypeString), Value: &v, Min: 0, Max: schema.Unlimited}
	optT := schema.Type{Key: schema.NewBaseType(schema.TypeString), Min: 0, Max: 1}
	tests := []struct {
		name          string
		typ           *schema.Type
		old, new, dif string
	}{
		{"set", &setT, `["set",["a","b"]]`, `["set",["b","c"]]`, `["set",["a","c"]]`},
		{"set to empty", &setT, `["set",["a"]]`, `["set",[]]`, `"a"`},
		{"map", &mapT, `["map",[["k","v"],["z","1"]]]`, `["map",[["k","w"],["x","y"],["z","1"]]]`, `["map",[["k","w"],["x","y"]]]`},
		{"map remove", &mapT, `["map",[["k","v"]]]`, `["map",[]]`, `["map",[["k","v"]]]`},
		{"optional", &optT, `"x"`, `["set",[]]`, `["set",[]]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old, err := schema.ParseDatum(tc.typ, decode(t, tc.old), nil)
			require.NoError(t, err)
			nw, err := schema.ParseDatum(tc.typ, decode(t, tc.new), nil)
			require.NoError(t, err)
			d := schema.DatumDiff(tc.typ, old, nw)
			require.Equal(t, tc.dif, cjson.String(schema.DatumToJSON(tc.typ, d)))
			got, err := applyDiff(tc.typ, old, d)
			require.NoError(t, err)
			require.True(t, got.Equal(nw), "%v != %v", got, nw)
		})
	}
}

func TestChangeSetJSON(t *testing.T) {
	s := testSchema(t)
	ts := s.Table("A")
	row := func(i int64, e int64) *ovsdb.Row {
		r := &ovsdb.Row{Fields: make([]schema.Datum, len(ts.Columns))}
		for j, c := range ts.Columns {
			r.Fields[j] = schema.DefaultDatum(&c.Type)
		}
		r.Fields[0] = schema.NewScalar(schema.UUID{1})
		r.Fields[1] = schema.NewScalar(schema.NewUUID())
		r.Fields[ts.Column("i").Index] = schema.NewScalar(i)
		r.Fields[ts.Column("e").Index] = schema.NewScalar(e)
		return r
	}
	id := schema.UUID{1}
	now := time.UnixMilli(1234)
	tests := []struct {
		name string
		rc   *ovsdb.RowChange
		want string
	}{
		{"insert defaults only", &ovsdb.RowChange{New: row(0, 5)}, `{"A":{"` + id.String() + `":{}},"_comment":"c","_date":1234,"_is_diff":true}`},
		{"insert", &ovsdb.RowChange{New: row(3, 0)}, `{"A":{"` + id.String() + `":{"i":3}},"_comment":"c","_date":1234,"_is_diff":true}`},
		{"modify", &ovsdb.RowChange{Old: row(3, 0), New: row(4, 1)}, `{"A":{"` + id.String() + `":{"i":4}},"_comment":"c","_date":1234,"_is_diff":true}`},
		{"ephemeral only", &ovsdb.RowChange{Old: row(3, 0), New: row(3, 1)}, `null`},
		{"delete", &ovsdb.RowChange{Old: row(3, 0)}, `{"A":{"` + id.String() + `":null},"_comment":"c","_date":1234,"_is_diff":true}`},
	}
	for _, tc := range tests {
		cs := &ovsdb.ChangeSet{Tables: map[string]map[schema.UUID]*ovsdb.RowChange{"A": {id: tc.rc}}, Comment: "c"}
		js := changeSetJSON(s, cs, now)
		if js == nil {
			require.Equal(t, tc.want, "null", tc.name)
			continue
		}
		require.Equal(t, tc.want, cjson.String(js), tc.name)
	}
}

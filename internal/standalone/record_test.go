package standalone

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/stretchr/testify/require"
)

// recordSchemaJSON has table names that sort before and after the
// "_comment", "_date" and "_is_diff" members, and an ephemeral column.
const recordSchemaJSON = `{"name":"R","version":"1.0.0","tables":{
 "A":{"columns":{"i":{"type":"integer"},
   "s":{"type":{"key":"string","min":0,"max":"unlimited"}},
   "m":{"type":{"key":"string","value":"integer","min":0,"max":"unlimited"}},
   "e":{"type":"integer","ephemeral":true},
   "o":{"type":{"key":"real","min":0,"max":1}}},"isRoot":true},
 "z":{"columns":{"name":{"type":"string"},"b":{"type":"boolean"},
   "u":{"type":{"key":"uuid","min":0,"max":"unlimited"}},
   "um":{"type":{"key":"string","value":"uuid","min":0,"max":"unlimited"}}},"isRoot":true},
 "a_b":{"columns":{"e":{"type":"string","ephemeral":true}},"isRoot":true}}}`

func randDatum(r *rand.Rand, c *schema.Column) schema.Datum {
	if r.IntN(3) == 0 {
		return schema.DefaultDatum(&c.Type)
	}
	atom := func(b *schema.BaseType) schema.Atom {
		switch b.Type {
		case schema.TypeInteger:
			return int64(r.IntN(5) - 2)
		case schema.TypeReal:
			return float64(r.IntN(7)) / 4
		case schema.TypeBoolean:
			return r.IntN(2) == 0
		case schema.TypeString:
			return []string{"", "x", "y\"q", "é", "k\n"}[r.IntN(5)]
		}
		return schema.NewUUID()
	}
	n := 1
	if c.Type.Max > 1 {
		n = r.IntN(4)
	} else if c.Type.Min == 0 {
		n = r.IntN(2)
	}
	var d schema.Datum
	d.Keys = []schema.Atom{}
	if c.Type.Value != nil {
		d.Values = []schema.Atom{}
	}
	for i := 0; i < n; i++ {
		d.Keys = append(d.Keys, atom(&c.Type.Key))
		if c.Type.Value != nil {
			d.Values = append(d.Values, atom(c.Type.Value))
		}
	}
	if err := d.Sort(); err != nil {
		return schema.DefaultDatum(&c.Type) // duplicate keys: use the default
	}
	return d
}

func randRow(r *rand.Rand, ts *schema.Table, id schema.UUID) *ovsdb.Row {
	row := &ovsdb.Row{Fields: make([]schema.Datum, len(ts.Columns))}
	for _, c := range ts.Columns {
		row.Fields[c.Index] = randDatum(r, c)
	}
	row.Fields[schema.ColUUID] = schema.NewScalar(id)
	row.Fields[schema.ColVersion] = schema.NewScalar(schema.NewUUID())
	return row
}

// TestAppendChangeSetMatchesJSON checks the direct record encoder against
// the JSON-tree form on random change sets.
func TestAppendChangeSetMatchesJSON(t *testing.T) {
	s, err := schema.ParseSchemaBytes([]byte(recordSchemaJSON))
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(1, 2))
	now := time.UnixMilli(1700000000123)
	nEmpty, nRecords := 0, 0
	for i := 0; i < 500; i++ {
		cs := &ovsdb.ChangeSet{Tables: map[string]map[schema.UUID]*ovsdb.RowChange{}}
		if r.IntN(2) == 0 {
			cs.Comment = fmt.Sprintf("c%d\n\"x\"", i)
		}
		for _, tname := range []string{"A", "z", "a_b", "nosuch"} {
			if r.IntN(3) == 0 {
				continue
			}
			ts := s.Table(tname)
			rows := map[schema.UUID]*ovsdb.RowChange{}
			for j := r.IntN(5); j > 0; j-- {
				id := schema.NewUUID()
				if ts == nil {
					rows[id] = &ovsdb.RowChange{New: &ovsdb.Row{}}
					continue
				}
				switch r.IntN(5) {
				case 0:
					rows[id] = &ovsdb.RowChange{New: randRow(r, ts, id)}
				case 1:
					rows[id] = &ovsdb.RowChange{Old: randRow(r, ts, id)}
				case 2:
					old := randRow(r, ts, id)
					nw := &ovsdb.Row{Fields: append([]schema.Datum(nil), old.Fields...)}
					nw.Fields[schema.ColVersion] = schema.NewScalar(schema.NewUUID())
					rows[id] = &ovsdb.RowChange{Old: old, New: nw} // no persistent change
				case 3:
					rows[id] = &ovsdb.RowChange{}
				default:
					rows[id] = &ovsdb.RowChange{Old: randRow(r, ts, id), New: randRow(r, ts, id)}
				}
			}
			cs.Tables[tname] = rows
		}
		want := changeSetJSON(s, cs, now)
		got, ok := appendChangeSet([]byte("prefix"), s, cs, now)
		if want == nil {
			require.False(t, ok, "case %d", i)
			require.Equal(t, "prefix", string(got))
			nEmpty++
			continue
		}
		require.True(t, ok, "case %d", i)
		require.Equal(t, "prefix"+string(cjson.Marshal(want)), string(got), "case %d", i)
		nRecords++
	}
	// Both outcomes were exercised.
	require.Greater(t, nEmpty, 20)
	require.Greater(t, nRecords, 200)
}

// TestAppendSnapshotMatchesJSON: appendSnapshot writes exactly what
// cjson.Marshal(snapshotJSON(...)) writes, for random contents (empty
// tables, unknown tables, an empty database, with and without a comment).
func TestAppendSnapshotMatchesJSON(t *testing.T) {
	s, err := schema.ParseSchemaBytes([]byte(recordSchemaJSON))
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(3, 4))
	now := time.UnixMilli(1700000000456)
	empty := 0
	for i := 0; i < 600; i++ {
		rows := map[string][]*ovsdb.Row{}
		for _, tname := range []string{"A", "z", "a_b"} {
			if r.IntN(4) == 0 {
				continue
			}
			ts := s.Table(tname)
			rs := []*ovsdb.Row{}
			for j := r.IntN(6); j > 0; j-- {
				rs = append(rs, randRow(r, ts, schema.NewUUID()))
			}
			rows[tname] = rs
		}
		if r.IntN(3) == 0 {
			rows["nosuch"] = []*ovsdb.Row{{}} // not in the schema: skipped
		}
		if len(rows) == 0 || (len(rows) == 1 && rows["nosuch"] != nil) {
			empty++
		}
		comment := ""
		if r.IntN(2) == 0 {
			comment = fmt.Sprintf("compacting database online %d \"q\"", i)
		}
		want := cjson.Marshal(snapshotJSON(s, rows, comment, now))
		got := appendSnapshot([]byte("prefix"), s, rows, comment, now)
		require.Equal(t, "prefix"+string(want), string(got), "case %d", i)
	}
	require.Greater(t, empty, 0, "no empty database among the cases")
}

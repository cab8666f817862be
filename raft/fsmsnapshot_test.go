package raft

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

const snapEncSchemaJSON = `{"name":"S","version":"1.0.0","tables":{
 "R":{"columns":{"s":{"type":"string"},"i":{"type":"integer"},"f":{"type":"real"},"b":{"type":"boolean"},
  "o":{"type":{"key":"string","min":0,"max":1}},
  "set":{"type":{"key":"integer","min":0,"max":"unlimited"}},
  "m":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},
  "ref":{"type":{"key":{"type":"uuid","refTable":"R","refType":"weak"},"min":0,"max":"unlimited"}},
  "e":{"type":{"key":{"type":"string","enum":["set",["a","b"]]}}},
  "Z":{"type":"string"},"a_":{"type":"integer"}},"isRoot":true}}}`

// TestSnapshotRowEncoding: snapshotEnc.appendRow writes each row exactly
// as cjson.Marshal of the map of its columns (_version always, others
// unless default) to schema.DatumToJSON, the form Restore reads.
func TestSnapshotRowEncoding(t *testing.T) {
	s, err := schema.ParseSchemaBytes([]byte(snapEncSchemaJSON))
	require.NoError(t, err)
	db := ovsdb.NewDatabase(s, nil)
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 300; i++ {
		row := map[string]any{}
		if r.IntN(2) == 0 {
			row["s"] = fmt.Sprintf("s%d \"q\" \\ é", r.IntN(100))
		}
		if r.IntN(2) == 0 {
			row["i"] = r.IntN(1000) - 500
		}
		if r.IntN(2) == 0 {
			row["f"] = r.Float64()*100 - 50
		}
		if r.IntN(2) == 0 {
			row["b"] = true
		}
		if r.IntN(2) == 0 {
			row["o"] = []any{"set", []any{"x"}}
		}
		if n := r.IntN(4); n > 0 {
			var es []any
			for j := 0; j < n; j++ {
				es = append(es, j*7-3)
			}
			row["set"] = []any{"set", es}
		}
		if n := r.IntN(3); n > 0 {
			var ps []any
			for j := 0; j < n; j++ {
				ps = append(ps, []any{fmt.Sprintf("k%d", j), fmt.Sprintf("v%d", r.IntN(9))})
			}
			row["m"] = []any{"map", ps}
		}
		row["e"] = []string{"a", "b"}[r.IntN(2)] // the default ("") is not allowed
		res := db.Transact(context.Background(), []any{map[string]any{"op": "insert", "table": "R", "row": row}}, ovsdb.TransactOptions{})
		require.NotContains(t, cjson.String(res), "error", "row %v", row)
	}
	ts := s.Table("R")
	enc := snapshotEncFor(ts)
	n := 0
	db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
		for _, row := range tables["R"] {
			want := map[string]any{}
			for _, c := range ts.Columns[1:] {
				d := row.Field(c.Index)
				if c.Index > 1 && d.Equal(schema.DefaultDatum(&c.Type)) {
					continue
				}
				want[c.Name] = schema.DatumToJSON(&c.Type, d)
			}
			require.Equal(t, string(cjson.Marshal(want)), string(enc.appendRow(nil, row)))
			n++
		}
	})
	require.Equal(t, 300, n)
}

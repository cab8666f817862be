package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// indexOrderSchema has one unique index on "k". In C's hash order of its
// columns, "v" comes before _version and _uuid: two rows that collide on
// "k" and differ in "v" are named in an order that does not depend on
// random UUIDs, so C's unique-index message can be compared word for word.
const indexOrderSchema = `{"name": "Ix", "version": "1.0.0", "tables": {"Ix": {
  "columns": {"k": {"type": "string"}, "v": {"type": "integer"}, "w": {"type": "string"}},
  "indexes": [["k"]], "isRoot": true}}}`

// TestIndexViolationOrder checks which row a unique index violation names
// first (C: the greater row, comparing columns in C's hash order). Rows get
// UUIDs chosen by the request, so both servers' replies are identical.
func TestIndexViolationOrder(t *testing.T) {
	refBin, testBin := implementations(t)
	dir := t.TempDir()
	schemaPath := filepath.Join(dir, "ix.ovsschema")
	require.NoError(t, os.WriteFile(schemaPath, []byte(indexOrderSchema), 0o644))
	orig := filepath.Join(dir, "ix.db")
	out, err := exec.Command("ovsdb-tool", "create", orig, schemaPath).CombinedOutput()
	require.NoError(t, err, "%s", out)
	srv := [2]*server{
		startServer(t, "C", refBin, filepath.Join(dir, "c"), orig),
		startServer(t, "Go", testBin, filepath.Join(dir, "go"), orig),
	}
	conns := [2]*rpcClient{dial(t, srv[0].sock), dial(t, srv[1].sock)}
	ins := func(id, k string, v int) map[string]any {
		return map[string]any{"op": "insert", "table": "Ix", "uuid": id, "row": map[string]any{"k": k, "v": v}}
	}
	upd := func(k string, row map[string]any) map[string]any {
		return map[string]any{"op": "update", "table": "Ix", "where": []any{[]any{"k", "==", k}}, "row": row}
	}
	const (
		u1 = "10000000-0000-4000-8000-000000000001"
		u2 = "20000000-0000-4000-8000-000000000002"
		u3 = "30000000-0000-4000-8000-000000000003"
		u4 = "40000000-0000-4000-8000-000000000004"
		u5 = "50000000-0000-4000-8000-000000000005"
		u6 = "60000000-0000-4000-8000-000000000006"
		u7 = "70000000-0000-4000-8000-000000000007"
	)
	txns := [][]any{
		{ins(u1, "a", 1), ins(u2, "a", 2)},
		{ins(u1, "a", 2), ins(u2, "a", 1)},
		{ins(u2, "a", 1), ins(u1, "a", 2)},
		{ins(u3, "b", 5), ins(u4, "c", 1), ins(u5, "d", 7), ins(u6, "e", 4)},
		{ins(u1, "b", 3)},
		{ins(u1, "b", 9)},
		{ins(u1, "c", 0)},
		{upd("d", map[string]any{"k": "c"})},
		{upd("c", map[string]any{"k": "d"})},
		{upd("e", map[string]any{"k": "b", "w": "x"})},
		{upd("b", map[string]any{"w": "y"}), ins(u7, "b", 6)},
		{upd("b", map[string]any{"w": "y"}), ins(u7, "b", 2)},
	}
	for i, ops := range txns {
		var got [2]string
		for side, c := range conns {
			raw, _, err := c.call("transact", append([]any{"Ix"}, ops...))
			require.NoError(t, err)
			v, err := decode(raw)
			require.NoError(t, err)
			got[side] = canon(v)
		}
		require.Equal(t, got[0], got[1], "transaction %d: %s", i, canon(ops))
	}
}

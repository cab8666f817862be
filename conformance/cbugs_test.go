package conformance

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCMultiplyByZeroCrash covers the one request the differential suite
// cannot compare: C ovsdb-server 3.1 dies with SIGFPE on ["n","*=",0] when
// n is negative (its overflow check divides by the factor). Our server must
// answer it like any other multiplication. Only our server is run.
func TestCMultiplyByZeroCrash(t *testing.T) {
	ref, bin := implementations(t)
	if bin == ref {
		t.Skip("CONFORMANCE_IMPL=c: the C server crashes on this request")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "orig.db")
	createDB(t, db)
	srv := startServer(t, "Go", bin, filepath.Join(dir, "go"), db)
	c := dial(t, srv.sock)
	n := newNormalizer()
	tx := func(ops ...any) any {
		raw, _, err := c.call("transact", append([]any{dbName}, ops...))
		require.NoError(t, err)
		v, err := decode(raw)
		require.NoError(t, err)
		n.registerInserts(v)
		return n.normalize(v)
	}
	tx(map[string]any{"op": "insert", "table": "Target", "row": map[string]any{"n": -7}})
	got := tx(map[string]any{"op": "mutate", "table": "Target", "where": []any{}, "mutations": []any{[]any{"n", "*=", 0}}},
		map[string]any{"op": "select", "table": "Target", "where": []any{}, "columns": []any{"n"}})
	require.Equal(t, `{"error":null,"id":2,"result":[{"count":1},{"rows":[{"n":0}]}]}`, canon(got))
}

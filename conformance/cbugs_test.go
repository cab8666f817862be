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

// startOurs starts only our server on a fresh copy of the test database
// (for behaviours listed in DIFFERENCES.md that cannot be compared with C).
func startOurs(t *testing.T) *server {
	t.Helper()
	ref, bin := implementations(t)
	if bin == ref {
		t.Skip("CONFORMANCE_IMPL=c: a behaviour of our server only")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "orig.db")
	createDB(t, db)
	return startServer(t, "Go", bin, filepath.Join(dir, "go"), db)
}

// normCall sends a request and returns the normalised reply and the
// normalised notifications received before it.
func normCall(t *testing.T, c *rpcClient, n *normalizer, method string, params any) (any, []any) {
	t.Helper()
	raw, notes, err := c.call(method, params)
	require.NoError(t, err, "%s %v", method, params)
	v, err := decode(raw)
	require.NoError(t, err)
	n.registerInserts(v)
	out, err := normalizeNotes(n, notes)
	require.NoError(t, err)
	return n.normalize(v), out
}

// TestSharedMonitorShapeConditionColumns: two sessions whose monitors have
// the same table, columns and select but conditions on different columns.
// C 3.1 shares one internal monitor between them and crashed (SIGSEGV) on
// a commit that changes the other session's condition column
// (DIFFERENCES.md). Ours keeps condition columns per monitor: each session
// gets exactly its own updates.
func TestSharedMonitorShapeConditionColumns(t *testing.T) {
	srv := startOurs(t)
	n := newNormalizer()
	a, b, w := dial(t, srv.sock), dial(t, srv.sock), dial(t, srv.sock)
	tx := func(ops ...any) any {
		v, _ := normCall(t, w, n, "transact", append([]any{dbName}, ops...))
		return v
	}
	tx(map[string]any{"op": "insert", "table": "Target", "row": map[string]any{"name": "x", "n": 1}})
	mon := func(c *rpcClient, where []any) {
		v, _ := normCall(t, c, n, "monitor_cond", []any{dbName, "m", map[string]any{
			"Target": []any{map[string]any{"columns": []any{"name"}, "where": where}}}})
		require.Nil(t, v.(map[string]any)["error"], "%v", v)
	}
	mon(a, []any{[]any{"name", "==", "x"}})
	mon(b, []any{[]any{"n", "==", 1}})
	// Change n: the row leaves b's condition and stays in a's (which does
	// not monitor n: nothing to send to a).
	tx(map[string]any{"op": "update", "table": "Target", "where": []any{}, "row": map[string]any{"n": 2}})
	_, notesA := normCall(t, a, n, "echo", []any{})
	_, notesB := normCall(t, b, n, "echo", []any{})
	require.Empty(t, notesA)
	require.Equal(t, `[{"id":null,"method":"update2","params":["m",{"Target":{"<u1>":{"delete":null}}}]}]`, canon(notesB))
	// The server still serves both.
	tx(map[string]any{"op": "update", "table": "Target", "where": []any{}, "row": map[string]any{"name": "y"}})
	_, notesA = normCall(t, a, n, "echo", []any{})
	require.Equal(t, `[{"id":null,"method":"update2","params":["m",{"Target":{"<u1>":{"delete":null}}}]}]`, canon(notesA))
}

// TestFailedCondChangeAppliesNothing: a monitor_cond_change whose request
// for a later table is bad fails as a whole. C 3.1 has already replaced the
// conditions of the tables before it, without sending their updates
// (DIFFERENCES.md); ours keeps every condition.
func TestFailedCondChangeAppliesNothing(t *testing.T) {
	srv := startOurs(t)
	n := newNormalizer()
	c, w := dial(t, srv.sock), dial(t, srv.sock)
	normCall(t, w, n, "transact", []any{dbName,
		map[string]any{"op": "insert", "table": "Target", "row": map[string]any{"name": "x", "n": 1}},
		map[string]any{"op": "insert", "table": "Target", "row": map[string]any{"name": "y", "n": 2}}})
	v, _ := normCall(t, c, n, "monitor_cond", []any{dbName, "m", map[string]any{
		"Target": []any{map[string]any{"columns": []any{"name"}, "where": []any{[]any{"name", "==", "x"}}}},
		"Parent": []any{map[string]any{"columns": []any{"name"}}}}})
	require.Nil(t, v.(map[string]any)["error"], "%v", v)
	v, notes := normCall(t, c, n, "monitor_cond_change", []any{"m", "m", map[string]any{
		"Target": []any{map[string]any{"where": []any{[]any{"name", "==", "y"}}}},
		"Parent": []any{map[string]any{"where": []any{[]any{"nosuch", "==", 1}}}}}})
	require.NotNil(t, v.(map[string]any)["error"], "%v", v)
	require.Empty(t, notes)
	// Target's condition is still name == x: a change to x is sent, one to y
	// is not.
	normCall(t, w, n, "transact", []any{dbName,
		map[string]any{"op": "update", "table": "Target", "where": []any{[]any{"name", "==", "y"}}, "row": map[string]any{"n": 20}},
		map[string]any{"op": "update", "table": "Target", "where": []any{[]any{"name", "==", "x"}}, "row": map[string]any{"name": "x", "n": 10}}})
	normCall(t, w, n, "transact", []any{dbName,
		map[string]any{"op": "delete", "table": "Target", "where": []any{[]any{"name", "==", "x"}}}})
	_, notes = normCall(t, c, n, "echo", []any{})
	require.Equal(t, `[{"id":null,"method":"update2","params":["m",{"Target":{"<u1>":{"delete":null}}}]}]`, canon(notes))
}

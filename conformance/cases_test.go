package conformance

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// minCompared is the contract's lower bound on requests compared by the
// hand-written cases and the random generator together.
const minCompared = 400

// TestCases runs every hand-written case file in testdata/cases against
// fresh copies of the test database on both servers.
func TestCases(t *testing.T) {
	files, err := filepath.Glob("testdata/cases/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	sort.Strings(files)
	total := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		cf, err := parseCaseFile(f)
		require.NoError(t, err)
		require.NotEmpty(t, cf.Reqs, f)
		total += len(cf.Reqs)
		t.Run(name, func(t *testing.T) {
			ref, test := startPair(t)
			s := newSession(t, name, ref, test)
			s.multi = cf.Multi
			for i, r := range cf.Reqs {
				s.compare(fmt.Sprintf("%s#%d", name, i), r)
			}
			t.Logf("%s: %d requests compared, %d differ", name, s.compared, s.differ)
		})
	}
	t.Logf("hand-written cases: %d requests in %d files", total, len(files))
}

// TestRequestCount checks the contract's minimum number of requests that the
// suite compares: the hand-written case files plus the random generator.
func TestRequestCount(t *testing.T) {
	files, err := filepath.Glob("testdata/cases/*.json")
	require.NoError(t, err)
	n := 0
	for _, f := range files {
		cf, err := parseCaseFile(f)
		require.NoError(t, err)
		n += len(cf.Reqs)
	}
	n += randomCount()
	require.GreaterOrEqual(t, n, minCompared, "hand-written + random requests")
}

// TestCMonitorCrashes covers requests that the differential suite cannot
// compare because C ovsdb-server 3.1 dies with SIGSEGV on them: "monitor"
// with params [db] or [db, id] (no monitor-requests), and
// "monitor_cond_change" with a table request that has no "where", and
// "convert" of the _Server database (C aborts). Our
// server must answer them and keep serving. Only our server is run.
func TestCMonitorCrashes(t *testing.T) {
	ref, bin := implementations(t)
	if bin == ref {
		t.Skip("CONFORMANCE_IMPL=c: the C server crashes on these requests")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "orig.db")
	createDB(t, db)
	srv := startServer(t, "Go", bin, filepath.Join(dir, "go"), db)
	c := dial(t, srv.sock)
	call := func(method string, params []any) map[string]any {
		raw, notes, err := c.call(method, params)
		require.NoError(t, err, "%s %v", method, params)
		require.Empty(t, notes)
		v, err := decode(raw)
		require.NoError(t, err)
		return v.(map[string]any)
	}
	tests := []struct {
		method  string
		params  []any
		wantErr bool
	}{
		{"monitor", []any{dbName}, true},
		{"monitor", []any{dbName, "id"}, true},
		{"monitor", []any{dbName, nil}, true},
		{"monitor_cond", []any{dbName, "m", map[string]any{"Target": []any{map[string]any{}}}}, false},
		// No "where": the condition is unchanged (RFC 7047 extension:
		// "where" is optional), so the change succeeds.
		{"monitor_cond_change", []any{"m", "m2", map[string]any{"Target": []any{map[string]any{}}}}, false},
		{"monitor_cancel", []any{"m2"}, false},
		{"convert", []any{"_Server", map[string]any{"name": "_Server", "tables": map[string]any{}}}, true},
	}
	for _, tc := range tests {
		m := call(tc.method, tc.params)
		if tc.wantErr {
			require.Nil(t, m["result"], "%s %v: %v", tc.method, tc.params, m)
			require.NotNil(t, m["error"], "%s %v: %v", tc.method, tc.params, m)
		} else {
			require.Nil(t, m["error"], "%s %v: %v", tc.method, tc.params, m)
		}
	}
	m := call("echo", []any{"alive"})
	require.Equal(t, []any{"alive"}, m["result"])
}

package conformance

import (
	"fmt"
	"os"
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

// TestSortUpdateRuns checks that updates of different monitors are ordered
// by monitor id while updates of one monitor and other notifications keep
// their order.
func TestSortUpdateRuns(t *testing.T) {
	note := func(method string, params ...any) any {
		return map[string]any{"id": nil, "method": method, "params": params}
	}
	in := []any{note("update2", "b", 1), note("update2", "a", 1), note("update2", "b", 2),
		note("locked", "L"), note("update", "z", 1), note("update", "y", 1)}
	want := []any{note("update2", "a", 1), note("update2", "b", 1), note("update2", "b", 2),
		note("locked", "L"), note("update", "y", 1), note("update", "z", 1)}
	sortUpdateRuns(in)
	require.Equal(t, canon(want), canon(in))
}

// TestParseCaseFileConnections checks the multi-connection elements of a
// case file and their errors.
func TestParseCaseFileConnections(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		want  []request
		multi bool
		err   bool
	}{
		{"plain", `[[{"op":"comment","comment":"x"}], {"method":"echo","params":[]}]`,
			[]request{{Method: "transact", Params: []any{dbName, map[string]any{"op": "comment", "comment": "x"}}}, {Method: "echo", Params: []any{}}}, false, false},
		{"conn and ops", `[{"conn":2,"ops":[]}, {"conn":1,"method":"lock","params":["A"]}, {"close":1}]`,
			[]request{{Method: "transact", Params: []any{dbName}, Conn: 2}, {Method: "lock", Params: []any{"A"}, Conn: 1}, {Conn: 1, Close: true}}, true, false},
		{"bad conn", `[{"conn":"x","method":"echo"}]`, nil, false, true},
		{"close with extra", `[{"close":1,"method":"echo"}]`, nil, false, true},
		{"no method", `[{"conn":1}]`, nil, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.json")
			require.NoError(t, os.WriteFile(p, []byte(tc.text), 0o644))
			cf, err := parseCaseFile(p)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.multi, cf.Multi)
			require.Equal(t, canon(tc.want), canon(cf.Reqs))
		})
	}
}

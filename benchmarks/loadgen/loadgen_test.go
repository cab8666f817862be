package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// testSchema is a small schema of our own so the test does not depend on
// the OVN packages.
const testSchema = `{"name":"LoadTest","version":"1.0.0","tables":{
  "Item":{"columns":{"name":{"type":"string"}},"isRoot":true}}}`

func writeSchema(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "load.ovsschema")
	require.NoError(t, os.WriteFile(p, []byte(testSchema), 0o644))
	return p
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		name           string
		in             []time.Duration
		p50, p99, mean float64
	}{
		{"empty", nil, 0, 0, 0},
		{"one", ms(3), 3000, 3000, 3000},
		{"unsorted", ms(4, 1, 3, 2), 2000, 4000, 2500},
		{"hundred", func() []time.Duration {
			var d []time.Duration
			for i := 100; i >= 1; i-- {
				d = append(d, time.Duration(i)*time.Millisecond)
			}
			return d
		}(), 50000, 99000, 50500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p50, p99, mean := latencyStats(tc.in)
			require.Equal(t, tc.p50, p50)
			require.Equal(t, tc.p99, p99)
			require.InDelta(t, tc.mean, mean, 1e-9)
		})
	}
}

func TestCheckInsertResult(t *testing.T) {
	tests := []struct {
		name   string
		result string
		n      int
		ok     bool
	}{
		{"one", `[{"uuid":["uuid","7b8f3d00-3323-4c31-9245-c2d46b9505e4"]}]`, 1, true},
		{"two", `[{"uuid":["uuid","7b8f3d00-3323-4c31-9245-c2d46b9505e4"]},{"uuid":["uuid","7b8f3d00-3323-4c31-9245-c2d46b9505e5"]}]`, 2, true},
		{"short", `[{"uuid":["uuid","7b8f3d00-3323-4c31-9245-c2d46b9505e4"]}]`, 2, false},
		{"op error", `[{"error":"constraint violation","details":"x"}]`, 1, false},
		{"commit error", `[{"uuid":["uuid","7b8f3d00-3323-4c31-9245-c2d46b9505e4"]},{"error":"I/O error"}]`, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkInsertResult(json.RawMessage(tc.result), tc.n)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, errOpFailed)
			}
		})
	}
}

func TestMedianRun(t *testing.T) {
	one := MedianRun([]Result{{TxnPerSec: 5, P50Micros: 1}})
	require.Equal(t, 1, one.Rounds)
	require.Nil(t, one.TxnPerSecRuns)
	m := MedianRun([]Result{{TxnPerSec: 30, P50Micros: 3}, {TxnPerSec: 10, P50Micros: 1}, {TxnPerSec: 20, P50Micros: 2}})
	require.Equal(t, 20.0, m.TxnPerSec)
	require.Equal(t, 2.0, m.P50Micros)
	require.Equal(t, 3, m.Rounds)
	require.Equal(t, []float64{30, 10, 20}, m.TxnPerSecRuns)
	even := MedianRun([]Result{{TxnPerSec: 40}, {TxnPerSec: 10}})
	require.Equal(t, 10.0, even.TxnPerSec)
}

func TestBuildParams(t *testing.T) {
	raw, err := buildParams("DB", "T", "c", "p", 3)
	require.NoError(t, err)
	var got []any
	require.NoError(t, json.Unmarshal(raw, &got))
	require.Len(t, got, 4)
	require.Equal(t, "DB", got[0])
	require.Equal(t, map[string]any{"op": "insert", "table": "T", "row": map[string]any{"c": "p-2"}}, got[3])
}

func TestWriteTablesRatios(t *testing.T) {
	results := []Result{
		{Server: "c", Workload: "insert1", Clients: 8, TxnPerSec: 1000, P50Micros: 200, P99Micros: 400, Txns: 3000, ServerCPU: 0.12},
		{Server: "ours", Workload: "insert1", Clients: 8, TxnPerSec: 2500, P50Micros: 100, P99Micros: 800, Txns: 7500, ServerCPU: 0.15},
		{Server: "c", Workload: "insert1", Clients: 32, TxnPerSec: 1000, TxnPerSecRuns: []float64{900, 1000, 1100}},
	}
	var buf bytes.Buffer
	require.NoError(t, WriteTables(&buf, results, "c", "ours"))
	out := buf.String()
	require.Contains(t, out, "workload insert1")
	require.Contains(t, out, "ours/c txn/s")
	require.Contains(t, out, "2.50x")
	require.Contains(t, out, "0.50x")
	require.Contains(t, out, "2.00x")
	// CPU per transaction: 40 us for C, 20 us for ours, ratio 0.50x.
	require.Contains(t, out, "ours us/txn")
	require.Contains(t, out, "ours/c cpu/txn")
	require.Regexp(t, `40\.0 +0 +2500 +0 +0\.100 +0\.800 +0\.15 +20\.0 +0 +2\.50x +0\.50x +2\.00x +0\.50x`, out)
	require.Contains(t, out, "c insert1 clients=32: txn/s per round 900 1000 1100")
}

// TestRunAgainstC drives the real C server briefly through the whole
// harness: start, clients, stop. It checks counts and consistency, not
// speed.
func TestRunAgainstC(t *testing.T) {
	srv := testutil.RequireTool(t, "ovsdb-server")
	tool := testutil.RequireTool(t, "ovsdb-tool")
	schema := writeSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	results, err := Run(ctx, Options{
		Servers:    []ServerSpec{{Name: "c", Binary: srv}},
		Clients:    []int{1, 4},
		Rounds:     1,
		Workloads:  []Workload{{Name: "insert1", RowsPerTxn: 1}, {Name: "insert10", RowsPerTxn: 10}},
		Duration:   300 * time.Millisecond,
		Warmup:     50 * time.Millisecond,
		Tool:       tool,
		SchemaPath: schema,
		Table:      "Item",
		Column:     "name",
		Unixctl:    true,
		TempDir:    t.TempDir(),
	})
	require.NoError(t, err)
	require.Len(t, results, 4)
	for _, r := range results {
		require.Equal(t, "c", r.Server)
		require.Zero(t, r.Errors, r.FirstError)
		require.Positive(t, r.Txns, "%s/%d", r.Workload, r.Clients)
		require.Equal(t, r.Txns*int64(r.RowsPerTxn), r.Rows)
		require.Positive(t, r.P50Micros)
		require.LessOrEqual(t, r.P50Micros, r.P99Micros)
		require.Positive(t, r.Seconds)
	}
}

// TestStartStop checks that the started server answers and that Stop
// terminates exactly that process and removes its directory.
func TestStartStop(t *testing.T) {
	srv := testutil.RequireTool(t, "ovsdb-server")
	tool := testutil.RequireTool(t, "ovsdb-tool")
	p, err := Start(context.Background(), t.TempDir(), StartOptions{
		Binary: srv, Tool: tool, SchemaPath: writeSchema(t), Unixctl: true,
	})
	require.NoError(t, err)
	c, err := Dial(p.Socket, 5*time.Second)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	res, err := c.Call("list_dbs", json.RawMessage("[]"))
	require.NoError(t, err)
	var dbs []string
	require.NoError(t, json.Unmarshal(res, &dbs))
	require.Contains(t, dbs, "LoadTest")
	_, err = c.Call("transact", json.RawMessage(`["Nope"]`))
	require.Error(t, err, "unknown database must be an RPC error")
	require.NoError(t, c.Close())
	p.Stop()
	require.True(t, p.Exited())
	_, err = os.Stat(p.Dir)
	require.True(t, os.IsNotExist(err))
}

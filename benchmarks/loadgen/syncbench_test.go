package loadgen

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

func TestKeysIn(t *testing.T) {
	msg := []byte(`{"method":"update2","params":["m",{"Logical_Switch":{"a":{"insert":{"name":"lag-7"}},` +
		`"b":{"insert":{"name":"lag-12"}},"c":{"insert":{"name":"other-3"}},"d":{"insert":{"name":"lag-x"}}}}]}`)
	require.Equal(t, []int{7, 12}, keysIn(nil, msg, "lag-"))
	require.Empty(t, keysIn(nil, []byte(`{"name":"lag-"}`), "lag-"))
}

// TestSyncBenchAgainstC runs both measurements briefly with C's server as
// active and backup: the harness itself, not a figure.
func TestSyncBenchAgainstC(t *testing.T) {
	srv := testutil.RequireTool(t, "ovsdb-server")
	tool := testutil.RequireTool(t, "ovsdb-tool")
	if _, err := os.Stat(DefaultSchema); err != nil {
		testutil.MissingPrerequisite(t, "%s: %v", DefaultSchema, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := ServerSpec{Name: "c", Binary: srv}
	so := StartOptions{Tool: tool, SchemaPath: DefaultSchema, Unixctl: true, StartTimeout: 30 * time.Second}
	tmp := t.TempDir()
	lag, err := RunLag(ctx, SyncPair{Active: spec, Backup: spec}, LagOptions{Start: so, TempDir: tmp, Rate: 200,
		Duration: time.Second, Warmup: 200 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, "c->c", lag.Pair)
	require.Equal(t, 200, lag.Txns)
	require.Greater(t, lag.SendP50Micros, 0.0)

	alone, err := RunLag(ctx, SyncPair{Active: spec}, LagOptions{Start: so, TempDir: tmp, Rate: 200,
		Duration: 500 * time.Millisecond, Warmup: 100 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, "c->none", alone.Pair)
	require.Equal(t, 100, alone.Txns)
	require.Zero(t, alone.P50Micros)

	a, err := StartLoadedActive(ctx, spec, so, tmp, LoadOptions{Switches: 3, PortsPerSwitch: 10})
	require.NoError(t, err)
	defer a.Stop()
	res, err := RunInitialSync(ctx, a, spec, so, tmp)
	require.NoError(t, err)
	require.Equal(t, 30, res.Ports)
	require.Greater(t, res.Millis, 0.0)
}

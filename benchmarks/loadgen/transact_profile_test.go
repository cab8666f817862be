package loadgen

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestProfileTransactInProcess drives our standalone server, embedded in
// the test process, with one client sending insert1 transactions one at a
// time (loadgen's single-client cell) and writes to the directory named
// by TRANSACT_PROFILE_DIR (skipped when unset):
//
//	trace.out         runtime/trace of 200 transactions (go tool trace)
//	cpu.pb.gz         CPU profile of TRANSACT_PROFILE_N transactions (default 20000)
//	allocs.pb.gz      allocation profile (every allocation sampled) of 2000 transactions
//
// TRANSACT_PROFILE_ROWS sets the inserts per transaction (default 1: insert1;
// 100: insert100).
//
// and logs the allocations and bytes per transaction (client and server
// together: focus the profile on the server's packages to separate them):
//
//	TRANSACT_PROFILE_DIR=/tmp/prof go test -run TestProfileTransactInProcess -v ./benchmarks/loadgen/
//	go tool pprof -sample_index=alloc_objects -top -focus 'ovsdb-server/(jsonrpc|server|ovsdb|internal|storage)' /tmp/prof/allocs.pb.gz
func TestProfileTransactInProcess(t *testing.T) {
	out := os.Getenv("TRANSACT_PROFILE_DIR")
	if out == "" {
		t.Skip("set TRANSACT_PROFILE_DIR to write profiles")
	}
	n := envInt(t, "TRANSACT_PROFILE_N", 20000)
	rows := envInt(t, "TRANSACT_PROFILE_ROWS", 1)
	require.NoError(t, os.MkdirAll(out, 0o755))
	sock := embeddedNB(t)
	c, err := Dial(sock, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	seq := 0
	txns := func(k int) {
		for range k {
			seq++
			params, err := buildParams("OVN_Northbound", "Logical_Switch", "name", fmt.Sprintf("p%d", seq), rows)
			require.NoError(t, err)
			res, err := c.Call("transact", params)
			require.NoError(t, err)
			require.NoError(t, checkInsertResult(res, rows))
		}
	}
	txns(2000 / rows) // warm-up

	f, err := os.Create(filepath.Join(out, "trace.out"))
	require.NoError(t, err)
	require.NoError(t, trace.Start(f))
	txns(max(200/rows, 20))
	trace.Stop()
	require.NoError(t, f.Close())

	f, err = os.Create(filepath.Join(out, "cpu.pb.gz"))
	require.NoError(t, err)
	require.NoError(t, pprof.StartCPUProfile(f))
	start := time.Now()
	txns(n)
	elapsed := time.Since(start)
	pprof.StopCPUProfile()
	require.NoError(t, f.Close())
	t.Logf("%d transactions, %.1f us each (client and server in one process)", n, float64(elapsed.Microseconds())/float64(n))

	runtime.GC()
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	na := max(2000/rows, 50)
	txns(na)
	runtime.ReadMemStats(&m1)
	runtime.MemProfileRate = old
	f, err = os.Create(filepath.Join(out, "allocs.pb.gz"))
	require.NoError(t, err)
	require.NoError(t, pprof.Lookup("allocs").WriteTo(f, 0))
	require.NoError(t, f.Close())
	t.Logf("per transaction, client and server: %.1f allocations, %.0f bytes",
		float64(m1.Mallocs-m0.Mallocs)/float64(na), float64(m1.TotalAlloc-m0.TotalAlloc)/float64(na))
}

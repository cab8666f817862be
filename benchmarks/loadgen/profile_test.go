package loadgen

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/ovsdb-go/ovsdb-server/server"
)

// TestProfileOursInProcess runs the monitor workloads against our server
// embedded in the test process and writes pprof profiles to the directory
// named by MONBENCH_PROFILE_DIR (skipped when unset; it takes tens of
// seconds):
//
//	heap-loaded.pb.gz    in-use heap after loading the NB database
//	heap-monitors.pb.gz  in-use heap after the initial monitor replies
//	cpu-initial.pb.gz    CPU during the initial monitor replies
//	cpu-fanout.pb.gz     CPU during a 1000-client fan-out
//
// MONBENCH_PROFILE_PORTS sets ports per switch (default 1000, 50 switches).
//
//	MONBENCH_PROFILE_DIR=/tmp/prof go test -run TestProfileOursInProcess -v ./benchmarks/loadgen/
//	go tool pprof -top -sample_index=inuse_space /tmp/prof/heap-loaded.pb.gz
//
// embeddedNB serves a fresh NB database (made by C's ovsdb-tool) from our
// server embedded in the test process, until the test ends, and returns
// its unix socket.
func embeddedNB(t *testing.T) string {
	tool := testutil.RequireTool(t, "ovsdb-tool")
	const nbSchema = "/usr/share/ovn/ovn-nb.ovsschema"
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "nb.db")
	outb, err := exec.Command(tool, "create", dbPath, nbSchema).CombinedOutput()
	require.NoError(t, err, string(outb))
	srv := server.New(server.Options{})
	t.Cleanup(func() { srv.Close() })
	require.NoError(t, srv.AddDatabase(dbPath))
	sock := filepath.Join(dir, "db.sock")
	require.NoError(t, srv.AddRemote("punix:"+sock))
	return sock
}

// envInt is the integer in environment variable name, or def if unset.
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var n int
	_, err := fmt.Sscan(v, &n)
	require.NoError(t, err, name)
	return n
}

func TestProfileOursInProcess(t *testing.T) {
	out := os.Getenv("MONBENCH_PROFILE_DIR")
	if out == "" {
		t.Skip("set MONBENCH_PROFILE_DIR to write profiles")
	}
	_, err := RaiseFDLimit()
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(out, 0o755))
	sock := embeddedNB(t)

	// Fan-out first, on the empty database (as monbench measures it);
	// the CPU profile covers only the measured transactions.
	func() {
		f, err := os.Create(filepath.Join(out, "cpu-fanout.pb.gz"))
		require.NoError(t, err)
		defer f.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		lat, err := FanoutOn(ctx, sock, FanoutOptions{Clients: 1000, Txns: 50, Warmup: 5}, func() {
			require.NoError(t, pprof.StartCPUProfile(f))
		})
		pprof.StopCPUProfile()
		require.NoError(t, err)
		require.Len(t, lat, 50)
		t.Logf("fanout p50 %v", medianDuration(lat))
	}()

	load := LoadOptions{Switches: 50, PortsPerSwitch: envInt(t, "MONBENCH_PROFILE_PORTS", 1000)}
	require.NoError(t, LoadNB(sock, load))
	writeHeap := func(name string) {
		runtime.GC()
		f, err := os.Create(filepath.Join(out, name))
		require.NoError(t, err)
		defer f.Close()
		require.NoError(t, pprof.Lookup("heap").WriteTo(f, 0))
	}
	writeHeap("heap-loaded.pb.gz")

	cpu := func(name string, fn func()) {
		f, err := os.Create(filepath.Join(out, name))
		require.NoError(t, err)
		defer f.Close()
		require.NoError(t, pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
		fn()
	}
	cpu("cpu-initial.pb.gz", func() {
		for range 3 {
			d, n, err := timeInitialMonitor(sock, load.Ports())
			require.NoError(t, err)
			t.Logf("initial monitor: %v, %d bytes", d, n)
		}
	})
	writeHeap("heap-monitors.pb.gz")
}

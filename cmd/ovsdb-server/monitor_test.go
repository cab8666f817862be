package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestDetachMonitor: with --detach --monitor a crashed daemon is restarted
// under a new pid that serves, and a terminated one takes the monitor
// with it.
func TestDetachMonitor(t *testing.T) {
	tool := testutil.RequireTool(t, "ovsdb-tool")
	appctl := testutil.RequireTool(t, "ovs-appctl")
	bin := buildBinary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "conf.db")
	require.Equal(t, 0, runCmd(t, tool, "create", db, "/usr/share/openvswitch/vswitch.ovsschema").status)
	pidfile := filepath.Join(dir, "ovsdb-server.pid")
	ctl := filepath.Join(dir, "ctl")
	logFile := filepath.Join(dir, "ovsdb-server.log")

	cmd := exec.Command(bin, "--detach", "--monitor", "--pidfile="+pidfile, "--unixctl="+ctl,
		"--log-file="+logFile, "--remote=punix:"+filepath.Join(dir, "db.sock"), db)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))

	var started []int
	t.Cleanup(func() {
		for _, pid := range started {
			if testutil.ProcAlive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	waitPid := func(not int) int { return testutil.WaitPidfile(t, pidfile, not) }

	daemon1 := waitPid(0)
	monitor := testutil.ProcParent(t, daemon1)
	started = append(started, daemon1, monitor)
	require.NotEqual(t, cmd.Process.Pid, monitor, "the foreground process exited")
	require.Equal(t, result{versionText + "\n", "", 0}, runCmd(t, appctl, "-t", ctl, "version"))

	require.NoError(t, syscall.Kill(daemon1, syscall.SIGSEGV))
	daemon2 := waitPid(daemon1)
	started = append(started, daemon2)
	require.Equal(t, monitor, testutil.ProcParent(t, daemon2))
	// The new daemon serves: its control socket answers (bounded wait for
	// it to replace the old one).
	require.Eventually(t, func() bool {
		return runCmd(t, appctl, "-t", ctl, "version") == result{versionText + "\n", "", 0}
	}, 20*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		data, err := os.ReadFile(logFile)
		return err == nil && strings.Contains(string(data),
			"|daemon_unix(monitor)|ERR|1 crashes: pid "+strconv.Itoa(daemon1)+" died, ")
	}, 20*time.Second, 20*time.Millisecond, "the monitor logs the crash")

	require.NoError(t, syscall.Kill(daemon2, syscall.SIGTERM))
	require.Eventually(t, func() bool { return !testutil.ProcAlive(daemon2) && !testutil.ProcAlive(monitor) },
		20*time.Second, 20*time.Millisecond, "the monitor exits with its daemon")
	data, err := os.ReadFile(logFile)
	require.NoError(t, err)
	require.Contains(t, string(data), "|daemon_unix(monitor)|INFO|pid "+strconv.Itoa(daemon2)+" died, exit status 0, exiting")
}

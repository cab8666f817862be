package daemon

import (
	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestShouldRestartAndStatusMessage(t *testing.T) {
	// Wait statuses as the kernel encodes them.
	exited := func(code int) syscall.WaitStatus { return syscall.WaitStatus(code << 8) }
	signaled := func(s syscall.Signal) syscall.WaitStatus { return syscall.WaitStatus(s) }
	tests := []struct {
		ws      syscall.WaitStatus
		restart bool
		msg     string
	}{
		{exited(0), false, "exit status 0"},
		{exited(1), false, "exit status 1"},
		{exited(2), true, "exit status 2"},
		{signaled(syscall.SIGSEGV), true, "killed (Segmentation fault)"},
		{signaled(syscall.SIGSEGV) | 0x80, true, "killed (Segmentation fault), core dumped"},
		{signaled(syscall.SIGABRT), true, "killed (Aborted)"},
		{signaled(syscall.SIGALRM), true, "killed (Alarm clock)"},
		{signaled(syscall.SIGBUS), true, "killed (Bus error)"},
		{signaled(syscall.SIGFPE), true, "killed (Floating point exception)"},
		{signaled(syscall.SIGILL), true, "killed (Illegal instruction)"},
		{signaled(syscall.SIGPIPE), true, "killed (Broken pipe)"},
		{signaled(syscall.SIGXCPU), true, "killed (CPU time limit exceeded)"},
		{signaled(syscall.SIGXFSZ), true, "killed (File size limit exceeded)"},
		{signaled(syscall.SIGTERM), false, "killed (Terminated)"},
		{signaled(syscall.SIGKILL), false, "killed (Killed)"},
		{signaled(syscall.SIGINT), false, "killed (Interrupt)"},
	}
	for _, tc := range tests {
		t.Run(tc.msg, func(t *testing.T) {
			require.Equal(t, tc.restart, ShouldRestart(tc.ws))
			require.Equal(t, tc.msg, StatusMessage(tc.ws))
		})
	}
}

// readPid polls the pidfile until it names a live process other than
// not (bounded wait).
func readPid(t *testing.T, pidfile string, not int) int {
	return testutil.WaitPidfile(t, pidfile, not)
}

func TestMonitorRestartsAfterCrash(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "m.pid")
	cmd := helperCmd(t, "monitor", pidfile)
	cmd.Dir = dir
	out, err := cmd.Output()
	require.NoError(t, err, "parent exits 0 once the monitored daemon is ready")
	require.Equal(t, "ready\n", string(out))

	daemon1 := readPid(t, pidfile, 0)
	monitor := testutil.ProcParent(t, daemon1)
	require.NotEqual(t, cmd.Process.Pid, monitor)
	require.NotEqual(t, daemon1, monitor)
	require.True(t, testutil.ProcAlive(monitor))
	t.Cleanup(func() {
		// Stop whatever of ours is still running.
		if testutil.ProcAlive(monitor) {
			_ = syscall.Kill(monitor, syscall.SIGKILL)
		}
	})

	// A crash signal: the monitor starts a new daemon, which rewrites the
	// pidfile.
	require.NoError(t, syscall.Kill(daemon1, syscall.SIGSEGV))
	daemon2 := readPid(t, pidfile, daemon1)
	require.Equal(t, monitor, testutil.ProcParent(t, daemon2))
	t.Cleanup(func() {
		if testutil.ProcAlive(daemon2) {
			_ = syscall.Kill(daemon2, syscall.SIGKILL)
		}
	})

	// SIGTERM is not a crash: the daemon and then the monitor exit.
	require.NoError(t, syscall.Kill(daemon2, syscall.SIGTERM))
	require.Eventually(t, func() bool { return !testutil.ProcAlive(daemon2) && !testutil.ProcAlive(monitor) },
		20*time.Second, 20*time.Millisecond, "monitor exits after its daemon is terminated")
}

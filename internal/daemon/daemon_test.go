package daemon

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The test binary doubles as a daemon when DAEMON_TEST_HELPER is set.
func TestMain(m *testing.M) {
	if mode := os.Getenv("DAEMON_TEST_HELPER"); mode != "" {
		helper(mode)
		return
	}
	os.Exit(m.Run())
}

func helper(mode string) {
	pid := os.Getenv("DAEMON_TEST_PIDFILE")
	d, err := Start(Options{PidFile: pid, Detach: mode == "detach" || mode == "detachfail" || mode == "monitor",
		Monitor: mode == "monitor", NoChdir: os.Getenv("DAEMON_TEST_NOCHDIR") != ""})
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	if mode == "detachfail" {
		os.Stderr.WriteString("init failed\n")
		os.Exit(3)
	}
	os.Stdout.WriteString("ready\n")
	d.Ready()
	if mode == "detach" || mode == "monitor" {
		// Live until killed by the test (bounded).
		time.Sleep(60 * time.Second)
		d.Cleanup()
		os.Exit(0)
	}
	// Foreground: run until stdin closes.
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	d.Cleanup()
	os.Exit(0)
}

func helperCmd(t *testing.T, mode, pidfile string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "DAEMON_TEST_HELPER="+mode, "DAEMON_TEST_PIDFILE="+pidfile)
	return cmd
}

func TestPidFilePath(t *testing.T) {
	t.Setenv("OVS_RUNDIR", "/r")
	require.Equal(t, "/r/ovsdb-server.pid", PidFilePath("", "ovsdb-server"))
	require.Equal(t, "/r/x.pid", PidFilePath("x.pid", "ovsdb-server"))
	require.Equal(t, "/a/b.pid", PidFilePath("/a/b.pid", "ovsdb-server"))
}

func TestPidFileExclusive(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "p.pid")
	first := helperCmd(t, "fg", pidfile)
	stdin, err := first.StdinPipe()
	require.NoError(t, err)
	out, err := first.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, first.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	data, err := os.ReadFile(pidfile)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(first.Process.Pid)+"\n", string(data))

	second := helperCmd(t, "fg", pidfile)
	msg, err := second.CombinedOutput()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee))
	require.Equal(t, pidfile+": already running as pid "+strconv.Itoa(first.Process.Pid)+", aborting\n", string(msg))

	require.NoError(t, stdin.Close())
	require.NoError(t, first.Wait())
	_, err = os.Stat(pidfile)
	require.True(t, os.IsNotExist(err), "pidfile removed at exit")
}

func TestDetach(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "d.pid")
	cmd := helperCmd(t, "detach", pidfile)
	cmd.Dir = dir
	out, err := cmd.Output()
	require.NoError(t, err, "parent exits 0 once the child is ready")
	require.Equal(t, "ready\n", string(out))
	data, err := os.ReadFile(pidfile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	require.NoError(t, err)
	require.NotEqual(t, cmd.Process.Pid, pid, "daemon is a different process")
	require.NoError(t, syscall.Kill(pid, 0))
	// The daemon changed directory to "/".
	cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	require.NoError(t, err)
	require.Equal(t, "/", cwd)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
}

func TestDetachChildFails(t *testing.T) {
	// A detached child that fails before Ready makes the parent fail with
	// its status, and its message reaches the parent's stderr.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "DAEMON_TEST_HELPER=detachfail")
	msg, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), string(msg))
	require.Equal(t, 3, ee.ExitCode())
	require.Equal(t, "init failed\n", string(msg))
}

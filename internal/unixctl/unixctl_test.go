package unixctl

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/stretchr/testify/require"
)

func newServer(t *testing.T) (*Server, string) {
	t.Helper()
	s := New("ovsdb-server (Open vSwitch) 3.1.0")
	s.Register("echo-args", "ARG...", 1, 2, func(args []string) (string, error) {
		out := ""
		for _, a := range args {
			out += a + ";"
		}
		return out, nil
	})
	s.Register("fail", "", 0, 0, func([]string) (string, error) { return "", errors.New("it failed") })
	s.Register("empty", "", 0, 0, func([]string) (string, error) { return "", nil })
	s.RegisterHidden("secret", 0, 0, func([]string) (string, error) { return "s", nil })
	path := filepath.Join(t.TempDir(), "ctl")
	require.NoError(t, s.Listen(path))
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s, path
}

func TestRawProtocol(t *testing.T) {
	_, path := newServer(t)
	c, err := net.Dial("unix", path)
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	dec := json.NewDecoder(r)
	tests := []struct {
		req  string
		want map[string]any
	}{
		{`{"method":"version","params":[],"id":7}`, map[string]any{"id": json.Number("7"), "result": "ovsdb-server (Open vSwitch) 3.1.0\n", "error": nil}},
		{`{"method":"bogus","params":[],"id":8}`, map[string]any{"id": json.Number("8"), "error": "\"bogus\" is not a valid command (use \"list-commands\" to see a list of valid commands)\n"}},
		{`{"method":"version","params":["x"],"id":9}`, map[string]any{"id": json.Number("9"), "error": "\"version\" command takes at most 0 arguments\n"}},
		{`{"method":"echo-args","params":[],"id":10}`, map[string]any{"id": json.Number("10"), "error": "\"echo-args\" command requires at least 1 arguments\n"}},
		{`{"method":"echo-args","params":[1],"id":11}`, map[string]any{"id": json.Number("11"), "error": "\"echo-args\" command has non-string argument\n"}},
		{`{"method":"echo-args","params":["a","b"],"id":"s"}`, map[string]any{"id": "s", "result": "a;b;\n", "error": nil}},
		{`{"method":"empty","params":[],"id":12}`, map[string]any{"id": json.Number("12"), "result": "", "error": nil}},
		{`{"method":"fail","params":[],"id":13}`, map[string]any{"id": json.Number("13"), "error": "it failed\n"}},
	}
	dec.UseNumber()
	for _, tc := range tests {
		_, err := c.Write([]byte(tc.req))
		require.NoError(t, err)
		var got map[string]any
		require.NoError(t, dec.Decode(&got))
		require.Equal(t, tc.want, got, tc.req)
	}
}

func TestListCommands(t *testing.T) {
	s, _ := newServer(t)
	out, err := s.Run("list-commands", nil)
	require.NoError(t, err)
	require.Equal(t, "The available commands are:\n"+
		"  echo-args               ARG...\n"+
		"  empty                   \n"+
		"  fail                    \n"+
		"  list-commands           \n"+
		"  version                 \n", out)
}

func TestSocketPath(t *testing.T) {
	t.Setenv("OVS_RUNDIR", "/run/x")
	require.Equal(t, "/run/x/c.ctl", SocketPath("c.ctl", "p"))
	require.Equal(t, "/abs/c", SocketPath("/abs/c", "p"))
	require.Equal(t, "none", SocketPath("none", "p"))
	require.Regexp(t, `^/run/x/p\.[0-9]+\.ctl$`, SocketPath("", "p"))
}

// TestAppctl drives the server with the real ovs-appctl and checks its
// output, error output and exit status.
func TestAppctl(t *testing.T) {
	appctl := testutil.RequireTool(t, "ovs-appctl")
	_, path := newServer(t)
	tests := []struct {
		args       []string
		stdout     string
		stderr     string
		exitStatus int
	}{
		{[]string{"version"}, "ovsdb-server (Open vSwitch) 3.1.0\n", "", 0},
		{[]string{"echo-args", "x", "y"}, "x;y;\n", "", 0},
		{[]string{"fail"}, "", "it failed\novs-appctl: " + path + ": server returned an error\n", 2},
		{[]string{"version", "x"}, "", "\"version\" command takes at most 0 arguments\novs-appctl: " + path + ": server returned an error\n", 2},
	}
	for _, tc := range tests {
		cmd := exec.Command(appctl, append([]string{"-t", path}, tc.args...)...)
		var so, se stringsBuilder
		cmd.Stdout, cmd.Stderr = &so, &se
		err := cmd.Run()
		status := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			status = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		require.Equal(t, tc.exitStatus, status, tc.args)
		require.Equal(t, tc.stdout, so.String(), tc.args)
		require.Equal(t, tc.stderr, se.String(), tc.args)
	}
}

type stringsBuilder struct{ b []byte }

func (s *stringsBuilder) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }
func (s *stringsBuilder) String() string              { return string(s.b) }

// TestStats counts requests received and replies sent.
func TestStats(t *testing.T) {
	s, path := newServer(t)
	c, err := net.Dial("unix", path)
	require.NoError(t, err)
	defer c.Close()
	dec := json.NewDecoder(bufio.NewReader(c))
	for _, req := range []string{`{"method":"version","params":[],"id":1}`, `{"method":"bogus","params":[],"id":2}`} {
		_, err := c.Write([]byte(req))
		require.NoError(t, err)
		var got map[string]any
		require.NoError(t, dec.Decode(&got))
	}
	_, err = c.Write([]byte(`{"method":"version","params":[],"id":null}`))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r, p := s.Stats()
		return r == 3 && p == 2
	}, 5*time.Second, 10*time.Millisecond)
}

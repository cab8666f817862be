package jsonrpc

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

func TestListenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		remote, want string
	}{
		{"ptcp:notaport", "ptcp:notaport: bad port number"},
		{"ptcp:70000:127.0.0.1", "ptcp:70000:127.0.0.1: bad port number"},
		{"punix:" + dir + "/no/such/dir/s", "punix:" + dir + "/no/such/dir/s: listen failed: No such file or directory"},
		{"pssl:6641", "pssl:6641: unsupported remote"},
		{"unix:" + dir + "/s", "unix:" + dir + "/s: unsupported remote"},
		{"tcp:127.0.0.1:6641", "tcp:127.0.0.1:6641: unsupported remote"},
		{"db:a,b,c", "db:a,b,c: unsupported remote"},
		{"nocolon", "nocolon: unsupported remote"},
	}
	for _, tc := range tests {
		t.Run(tc.remote, func(t *testing.T) {
			ln, err := Listen(tc.remote, nil)
			require.Nil(t, ln)
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), tc.want), "%q does not begin with %q", err, tc.want)
			if strings.HasSuffix(tc.want, "unsupported remote") {
				require.ErrorIs(t, err, ErrUnsupportedRemote)
			}
		})
	}
}

// TestListenTCPLogsPort: C's socket_util line names the remote's
// arguments and the port chosen.
func TestListenTCPLogsPort(t *testing.T) {
	var buf testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil)).With("module", "ovsdb_server")
	ln, err := Listen("ptcp:0:127.0.0.1", log)
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	require.Contains(t, buf.String(), `msg="0:127.0.0.1: listening on port `+strconv.Itoa(port)+`"`)
	require.Contains(t, buf.String(), "module=socket_util")
}

// TestListenUnixSocketFile: a stale socket file is replaced, the socket
// file is removed when the listener is closed.
func TestListenUnixSocketFile(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	stale, err := net.Listen("unix", sock)
	require.NoError(t, err)
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, stale.Close())
	_, err = os.Lstat(sock)
	require.NoError(t, err, "stale socket file left")

	ln, err := Listen("punix:"+sock, nil)
	require.NoError(t, err)
	st, err := os.Lstat(sock)
	require.NoError(t, err)
	require.NotZero(t, st.Mode()&os.ModeSocket)
	require.NoError(t, ln.Close())
	_, err = os.Lstat(sock)
	require.True(t, os.IsNotExist(err), "socket file removed on close")
}

// TestServeSessions: accepted sessions get C's stream names, the
// listener's probe (Options.ProbeInterval on TCP, none on unix sockets,
// unless ServeOptions.Probe says otherwise) and the OnSession hook before
// their first request.
func TestServeSessions(t *testing.T) {
	f := newFixture(t, Options{ProbeInterval: time.Hour})
	accepted := make(chan *Session, 10)
	hook := func(ss *Session) { accepted <- ss }
	tcp, err := Listen("ptcp:0:127.0.0.1", nil)
	require.NoError(t, err)
	go func() { _ = f.srv.Serve(tcp, ServeOptions{OnSession: hook}) }()
	tcp2, err := Listen("ptcp:0:127.0.0.1", nil)
	require.NoError(t, err)
	go func() { _ = f.srv.Serve(tcp2, ServeOptions{OnSession: hook, Probe: -1}) }()
	sock := filepath.Join(t.TempDir(), "s")
	unix, err := Listen("punix:"+sock, nil)
	require.NoError(t, err)
	go func() { _ = f.srv.Serve(unix, ServeOptions{OnSession: hook}) }()

	next := func() *Session {
		t.Helper()
		select {
		case ss := <-accepted:
			return ss
		case <-time.After(waitLimit):
			t.Fatal("no session accepted")
			return nil
		}
	}
	c := dialRaw(t, "tcp", tcp.Addr().String())
	ss := next()
	require.Equal(t, "tcp:"+c.conn.LocalAddr().String(), ss.Name())
	require.Equal(t, time.Hour, ss.ProbeInterval())

	dialRaw(t, "tcp", tcp2.Addr().String())
	require.Zero(t, next().ProbeInterval())

	for i := range 2 {
		dialRaw(t, "unix", sock)
		ss := next()
		// The fixture's own unix listener has accepted no session yet.
		require.Equal(t, "unix#"+strconv.Itoa(i), ss.Name())
		require.Zero(t, ss.ProbeInterval())
	}
	require.Equal(t, `{"id":1,"result":[],"error":null}`, c.roundTrip(`{"method":"echo","params":[],"id":1}`))

	// Closing a listener ends its Serve, not its sessions.
	require.NoError(t, tcp.Close())
	require.Equal(t, `{"id":2,"result":[],"error":null}`, c.roundTrip(`{"method":"echo","params":[],"id":2}`))
}

// TestParseRemoteRelativeUnix: a relative socket path is in the OVS run
// directory, as C's (checked against C 3.1: --remote=punix:rel.sock with
// OVS_RUNDIR=D listens on D/rel.sock).
func TestParseRemoteRelativeUnix(t *testing.T) {
	t.Setenv("OVS_RUNDIR", "/run/x")
	for in, want := range map[string]string{
		"punix:rel.sock":  "/run/x/rel.sock",
		"unix:sub/a.sock": "/run/x/sub/a.sock",
		"punix:/abs.sock": "/abs.sock",
	} {
		r, err := ParseRemote(in)
		require.NoError(t, err, in)
		require.Equal(t, want, r.Address, in)
	}
}

package server

import (
	"bytes"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
)

// echoed sends an echo request on c and waits (bounded) for its reply:
// the session exists once it returns.
func echoed(t *testing.T, c net.Conn) {
	t.Helper()
	_, err := c.Write([]byte(`{"method":"echo","params":[],"id":1}`))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	var got []byte
	buf := make([]byte, 256)
	for !bytes.Contains(got, []byte(`"id":1`)) {
		n, err := c.Read(buf)
		require.NoError(t, err)
		got = append(got, buf[:n]...)
	}
}

// sessionsBy returns the server's sessions keyed by name.
func sessionsBy(s *Server) map[string]*jsonrpc.Session {
	out := map[string]*jsonrpc.Session{}
	for _, ss := range s.JSONRPC().Sessions() {
		out[ss.Name()] = ss
	}
	return out
}

// TestRemoteProbeConfigured: the configured inactivity probe
// (Options.JSONRPC.ProbeInterval) reaches the sessions of a ptcp remote;
// unix sockets have none, as C.
func TestRemoteProbeConfigured(t *testing.T) {
	dir := t.TempDir()
	s := New(Options{Open: memOpener(nil), JSONRPC: jsonrpc.Options{ProbeInterval: 50 * time.Millisecond}})
	defer s.Close()
	require.NoError(t, s.AddRemote("ptcp:0:127.0.0.1"))
	sock := filepath.Join(dir, "s")
	require.NoError(t, s.AddRemote("punix:"+sock))

	tc, err := net.Dial("tcp", s.RemoteAddr("ptcp:0:127.0.0.1").String())
	require.NoError(t, err)
	defer tc.Close()
	uc, err := net.Dial("unix", sock)
	require.NoError(t, err)
	defer uc.Close()
	echoed(t, tc)
	echoed(t, uc)
	byName := sessionsBy(s)
	require.Equal(t, 50*time.Millisecond, byName["tcp:"+tc.LocalAddr().String()].ProbeInterval())
	require.Zero(t, byName["unix#0"].ProbeInterval())

	// The idle TCP client is probed: the server sends an echo request.
	require.NoError(t, tc.SetReadDeadline(time.Now().Add(10*time.Second)))
	var got []byte
	buf := make([]byte, 256)
	for !bytes.Contains(got, []byte(`{"id":"echo","method":"echo","params":[]}`)) {
		n, err := tc.Read(buf)
		require.NoError(t, err, "no probe received: %s", got)
		got = append(got, buf[:n]...)
	}
}

// TestRemoteProbeDefault: without configuration, ptcp sessions get C's
// default probe.
func TestRemoteProbeDefault(t *testing.T) {
	s := New(Options{Open: memOpener(nil)})
	defer s.Close()
	require.NoError(t, s.AddRemote("ptcp:0:127.0.0.1"))
	tc, err := net.Dial("tcp", s.RemoteAddr("ptcp:0:127.0.0.1").String())
	require.NoError(t, err)
	defer tc.Close()
	echoed(t, tc)
	require.Equal(t, jsonrpc.DefaultProbeInterval, sessionsBy(s)["tcp:"+tc.LocalAddr().String()].ProbeInterval())
}

// TestRemoteLogLines: C's log lines of the remotes: "listening on port"
// (socket_util), "listen failed" (ovsdb_jsonrpc_server) and the session names
// "unix#N" and "tcp:IP:PORT" in the disconnect lines
// (ovsdb_jsonrpc_server).
func TestRemoteLogLines(t *testing.T) {
	dir := t.TempDir()
	var logs testutil.SyncBuffer
	s := New(Options{Open: memOpener(nil), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer s.Close()
	require.NoError(t, s.AddRemote("ptcp:0:127.0.0.1"))
	port := s.RemoteAddr("ptcp:0:127.0.0.1").(*net.TCPAddr).Port
	// The last "module" attribute is the one vlog writes.
	require.Regexp(t, `msg="0:127.0.0.1: listening on port `+strconv.Itoa(port)+`".* module=socket_util\n`, logs.String())

	bad := "punix:" + filepath.Join(dir, "no", "such", "dir")
	err := s.AddRemote(bad)
	require.Error(t, err)
	require.Equal(t, bad+": listen failed: No such file or directory", err.Error())
	require.Contains(t, logs.String(), `level=ERROR msg="`+bad+`: listen failed: No such file or directory" module=ovsdb_jsonrpc_server`)
	require.Contains(t, s.ListRemotes(), bad)

	sock := filepath.Join(dir, "s")
	require.NoError(t, s.AddRemote("punix:"+sock))
	var conns []net.Conn
	for range 2 {
		c, err := net.Dial("unix", sock)
		require.NoError(t, err)
		defer c.Close()
		echoed(t, c)
		conns = append(conns, c)
	}
	tc, err := net.Dial("tcp", s.RemoteAddr("ptcp:0:127.0.0.1").String())
	require.NoError(t, err)
	defer tc.Close()
	echoed(t, tc)
	require.NoError(t, s.AddDatabase(writeSchema(t, dir, "A")))
	for _, name := range []string{"unix#0", "unix#1", "tcp:" + tc.LocalAddr().String()} {
		require.Contains(t, logs.String(), `msg="`+name+`: disconnecting (adding A database)" module=ovsdb_jsonrpc_server`)
	}
}

package jsonrpc

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// vlogLines renders the records of a text handler as C's "module|LEVEL|msg"
// triples, one a line, for comparison with C's log.
func vlogLines(buf *testutil.SyncBuffer) []string {
	re := regexp.MustCompile(`level=(\w+) msg="((?:[^"\\]|\\.)*)".* module=(\w+)\s*$`)
	var out []string
	for _, l := range strings.Split(buf.String(), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			lvl := map[string]string{"INFO": "INFO", "WARN": "WARN", "ERROR": "ERR", "DEBUG": "DBG"}[m[1]]
			out = append(out, m[3]+"|"+lvl+"|"+strings.ReplaceAll(m[2], `\"`, `"`))
		}
	}
	return out
}

// TestReconnectFSMLogsAsC steps the machine through the attempts C's
// ovsdb-server made against a port where nothing listened, then a
// connection closed by the peer, and compares the log lines and the
// backoff with C 3.1's (observed: connecting/failed, then "waiting 2
// seconds", "waiting 4 seconds", then connected, then after a short
// connection "continuing to reconnect in the background").
func TestReconnectFSMLogsAsC(t *testing.T) {
	var buf testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	now := time.Unix(1000, 0)
	f := newReconnectFSM("tcp:127.0.0.1:1", log, now)
	f.enable(now)
	require.Equal(t, now, f.deadline(), "connects at once")
	refused := syscall.ECONNREFUSED
	var waits []time.Duration
	for range 3 {
		now = f.deadline()
		f.connectFailed(now, refused)
		waits = append(waits, f.backoff)
	}
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, waits)
	now = f.deadline()
	f.connecting(now)
	f.connected(now.Add(time.Millisecond))
	st := f.status(now.Add(2500 * time.Millisecond))
	require.Equal(t, ActiveStatus{State: "ACTIVE", Connected: true, SinceConnect: 2499 * time.Millisecond, SinceDisconnect: -1}, st)
	f.lastActivity = now.Add(10 * time.Millisecond) // data only at the start
	now = now.Add(4 * time.Second)
	f.disconnected(now, io.EOF)
	require.Equal(t, 8*time.Second, f.backoff)
	st = f.status(now)
	require.Equal(t, "BACKOFF", st.State)
	require.False(t, st.Connected)
	require.Zero(t, st.SinceDisconnect)
	// At the maximum, attempts are no longer logged.
	now = f.deadline()
	f.connectFailed(now, refused)
	require.Equal(t, []string{
		"reconnect|INFO|tcp:127.0.0.1:1: connecting...",
		"reconnect|INFO|tcp:127.0.0.1:1: connection attempt failed (Connection refused)",
		"reconnect|INFO|tcp:127.0.0.1:1: connecting...",
		"reconnect|INFO|tcp:127.0.0.1:1: connection attempt failed (Connection refused)",
		"reconnect|INFO|tcp:127.0.0.1:1: waiting 2 seconds before reconnect",
		"reconnect|INFO|tcp:127.0.0.1:1: connecting...",
		"reconnect|INFO|tcp:127.0.0.1:1: connection attempt failed (Connection refused)",
		"reconnect|INFO|tcp:127.0.0.1:1: waiting 4 seconds before reconnect",
		"reconnect|INFO|tcp:127.0.0.1:1: connecting...",
		"reconnect|INFO|tcp:127.0.0.1:1: connected",
		"reconnect|INFO|tcp:127.0.0.1:1: connection closed by peer",
		"reconnect|INFO|tcp:127.0.0.1:1: continuing to reconnect in the background but suppressing further logging",
	}, vlogLines(&buf))
}

// TestReconnectFSMBackoffRules: a connection active for at least the
// backoff resets it to the minimum; max_backoff bounds it (at least 1 s);
// a forced reconnection is reported as C does ("connection attempt timed
// out") and does not count as a disconnection.
func TestReconnectFSMBackoffRules(t *testing.T) {
	var buf testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	now := time.Unix(1000, 0)
	f := newReconnectFSM("unix:/x", log, now)
	f.setMaxBackoff(3 * time.Second)
	f.enable(now)
	for range 4 {
		now = f.deadline()
		f.connectFailed(now, syscall.ENOENT)
	}
	require.Equal(t, 3*time.Second, f.backoff)
	now = f.deadline()
	f.connected(now)
	f.lastActivity = now.Add(5 * time.Second)
	now = now.Add(6 * time.Second)
	f.disconnected(now, syscall.ECONNRESET)
	require.Equal(t, time.Second, f.backoff, "active long enough: back to the minimum")

	now = f.deadline()
	f.connected(now)
	f.forceReconnect(now)
	require.Equal(t, "RECONNECT", f.status(now).State)
	before := f.lastDisconnected
	f.disconnected(now.Add(time.Second), nil)
	require.Equal(t, before, f.lastDisconnected, "a forced reconnection is not a disconnection (C)")

	f.setMaxBackoff(10 * time.Millisecond)
	require.Equal(t, MinBackoff, f.maxBackoff)
	lines := vlogLines(&buf)
	require.Contains(t, lines, "reconnect|WARN|unix:/x: connection dropped (Connection reset by peer)")
	require.Contains(t, lines, "reconnect|INFO|unix:/x: connection attempt timed out")
	require.Contains(t, lines, "reconnect|INFO|unix:/x: connection attempt failed (No such file or directory)")
}

// acceptAll accepts connections on ln and hands each over.
func acceptAll(t *testing.T, ln net.Listener) <-chan net.Conn {
	ch := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(ch)
				return
			}
			t.Cleanup(func() { c.Close() })
			ch <- c
		}
	}()
	return ch
}

func nextConn(t *testing.T, ch <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c, ok := <-ch:
		require.True(t, ok)
		return c
	case <-time.After(waitLimit):
		t.Fatal("the server did not connect")
	}
	return nil
}

// TestActiveRemoteServesAndReconnects: the server connects out to a
// listening client (a Go listener standing for ovsdb-client), serves a
// normal session on the connection (named after the remote, as C), and
// connects again after the client hangs up.
func TestActiveRemoteServesAndReconnects(t *testing.T) {
	for _, kind := range []string{"tcp", "unix"} {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t, Options{})
			var ln net.Listener
			var err error
			var remote string
			if kind == "tcp" {
				ln, err = net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				remote = "tcp:" + ln.Addr().String()
			} else {
				p := filepath.Join(t.TempDir(), "client.sock")
				ln, err = net.Listen("unix", p)
				require.NoError(t, err)
				remote = "unix:" + p
			}
			defer ln.Close()
			conns := acceptAll(t, ln)
			sessions := make(chan *Session, 4)
			a, err := f.srv.Connect(remote, ActiveOptions{OnSession: func(ss *Session) { sessions <- ss }})
			require.NoError(t, err)
			defer a.Close()

			c := nextConn(t, conns)
			ss := <-sessions
			require.Equal(t, remote, ss.Name())
			if kind == "tcp" {
				require.Equal(t, DefaultProbeInterval, ss.ProbeInterval())
			} else {
				require.Zero(t, ss.ProbeInterval())
			}
			r := bufio.NewReader(c)
			_, err = c.Write([]byte(`{"method":"list_dbs","params":[],"id":1}`))
			require.NoError(t, err)
			require.NoError(t, c.SetReadDeadline(time.Now().Add(waitLimit)))
			line, err := r.ReadString('}')
			require.NoError(t, err)
			require.Contains(t, line, `"result":["OVN_Northbound","_Server"]`)
			st := a.Status()
			require.Equal(t, "ACTIVE", st.State)
			require.True(t, st.Connected)
			require.Same(t, ss, st.Session)

			// The client hangs up: the server connects again.
			require.NoError(t, c.Close())
			c2 := nextConn(t, conns)
			defer c2.Close()
			ss2 := <-sessions
			require.NotSame(t, ss, ss2)
			require.Eventually(t, func() bool {
				st := a.Status()
				return st.Connected && st.SinceDisconnect >= 0
			}, waitLimit, 10*time.Millisecond)

			// Close stops it: the session ends and nothing reconnects.
			require.NoError(t, a.Close())
			select {
			case <-ss2.Done():
			case <-time.After(waitLimit):
				t.Fatal("session not closed")
			}
		})
	}
}

// TestActiveRemoteRetriesUntilListening: nothing listens at first; the
// server keeps trying (backoff from 1 s) and connects once a listener
// appears. A probe change reaches the connection's session.
func TestActiveRemoteRetriesUntilListening(t *testing.T) {
	p := filepath.Join(t.TempDir(), "late.sock")
	var buf testutil.SyncBuffer
	f := newFixture(t, Options{})
	a, err := f.srv.Connect("unix:"+p, ActiveOptions{Logger: slog.New(slog.NewTextHandler(&buf, nil)), Probe: -1})
	require.NoError(t, err)
	defer a.Close()
	require.Eventually(t, func() bool {
		return strings.Contains(buf.String(), "connection attempt failed (No such file or directory)")
	}, waitLimit, 10*time.Millisecond)
	require.Contains(t, []string{"BACKOFF", "CONNECTING"}, a.Status().State)
	require.Negative(t, a.Status().SinceConnect)

	ln, err := net.Listen("unix", p)
	require.NoError(t, err)
	defer ln.Close()
	c := nextConn(t, acceptAll(t, ln))
	defer c.Close()
	var ss *Session
	require.Eventually(t, func() bool { ss = a.Status().Session; return ss != nil }, waitLimit, 10*time.Millisecond)
	require.Zero(t, ss.ProbeInterval())
	a.SetProbe(2 * time.Second)
	require.Equal(t, 2*time.Second, ss.ProbeInterval())
	// The prober started by the change sends the echo probe.
	require.NoError(t, c.SetReadDeadline(time.Now().Add(waitLimit)))
	line, err := bufio.NewReader(c).ReadString('}')
	require.NoError(t, err)
	require.Contains(t, line, `"method":"echo"`)
	require.Contains(t, buf.String(), "unix:"+p+": connected")
}

// TestActiveRemoteUnparsable: a remote that is not an active one is
// tried all the same, each attempt failing as C's does.
func TestActiveRemoteUnparsable(t *testing.T) {
	var buf testutil.SyncBuffer
	f := newFixture(t, Options{})
	a, err := f.srv.Connect("bogus:x", ActiveOptions{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return strings.Contains(buf.String(), "bogus:x: connection attempt failed (Address family not supported by protocol)")
	}, waitLimit, 10*time.Millisecond)
	require.NoError(t, a.Close())
}

// TestServerCloseStopsActive: Server.Close stops the active remotes
// without waiting for their backoff.
func TestServerCloseStopsActive(t *testing.T) {
	srv := NewServer(&fakeBackend{}, Options{})
	_, err := srv.Connect("unix:"+filepath.Join(t.TempDir(), "none"), ActiveOptions{MaxBackoff: time.Hour})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { _ = srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("Close waited for the active remote")
	}
	_, err = srv.Connect("unix:/x", ActiveOptions{})
	require.ErrorIs(t, err, ErrServerClosed)
}

// TestSetProbeIntervalLive: a session without a probe gets one when the
// interval is set; an unanswered probe ends it with C's log line; 0 stops
// probing.
func TestSetProbeIntervalLive(t *testing.T) {
	var buf testutil.SyncBuffer
	f := newFixture(t, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	sessions := make(chan *Session, 2)
	f.srv.OnSession(func(ss *Session) { sessions <- ss })
	c := f.raw(t)
	ss := <-sessions
	require.Zero(t, ss.ProbeInterval())
	ss.SetProbeInterval(100 * time.Millisecond)
	require.Equal(t, 100*time.Millisecond, ss.ProbeInterval())
	require.Contains(t, c.next(), `"method":"echo"`)
	c.closed()
	probeLine := regexp.MustCompile(`level=ERROR msg="unix#0: no response to inactivity probe after [0-9.]+ seconds, disconnecting".* module=reconnect`)
	require.Eventually(t, func() bool { return probeLine.MatchString(buf.String()) }, waitLimit, 10*time.Millisecond)
	require.ErrorIs(t, ss.endError(), errProbeTimeout)

	// 0 stops the prober: nothing is sent.
	c2 := f.raw(t)
	ss2 := <-sessions
	ss2.SetProbeInterval(50 * time.Millisecond)
	require.Contains(t, c2.next(), `"method":"echo"`)
	c2.send(`{"id":"echo","result":[],"error":null}`)
	ss2.SetProbeInterval(0)
	require.Contains(t, c2.roundTrip(`{"method":"echo","params":[],"id":1}`), `"id":1`)
	time.Sleep(200 * time.Millisecond)
	require.Contains(t, c2.roundTrip(`{"method":"echo","params":[],"id":2}`), `"id":2`)
}

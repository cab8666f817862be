package jsonrpc

// Active remotes ("tcp:IP:PORT", "unix:PATH"): the server connects out to
// a listening client, serves a normal session on the connection and,
// when it ends, reconnects with C's backoff (reconnect.go).

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
)

// ActiveOptions configure an active remote (Server.Connect).
type ActiveOptions struct {
	// MaxBackoff bounds the wait between connection attempts: 0 means
	// C's default of 8 s; at least 1 s.
	MaxBackoff time.Duration
	// Probe is the inactivity probe of the connection's sessions: 0 means
	// the default for the kind of remote (Options.ProbeInterval for tcp:,
	// none for unix:), negative none.
	Probe time.Duration
	// DSCP, when positive, is the DSCP value of the TCP connections'
	// packets (C's other_config:dscp; C's default is 48).
	DSCP int
	// OnSession, if not nil, is called with each connection's session
	// before its first message is read, after the Server's OnSession
	// hooks.
	OnSession func(*Session)
	// Logger receives the reconnection log lines; nil: the server's.
	Logger *slog.Logger
	// TLS configures an "ssl:" remote's connections (nil: every attempt
	// fails, as C's without key and certificate).
	TLS *tlsconf.Config
}

// Active is an active remote being served (Server.Connect).
type Active struct {
	srv    *Server
	remote string
	kind   Remote
	kerr   error // the remote does not parse: every attempt fails
	onSess func(*Session)
	dscp   int
	tls    *tlsconf.Config
	log    *slog.Logger

	wake chan struct{} // options changed, or Close
	stop chan struct{} // closed by Close
	done chan struct{} // closed when the loop has ended

	mu      sync.Mutex
	fsm     *reconnectFSM
	probe   time.Duration // 0: none
	session *Session
	closed  bool
}

// Connect starts serving the active remote "tcp:IP[:PORT]", "unix:PATH"
// or "ssl:IP[:PORT]" (TLS with ActiveOptions.TLS: each attempt first
// checks that key, certificate and CA are there, else logs C's errors and
// fails with "Protocol not available"; a failed handshake is logged and
// fails the attempt with "Protocol error") and returns at once: a goroutine connects to it, serves the connection
// in a session named after the remote (its Name is the remote, as C names
// the stream) and, when the session ends, reconnects after C's backoff
// (from 1 s, doubling up to MaxBackoff; back to 1 s after a connection
// that was active for at least the current backoff), logging C's
// reconnect lines ("REMOTE: connecting...", "connected", "connection
// attempt failed (Connection refused)", "waiting 2 seconds before
// reconnect"...). A remote that does not parse is tried all the same:
// every attempt fails (C: "Address family not supported by protocol").
// Close stops it; Server.Close does too.
func (s *Server) Connect(remote string, opts ActiveOptions) (*Active, error) {
	log := opts.Logger
	if log == nil {
		log = s.log
	}
	a := &Active{
		srv: s, remote: remote, onSess: opts.OnSession, dscp: opts.DSCP, tls: opts.TLS, log: log,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	var err error
	if a.kind, err = ParseRemote(remote); err != nil || a.kind.Passive {
		a.kerr = syscall.EAFNOSUPPORT
	}
	a.fsm = newReconnectFSM(remote, log, time.Now())
	a.fsm.setMaxBackoff(opts.MaxBackoff)
	a.probe = a.probeFor(opts.Probe)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrServerClosed
	}
	if s.actives == nil {
		s.actives = map[*Active]struct{}{}
	}
	s.actives[a] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	a.fsm.enable(time.Now())
	go func() {
		defer s.wg.Done()
		defer close(a.done)
		a.run()
		s.mu.Lock()
		delete(s.actives, a)
		s.mu.Unlock()
	}()
	return a, nil
}

// probeFor resolves ActiveOptions.Probe.
func (a *Active) probeFor(p time.Duration) time.Duration {
	switch {
	case p < 0:
		return 0
	case p > 0:
		return p
	case a.kerr == nil && a.kind.Network == "tcp":
		return max(a.srv.opts.ProbeInterval, 0)
	}
	return 0
}

// Remote returns the remote's name.
func (a *Active) Remote() string { return a.remote }

// SetMaxBackoff changes the largest wait between attempts (0: the
// default), as C applies a remote's new max_backoff.
func (a *Active) SetMaxBackoff(d time.Duration) {
	a.mu.Lock()
	a.fsm.setMaxBackoff(d)
	a.mu.Unlock()
	a.kick()
}

// SetProbe changes the inactivity probe of the connection (see
// ActiveOptions.Probe), including the current one.
func (a *Active) SetProbe(d time.Duration) {
	a.mu.Lock()
	a.probe = a.probeFor(d)
	p, ss := a.probe, a.session
	a.mu.Unlock()
	if ss != nil {
		ss.SetProbeInterval(p)
	}
}

// Status returns the remote's state, as C's status column shows it.
func (a *Active) Status() ActiveStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.session != nil {
		a.fsm.setIdle(a.session.probeIdle.Load(), time.Now())
	}
	st := a.fsm.status(time.Now())
	if st.Connected {
		st.Session = a.session
	}
	return st
}

// ForceReconnect drops the current connection as the server's
// ovsdb-server/reconnect does: the remote backs off and connects again.
func (a *Active) ForceReconnect() {
	a.mu.Lock()
	ss := a.session
	a.mu.Unlock()
	if ss != nil {
		_ = ss.Close()
	}
}

// Close stops the remote: the current session is closed and no further
// connection is made. It waits for the remote's goroutine to end.
func (a *Active) Close() error {
	a.shutdown()
	<-a.done
	return nil
}

// shutdown tells the remote's goroutine to stop.
func (a *Active) shutdown() {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.stop)
	}
	a.mu.Unlock()
}

func (a *Active) kick() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// run is the remote's loop: wait out the backoff, connect, serve, repeat.
func (a *Active) run() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		a.mu.Lock()
		wait := time.Until(a.fsm.deadline())
		a.mu.Unlock()
		if wait > 0 {
			t.Reset(wait)
			select {
			case <-a.stop:
				return
			case <-a.wake:
				continue
			case <-t.C:
				continue
			}
		}
		select {
		case <-a.stop:
			return
		default:
		}
		conn, ok := a.attempt()
		if !ok {
			return
		}
		if conn == nil {
			continue
		}
		if !a.serve(conn) {
			return
		}
	}
}

// attempt makes one connection attempt: the connection, or nil after a
// failure (recorded in the machine); false when the remote was closed.
func (a *Active) attempt() (net.Conn, bool) {
	a.mu.Lock()
	now := time.Now()
	a.fsm.connecting(now)
	timeout := a.fsm.connectTimeout()
	a.mu.Unlock()
	var conn net.Conn
	err := a.kerr
	if err == nil && a.kind.TLS {
		err = sslNotReady(a.tls, a.log)
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		go func() {
			select {
			case <-a.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		d := net.Dialer{}
		if a.dscp > 0 {
			dscp := a.dscp
			d.Control = func(network, _ string, c syscall.RawConn) error {
				return c.Control(func(fd uintptr) { setDSCP(int(fd), network, dscp) })
			}
		}
		conn, err = d.DialContext(ctx, a.kind.Network, a.kind.Address)
		if err == nil && a.kind.TLS {
			conn, err = dialTLS(ctx, conn, a.tls, a.remote, a.log)
		}
		timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
		cancel()
		if timedOut && err != nil {
			err = nil // C: "connection attempt timed out"
		}
	}
	select {
	case <-a.stop:
		if conn != nil {
			_ = conn.Close()
		}
		return nil, false
	default:
	}
	if conn == nil {
		a.mu.Lock()
		if err != nil {
			a.fsm.connectFailed(time.Now(), err)
		} else {
			a.fsm.disconnected(time.Now(), nil)
		}
		a.mu.Unlock()
		return nil, true
	}
	return conn, true
}

// serve serves conn until its session ends and records how it ended;
// false when the remote was closed or the server is closing.
func (a *Active) serve(conn net.Conn) bool {
	a.mu.Lock()
	a.fsm.connected(time.Now())
	probe := a.probe
	a.mu.Unlock()
	ss, err := a.srv.serveConn(conn, probe, a.remote, func(ss *Session) {
		a.mu.Lock()
		a.session = ss
		a.mu.Unlock()
		if a.onSess != nil {
			a.onSess(ss)
		}
	})
	if err != nil {
		return false
	}
	stopped := false
	select {
	case <-ss.Done():
	case <-a.stop:
		stopped = true
		_ = ss.Close()
		<-ss.Done()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.session = nil
	if stopped {
		return false
	}
	now := time.Now()
	a.fsm.lastActivity = ss.LastActivity()
	cause := ss.endError()
	if cause == nil {
		// Closed by this side (reconnect, a database added or
		// removed): C forces a reconnection.
		a.fsm.forceReconnect(now)
	}
	a.fsm.disconnected(now, cause)
	return true
}

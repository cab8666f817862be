package jsonrpc

// Client connections to an active remote made again and again, as C's
// jsonrpc_session does for a client (the replication of a backup server
// connecting to its active server): one attempt at a time, C's backoff
// between attempts and its log lines (reconnect.go), and C's inactivity
// probe of the client side.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
)

// ErrRemoteUnsupported was the error of connection attempts to "ssl:"
// remotes before they were served; no longer returned.
var ErrRemoteUnsupported = errors.New("SSL remotes are not yet supported by this server")

// Redialer connects a client to one active remote ("unix:PATH",
// "tcp:IP:PORT", or "ssl:IP:PORT" with the configuration of SetTLS: C's
// errors and "Protocol not available" without key, certificate and CA,
// "Protocol error" when the handshake fails) with C's reconnection rules: Dial waits out the backoff
// and makes one attempt; after each failed attempt or ended connection
// (Disconnected) the wait grows from 1 s, doubling up to the maximum (8 s
// unless SetMaxBackoff), and is back to 1 s after a connection that was
// active for at least the current wait. It logs C's lines ("REMOTE:
// connecting...", "connected", "connection attempt failed (...)",
// "connection closed by peer", "waiting 2 seconds before reconnect"...)
// under module reconnect. Its methods may be called from any goroutine.
type Redialer struct {
	remote string
	kind   Remote
	kerr   error // every attempt fails with it (the remote does not parse)
	log    *slog.Logger
	tls    *tlsconf.Config // ssl: (SetTLS)

	mu     sync.Mutex
	fsm    *reconnectFSM
	probe  time.Duration // 0: none
	wake   chan struct{} // probe changed
	client *Client       // the current connection's
}

// NewRedialer returns the redialer of remote, logging to log (nil:
// slog.Default()). A remote that does not parse as an active remote is
// tried all the same and every attempt fails, as C's does ("Address
// family not supported by protocol").
func NewRedialer(remote string, log *slog.Logger) *Redialer {
	if log == nil {
		log = slog.Default()
	}
	r := &Redialer{remote: remote, log: log, wake: make(chan struct{}, 1)}
	var err error
	switch r.kind, err = ParseRemote(remote); {
	case err != nil || r.kind.Passive:
		r.kerr = syscall.EAFNOSUPPORT
	}
	r.fsm = newReconnectFSM(remote, log, time.Now())
	r.fsm.enable(time.Now())
	return r
}

// Remote returns the remote's name.
func (r *Redialer) Remote() string { return r.remote }

// SetTLS sets the TLS configuration of an ssl: remote's connections
// (each attempt takes its settings when it starts).
func (r *Redialer) SetTLS(tc *tlsconf.Config) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tls = tc
}

// SetMaxBackoff sets the largest wait between attempts (0: C's 8 s).
func (r *Redialer) SetMaxBackoff(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fsm.setMaxBackoff(d)
}

// SetProbe sets the inactivity probe of the connections, the current one
// included: when nothing was received for d, an echo request is sent, and
// when nothing is received for another d the connection is closed and
// logged as C does ("no response to inactivity probe after N seconds,
// disconnecting"). d is in C's terms: 0 none, otherwise at least 1 s.
func (r *Redialer) SetProbe(d time.Duration) {
	if d != 0 && d < time.Second {
		d = time.Second
	}
	r.mu.Lock()
	r.probe = d
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Dial waits until the backoff allows the next attempt, then makes it.
// It returns the connected client, or the attempt's error (already
// logged), or ctx's error if ctx ended first. The caller calls
// Disconnected once the client's connection has ended.
func (r *Redialer) Dial(ctx context.Context, opts ...ClientOption) (*Client, error) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		r.mu.Lock()
		wait := time.Until(r.fsm.deadline())
		r.mu.Unlock()
		if wait <= 0 {
			break
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	r.mu.Lock()
	r.fsm.connecting(time.Now())
	timeout := r.fsm.connectTimeout()
	r.mu.Unlock()
	var conn net.Conn
	err := r.kerr
	r.mu.Lock()
	tc := r.tls
	r.mu.Unlock()
	if err == nil && r.kind.TLS {
		err = sslNotReady(tc, r.log)
	}
	if err == nil {
		dctx, cancel := context.WithTimeout(ctx, timeout)
		var d net.Dialer
		conn, err = d.DialContext(dctx, r.kind.Network, r.kind.Address)
		if err == nil && r.kind.TLS {
			conn, err = dialTLS(dctx, conn, tc, r.remote, r.log)
		}
		timedOut := errors.Is(dctx.Err(), context.DeadlineExceeded)
		cancel()
		if ctx.Err() != nil {
			if conn != nil {
				_ = conn.Close()
			}
			return nil, ctx.Err()
		}
		if timedOut && err != nil {
			err = nil // C: "connection attempt timed out"
		}
	}
	if conn == nil {
		r.mu.Lock()
		if err != nil {
			r.fsm.connectFailed(time.Now(), err)
		} else {
			r.fsm.disconnected(time.Now(), nil)
			err = errors.New("connection attempt timed out")
		}
		r.mu.Unlock()
		return nil, err
	}
	c := NewClient(conn, opts...)
	r.mu.Lock()
	r.fsm.connected(time.Now())
	r.client = c
	r.mu.Unlock()
	go r.keepAlive(c)
	return c, nil
}

// Disconnected records the end of the connection of the client the last
// Dial returned (closing it if it is still open), as C logs it:
// "connection closed by peer" when the peer closed it, "connection
// dropped" after an inactivity probe without answer, the error
// otherwise; then the backoff before the next attempt. A connection this
// side closes for good (C's jsonrpc_session_close) is not recorded: call
// Close on the client instead.
func (r *Redialer) Disconnected(c *Client) {
	_ = c.Close()
	cause := c.Err()
	switch {
	case c.probeFailed.Load():
		cause = errProbeTimeout
	case cause == nil, errors.Is(cause, io.ErrUnexpectedEOF):
		cause = io.EOF
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == c {
		r.client = nil
	}
	r.fsm.lastActivity = c.LastActivity()
	r.fsm.disconnected(time.Now(), cause)
}

// keepAlive is c's inactivity probe (SetProbe): C's reconnect_run on a
// client session.
func (r *Redialer) keepAlive(c *Client) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var probeSent time.Time // zero: no probe outstanding
	for {
		r.mu.Lock()
		probe := r.probe
		r.mu.Unlock()
		var wait time.Duration
		now := time.Now()
		last := c.LastActivity()
		switch {
		case probe == 0:
			probeSent = time.Time{}
			wait = time.Hour
		case !probeSent.IsZero() && last.After(probeSent):
			probeSent = time.Time{}
			continue
		case !probeSent.IsZero():
			if now.Sub(probeSent) >= probe {
				r.log.With("module", "reconnect").Error(fmt.Sprintf("%s: no response to inactivity probe after %s seconds, disconnecting",
					r.remote, strconv.FormatFloat(probe.Seconds(), 'g', 3, 64)))
				c.probeFailed.Store(true)
				_ = c.cd.Close()
				return
			}
			wait = probe - now.Sub(probeSent)
		case now.Sub(last) >= probe:
			probeSent = now
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*probe)
				defer cancel()
				_, _ = c.Call(ctx, "echo", []any{})
			}()
			continue
		default:
			wait = probe - now.Sub(last)
		}
		t.Reset(wait)
		select {
		case <-c.Done():
			return
		case <-r.wake:
		case <-t.C:
		}
	}
}

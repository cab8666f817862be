package jsonrpc

// TLS remotes: "pssl:[PORT][:IP]" listeners (ListenTLS) and active
// "ssl:IP[:PORT]" remotes (Server.Connect with ActiveOptions.TLS), both
// configured by an internal/tlsconf.Config. A session starts once its
// handshake has succeeded; its peer's certificate common name is its
// PeerID (the RBAC id).

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
	"github.com/ovsdb-go/ovsdb-server/internal/vlog"
)

// HandshakeTimeout bounds the TLS handshake of an accepted connection:
// a client that does not complete it in time is disconnected.
const HandshakeTimeout = 30 * time.Second

// tlsListener is a pssl: listener: a TCP listener whose connections are
// TLS server connections of a tlsconf.Config (each handshake takes the
// configuration current when it starts).
type tlsListener struct {
	*net.TCPListener
	tc *tlsconf.Config
}

func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.TCPListener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(c, l.tc.ServerConfig()), nil
}

// ListenTLS opens a passive remote as Listen does, and also
// "pssl:[PORT][:IP]", whose connections are TLS with tc's settings
// (mutual authentication against its CA, as C): serve it with
// Server.Serve. A pssl: listener opens whatever tc holds, as C's: when
// the key, certificate or CA are missing, each connection fails and C's
// errors ("Private key must be configured to use SSL"...) are logged.
func ListenTLS(remote string, tc *tlsconf.Config, log *slog.Logger) (net.Listener, error) {
	if tc == nil {
		return nil, fmt.Errorf("%s: %w", remote, ErrUnsupportedRemote)
	}
	return listen(remote, tc, log)
}

// sslRL is C's rate limit of stream-ssl's error messages (10 a minute,
// bursts of 25).
var sslRL = vlog.NewRateLimit(10, 25)

// logSSL logs a TLS failure as a rate-limited warning of module
// stream_ssl, as C's interpret_ssl_error.
func logSSL(log *slog.Logger, msg string) {
	if ok, _ := sslRL.Allow("stream_ssl"); ok {
		log.Warn(msg, "module", "stream_ssl")
	}
}

// handshakeThenServe runs the handshake of an accepted TLS connection in
// its own goroutine and, when it succeeds, serves the connection in a
// session named "ssl:IP:PORT" (C's name). false: the server is closed.
func (s *Server) handshakeThenServe(conn *tls.Conn, probe time.Duration, onSession func(*Session), log *slog.Logger) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.Close()
		return false
	}
	if s.handshaking == nil {
		s.handshaking = map[net.Conn]struct{}{}
	}
	s.handshaking[conn] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		name := "ssl:" + conn.RemoteAddr().String()
		_ = conn.SetDeadline(time.Now().Add(HandshakeTimeout))
		err := conn.Handshake()
		_ = conn.SetDeadline(time.Time{})
		s.mu.Lock()
		delete(s.handshaking, conn)
		s.mu.Unlock()
		if err != nil {
			logSSL(log, fmt.Sprintf("%s: SSL_accept: %v", name, err))
			closeRefused(conn)
			return
		}
		_, _ = s.serveConn(conn, probe, name, onSession)
	}()
	return true
}

// closeRefused closes a connection whose handshake failed so that the
// peer reads the TLS alert sent: the write side is shut first and what
// the peer sent meanwhile (its first request, in TLS 1.3) is read and
// dropped for up to a second, since closing with unread data would reset
// the connection and the peer could lose the alert (C's clients then
// report "Input/output error", as with C's server).
func closeRefused(conn *tls.Conn) {
	if tc, ok := conn.NetConn().(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		_ = tc.SetReadDeadline(time.Now().Add(time.Second))
		_, _ = io.Copy(io.Discard, io.LimitReader(tc, 1<<20))
	}
	_ = conn.Close()
}

// dialTLS makes the TLS handshake of an active ssl: remote's new
// connection with tc's client settings, within ctx. A failed handshake
// is logged and reported as C reports it (EPROTO, "Protocol error").
func dialTLS(ctx context.Context, conn net.Conn, tc *tlsconf.Config, name string, log *slog.Logger) (net.Conn, error) {
	c := tls.Client(conn, tc.ClientConfig())
	if err := c.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		if ctx.Err() != nil {
			return nil, nil // timed out or stopped: the caller knows which
		}
		logSSL(log, fmt.Sprintf("%s: SSL_connect: %v", name, err))
		return nil, syscall.EPROTO
	}
	return c, nil
}

// sslNotReady checks that tc can make connections; if not, C's errors are
// logged and ENOPROTOOPT ("Protocol not available") is returned, as C's
// new_ssl_stream does for each attempt.
func sslNotReady(tc *tlsconf.Config, log *slog.Logger) error {
	if tc == nil {
		log.Error("Private key must be configured to use SSL", "module", "stream_ssl")
		return syscall.ENOPROTOOPT
	}
	if err := tc.Ready(); err != nil {
		for _, l := range splitLines(err.Error()) {
			log.Error(l, "module", "stream_ssl")
		}
		return syscall.ENOPROTOOPT
	}
	return nil
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

// WithTLS makes Dial use TLS with cfg, for "ssl:" remotes (required for
// them).
func WithTLS(cfg *tls.Config) ClientOption { return func(c *clientCodec) { c.tlsConfig = cfg } }

// errNoTLS is Dial's error for an ssl: remote without WithTLS.
var errNoTLS = errors.New("an ssl: remote needs WithTLS")

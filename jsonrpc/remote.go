package jsonrpc

// Remotes: parsing the connection methods, opening passive ones (Listen)
// and accepting their connections (Server.Serve). This is the only
// listener stack: package server's AddRemote is built on it.

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/fsmode"
	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// DefaultPort is the OVSDB port used when a tcp or ptcp remote names none
// (C's OVSDB_PORT).
const DefaultPort = 6640

// Remote is a parsed connection method such as "punix:/run/db.sock",
// "ptcp:6641:127.0.0.1", "unix:/run/db.sock", "tcp:10.0.0.1:6641",
// "pssl:6641" or "ssl:10.0.0.1:6641".
type Remote struct {
	Passive bool   // punix:, ptcp:, pssl:
	Network string // "unix" or "tcp"
	Address string // socket path or host:port for net.Listen / net.Dial
	TLS     bool   // ssl:, pssl:
}

// ParseRemote parses the remote syntaxes of ovsdb-server(1):
// punix:PATH, ptcp:[PORT][:IP], unix:PATH and tcp:IP[:PORT], and their
// TLS forms pssl:[PORT][:IP] and ssl:IP[:PORT]. IPv6
// addresses may be written in brackets. A missing port is DefaultPort.
// A port that is not a number from 0 to 65535 gives the error
// "REMOTE: bad port number".
func ParseRemote(s string) (Remote, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Remote{}, fmt.Errorf("%s: unknown remote syntax", s)
	}
	port := func(p string) (string, error) {
		if p == "" {
			return strconv.Itoa(DefaultPort), nil
		}
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return "", fmt.Errorf("%s: bad port number", s)
		}
		return strconv.FormatUint(n, 10), nil
	}
	switch kind {
	case "punix", "unix":
		if rest == "" {
			return Remote{}, fmt.Errorf("%s: missing socket path", s)
		}
		if !filepath.IsAbs(rest) {
			// As C: a relative socket path is in the OVS run directory.
			rest = filepath.Join(fsmode.RunDir(), rest)
		}
		return Remote{Passive: kind == "punix", Network: "unix", Address: rest}, nil
	case "ptcp", "pssl":
		portStr, host, _ := strings.Cut(rest, ":")
		p, err := port(portStr)
		if err != nil {
			return Remote{}, err
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		return Remote{Passive: true, Network: "tcp", Address: net.JoinHostPort(host, p), TLS: kind == "pssl"}, nil
	case "tcp", "ssl":
		host, portStr := rest, ""
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return Remote{}, fmt.Errorf("%s: bad IPv6 address", s)
			}
			host = rest[1:end]
			portStr = strings.TrimPrefix(rest[end+1:], ":")
		} else if i := strings.LastIndexByte(rest, ':'); i >= 0 && strings.Count(rest, ":") == 1 {
			host, portStr = rest[:i], rest[i+1:]
		}
		if host == "" {
			return Remote{}, fmt.Errorf("%s: missing host", s)
		}
		p, err := port(portStr)
		if err != nil {
			return Remote{}, err
		}
		return Remote{Network: "tcp", Address: net.JoinHostPort(host, p), TLS: kind == "ssl"}, nil
	}
	return Remote{}, fmt.Errorf("%s: unknown remote type %q", s, kind)
}

// ListenError is Listen's failure to open a passive remote; its text is
// C's "REMOTE: listen failed: STRERROR" (e.g. "Address already in use").
type ListenError struct {
	Remote string
	Err    error // the *net.OpError
}

func (e *ListenError) Error() string {
	return e.Remote + ": listen failed: " + ovsdberr.Strerror(e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }

// ErrUnsupportedRemote is Listen's error (wrapped: "REMOTE: unsupported
// remote") for a remote that is not punix: or ptcp: (nor pssl: for
// ListenTLS).
var ErrUnsupportedRemote = errors.New("unsupported remote")

// Listen opens the passive remote "punix:PATH" or "ptcp:[PORT][:IP]" (PORT
// 0 picks a free port: see the listener's Addr) as C's pstream_open does;
// serve it with Server.Serve. A unix socket is created with C's mode
// (internal/fsmode.Listen), replacing a stale socket file left at PATH,
// and its file is removed when the listener is closed. A TCP listener logs
// C's "PORT[:IP]: listening on port N" to log (nil: slog.Default()) under
// module socket_util. Errors: "REMOTE: bad port number" and the other
// ParseRemote errors, a *ListenError ("REMOTE: listen failed: CAUSE", C's
// text), and ErrUnsupportedRemote for any other remote (active,
// ssl, db:...; pssl: is ListenTLS's).
func Listen(remote string, log *slog.Logger) (net.Listener, error) {
	return listen(remote, nil, log)
}

func listen(remote string, tc *tlsconf.Config, log *slog.Logger) (net.Listener, error) {
	kind, _, _ := strings.Cut(remote, ":")
	if kind != "punix" && kind != "ptcp" && (kind != "pssl" || tc == nil) {
		return nil, fmt.Errorf("%s: %w", remote, ErrUnsupportedRemote)
	}
	r, err := ParseRemote(remote)
	if err != nil {
		return nil, err
	}
	if r.Network == "unix" {
		// Replace a stale socket left by a previous process, as C does.
		if st, err := os.Lstat(r.Address); err == nil && st.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(r.Address)
		}
	}
	ln, err := fsmode.Listen(r.Network, r.Address)
	if err != nil {
		return nil, &ListenError{Remote: remote, Err: err}
	}
	switch l := ln.(type) {
	case *net.UnixListener:
		l.SetUnlinkOnClose(true)
	case *net.TCPListener:
		if log == nil {
			log = slog.Default()
		}
		log.Info(fmt.Sprintf("%s: listening on port %d", strings.TrimPrefix(strings.TrimPrefix(remote, "ptcp:"), "pssl:"), l.Addr().(*net.TCPAddr).Port),
			"module", "socket_util")
	}
	if r.TLS {
		return &tlsListener{TCPListener: ln.(*net.TCPListener), tc: tc}, nil
	}
	return ln, nil
}

// ServeOptions configure the sessions of one listener (Server.Serve).
type ServeOptions struct {
	// Name names the listener in log lines ("NAME: accept failed (...)");
	// empty: the listening address.
	Name string
	// Probe is the inactivity probe interval of the listener's sessions:
	// 0 means the default for the kind of listener, Options.ProbeInterval
	// for TCP and none for unix sockets (as C, which probes only the
	// streams that need it); negative means none.
	Probe time.Duration
	// OnSession, if not nil, is called with each accepted session before
	// its first message is read, after the Server's OnSession hooks.
	OnSession func(*Session)
	// Logger receives the accept failures; nil: the server's logger.
	Logger *slog.Logger
}

// Serve accepts the connections of ln and serves each in a new session,
// until ln is closed (then it returns nil) or the server is (then it
// returns ErrServerClosed, and ln is closed). Server.Close closes the
// listeners being served. Accepted sessions are named as C names their
// streams (Session.Name): "unix#N" on unix sockets (N counts the server's
// accepted unix sessions from 0), "tcp:IP:PORT" on TCP, "ssl:IP:PORT" on
// TLS (ListenTLS: the session starts once the handshake has succeeded; a
// failed handshake is logged and the connection closed). A failed accept
// is logged as a warning, and accepting goes on after a pause, as C
// keeps its listener.
func (s *Server) Serve(ln net.Listener, opts ServeOptions) error {
	log := opts.Logger
	if log == nil {
		log = s.log
	}
	name := opts.Name
	if name == "" {
		name = ln.Addr().String()
	}
	probe := opts.Probe
	if probe == 0 && ln.Addr().Network() == "tcp" {
		probe = s.opts.ProbeInterval
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		s.wg.Done()
	}()
	var pause time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			log.Warn(fmt.Sprintf("%s: accept failed (%v)", name, err))
			// Do not spin on a lasting failure (out of descriptors).
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			time.Sleep(pause)
			continue
		}
		pause = 0
		if tc, ok := conn.(*tls.Conn); ok {
			if !s.handshakeThenServe(tc, probe, opts.OnSession, log) {
				return ErrServerClosed
			}
			continue
		}
		var sname string
		if _, ok := conn.(*net.UnixConn); ok {
			sname = fmt.Sprintf("unix#%d", s.unixSeq.Add(1)-1)
		} else {
			sname = "tcp:" + conn.RemoteAddr().String()
		}
		if _, err := s.serveConn(conn, probe, sname, opts.OnSession); err != nil {
			return err
		}
	}
}

// setDSCP sets the DSCP bits of a TCP socket's packets (IP_TOS, and
// IPV6_TCLASS on an IPv6 socket), as C does for its remotes; failures are
// ignored, as C only logs them.
func setDSCP(fd int, network string, dscp int) {
	if !strings.HasPrefix(network, "tcp") {
		return
	}
	tos := dscp << 2
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, syscall.IP_TOS, tos)
	if network != "tcp4" {
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_TCLASS, tos)
	}
}

// SetListenerDSCP sets the DSCP value of a TCP listener's packets, and so
// of the connections it accepts (C's other_config:dscp of a remote, 48 by
// default). Other listeners are left alone.
func SetListenerDSCP(ln net.Listener, dscp int) {
	if l, ok := ln.(*tlsListener); ok {
		ln = l.TCPListener
	}
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return
	}
	network := "tcp4"
	if a, ok := tl.Addr().(*net.TCPAddr); ok && a.IP.To4() == nil {
		network = "tcp6"
	}
	_ = rc.Control(func(fd uintptr) { setDSCP(int(fd), network, dscp) })
}

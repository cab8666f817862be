package jsonrpc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/fsmode"
)

// DefaultPort is the OVSDB port used when a tcp remote names none.
const DefaultPort = 6640

// Remote is a parsed connection method such as "punix:/run/db.sock",
// "ptcp:6641:127.0.0.1", "unix:/run/db.sock" or "tcp:10.0.0.1:6641".
type Remote struct {
	Passive bool   // punix:, ptcp:
	Network string // "unix" or "tcp"
	Address string // socket path or host:port for net.Listen / net.Dial
}

// ParseRemote parses the remote syntaxes of ovsdb-server(1):
// punix:PATH, ptcp:[PORT][:IP], unix:PATH and tcp:IP[:PORT]. IPv6
// addresses may be written in brackets.
func ParseRemote(s string) (Remote, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Remote{}, fmt.Errorf("%s: unknown remote syntax", s)
	}
	switch kind {
	case "punix", "unix":
		if rest == "" {
			return Remote{}, fmt.Errorf("%s: missing socket path", s)
		}
		return Remote{Passive: kind == "punix", Network: "unix", Address: rest}, nil
	case "ptcp":
		portStr, host := rest, ""
		if i := strings.IndexByte(rest, ':'); i >= 0 {
			portStr, host = rest[:i], rest[i+1:]
		}
		port := DefaultPort
		if portStr != "" {
			p, err := strconv.ParseUint(portStr, 10, 16)
			if err != nil {
				return Remote{}, fmt.Errorf("%s: bad port number %q", s, portStr)
			}
			port = int(p)
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		return Remote{Passive: true, Network: "tcp", Address: net.JoinHostPort(host, strconv.Itoa(port))}, nil
	case "tcp":
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
		port := DefaultPort
		if portStr != "" {
			p, err := strconv.ParseUint(portStr, 10, 16)
			if err != nil {
				return Remote{}, fmt.Errorf("%s: bad port number %q", s, portStr)
			}
			port = int(p)
		}
		return Remote{Network: "tcp", Address: net.JoinHostPort(host, strconv.Itoa(port))}, nil
	}
	return Remote{}, fmt.Errorf("%s: unknown remote type %q", s, kind)
}

// Listener is a passive remote being served.
type Listener struct {
	srv    *Server
	remote string
	ln     net.Listener
	probe  time.Duration
	once   sync.Once
	done   chan struct{}
	unlink string
}

// Addr returns the listening address (useful with ptcp:0).
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Remote returns the remote string the listener was created from.
func (l *Listener) Remote() string { return l.remote }

// Close stops accepting connections; established sessions stay open.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		err = l.ln.Close()
		<-l.done
		if l.unlink != "" {
			os.Remove(l.unlink)
		}
		l.srv.mu.Lock()
		delete(l.srv.listeners, l)
		l.srv.mu.Unlock()
	})
	return err
}

// Listen starts serving a passive remote (punix:PATH or ptcp:PORT[:IP]).
// TCP sessions get the inactivity probe of Options.ProbeInterval.
func (s *Server) Listen(remote string) (*Listener, error) {
	r, err := ParseRemote(remote)
	if err != nil {
		return nil, err
	}
	if !r.Passive {
		return nil, fmt.Errorf("%s: not a passive remote", remote)
	}
	probe := time.Duration(0)
	unlink := ""
	if r.Network == "unix" {
		// Replace a stale socket left by a previous process, as C does.
		if st, err := os.Lstat(r.Address); err == nil && st.Mode()&os.ModeSocket != 0 {
			os.Remove(r.Address)
		}
		unlink = r.Address
	} else if s.opts.ProbeInterval > 0 {
		probe = s.opts.ProbeInterval
	}
	ln, err := fsmode.Listen(r.Network, r.Address)
	if err != nil {
		return nil, fmt.Errorf("%s: listen failed: %w", remote, err)
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
	}
	l := &Listener{srv: s, remote: remote, ln: ln, probe: probe, done: make(chan struct{}), unlink: unlink}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil, ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	go l.accept()
	return l, nil
}

func (l *Listener) accept() {
	defer close(l.done)
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			l.srv.log.Warn("accept failed", "remote", l.remote, "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if _, err := l.srv.ServeConn(conn, l.probe); err != nil {
			return
		}
	}
}

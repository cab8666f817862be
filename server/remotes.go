package server

// The remotes: passive listeners (punix:, ptcp:), the configured set that
// list-remotes shows, and db: remote validation.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/fsmode"
	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
)

// AddRemote starts serving the passive remote "punix:PATH" or
// "ptcp:PORT[:IP]" (PORT 0 picks a free port; see RemoteAddr). Other
// remotes (active unix:/tcp:, ssl:, pssl:, db:) are recorded so that
// ListRemotes shows them, as C does, but return ErrUnsupportedRemote.
// A "db:DB,TABLE,COLUMN" remote naming a database, table or column that
// does not exist is refused, not recorded, with an *InvalidRemoteError
// carrying C's text. Adding a remote that is already present does
// nothing.
func (s *Server) AddRemote(name string) error {
	if strings.HasPrefix(name, "db:") {
		if err := s.checkDBRemote(name); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("server closed")
	}
	if _, ok := s.remotes[name]; ok {
		s.mu.Unlock()
		return nil
	}
	r := &remote{name: name, sessions: make(map[*jsonrpc.Session]struct{})}
	s.remotes[name] = r
	s.mu.Unlock()

	network, addr, probe, err := parseRemote(name)
	if err != nil {
		r.err = err
		return err
	}
	if network == "unix" {
		if st, err := os.Lstat(addr); err == nil && st.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(addr)
		}
	}
	ln, err := fsmode.Listen(network, addr)
	if err != nil {
		err = fmt.Errorf("%s: listen failed (%w)", name, err)
		s.mu.Lock()
		r.err = err
		s.mu.Unlock()
		s.log().Error(err.Error())
		return err
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(true)
	}
	if network == "tcp" {
		s.log().Info(fmt.Sprintf("%s: listening on port %d", strings.TrimPrefix(name, "ptcp:"), ln.Addr().(*net.TCPAddr).Port), "module", "socket_util")
	}
	s.mu.Lock()
	if s.closed || s.remotes[name] != r {
		s.mu.Unlock()
		_ = ln.Close()
		return errors.New("server closed")
	}
	r.ln = ln
	s.wg.Add(1)
	s.mu.Unlock()
	go s.acceptLoop(r, ln, probe)
	return nil
}

// InvalidRemoteError is AddRemote's refusal of a "db:" remote; Error()
// is C's text, e.g. "\"db:x,y,z\": no database named x".
type InvalidRemoteError struct{ Msg string }

func (e *InvalidRemoteError) Error() string { return e.Msg }

// checkDBRemote validates "db:DB,TABLE,COLUMN" as C's parse_db_column:
// the three names are the first three non-empty comma-separated tokens
// after the first ':' (strtok), and must name a database (_Server
// included), one of its tables and one of that table's columns (_uuid
// and _version included). The column's type is not checked here (C
// ignores columns of other types when it reads the remotes).
func (s *Server) checkDBRemote(name string) error {
	bad := func(format string, args ...any) error {
		return &InvalidRemoteError{Msg: fmt.Sprintf("\"%s\": ", name) + fmt.Sprintf(format, args...)}
	}
	_, rest, _ := strings.Cut(name, ":")
	var tok []string
	for _, f := range strings.Split(rest, ",") {
		if f != "" {
			tok = append(tok, f)
		}
	}
	if len(tok) < 3 {
		return bad("invalid syntax")
	}
	db := s.Engine(tok[0])
	if db == nil {
		return bad("no database named %s", tok[0])
	}
	t := db.Schema().Tables[tok[1]]
	if t == nil {
		return bad("no table named %s", tok[1])
	}
	if _, ok := t.ByName[tok[2]]; !ok {
		return bad("table \"%s\" has no column \"%s\"", tok[1], tok[2])
	}
	return nil
}

// ErrUnsupportedRemote is returned by AddRemote for remotes this server
// records but cannot serve.
var ErrUnsupportedRemote = errors.New("unsupported remote")

func parseRemote(name string) (network, addr string, probe time.Duration, err error) {
	switch {
	case strings.HasPrefix(name, "punix:"):
		return "unix", strings.TrimPrefix(name, "punix:"), -1, nil
	case strings.HasPrefix(name, "ptcp:"):
		rest := strings.TrimPrefix(name, "ptcp:")
		port, ip := rest, ""
		if i := strings.Index(rest, ":"); i >= 0 {
			port, ip = rest[:i], rest[i+1:]
		}
		if _, perr := strconv.ParseUint(port, 10, 16); perr != nil {
			return "", "", 0, fmt.Errorf("%s: bad port number", name)
		}
		ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
		return "tcp", net.JoinHostPort(ip, port), jsonrpc.DefaultProbeInterval, nil
	default:
		return "", "", 0, fmt.Errorf("%s: %w", name, ErrUnsupportedRemote)
	}
}

func (s *Server) acceptLoop(r *remote, ln net.Listener, probe time.Duration) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log().Warn(fmt.Sprintf("%s: accept failed (%v)", r.name, err))
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
			}
			return
		}
		if probe < 0 {
			probe = 0
		}
		ss, err := s.rpc.ServeConn(c, probe)
		if err != nil {
			return
		}
		if _, ok := c.(*net.UnixConn); ok {
			ss.Set(sessionNameKey{}, fmt.Sprintf("unix#%d", s.unixSeq.Add(1)-1))
		} else {
			ss.Set(sessionNameKey{}, "tcp:"+c.RemoteAddr().String())
		}
		s.mu.Lock()
		if s.remotes[r.name] != r {
			s.mu.Unlock()
			_ = ss.Close()
			continue
		}
		r.sessions[ss] = struct{}{}
		s.mu.Unlock()
		ss.OnClose(func() {
			s.mu.Lock()
			delete(r.sessions, ss)
			s.mu.Unlock()
		})
	}
}

// RemoveRemote stops the remote and closes its sessions, as C does. The
// error for an unknown remote is C's "no such remote".
func (s *Server) RemoveRemote(name string) error {
	s.mu.Lock()
	r := s.remotes[name]
	if r == nil {
		s.mu.Unlock()
		return errors.New("no such remote")
	}
	delete(s.remotes, name)
	ln := r.ln
	sessions := make([]*jsonrpc.Session, 0, len(r.sessions))
	for ss := range r.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	for _, ss := range sessions {
		_ = ss.Close()
	}
	return nil
}

// ListRemotes returns the configured remotes, sorted.
func (s *Server) ListRemotes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.remotes))
	for n := range s.remotes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// RemoteAddr returns the listening address of a served remote (for
// "ptcp:0" the chosen port), or nil.
func (s *Server) RemoteAddr(name string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.remotes[name]; r != nil && r.ln != nil {
		return r.ln.Addr()
	}
	return nil
}

// Reconnect closes every client session (ovsdb-server/reconnect); clients
// reconnect by themselves.
func (s *Server) Reconnect() {
	for _, ss := range s.rpc.Sessions() {
		_ = ss.Close()
	}
}

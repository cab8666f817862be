package server

// The remotes: passive listeners (punix:, ptcp:), the configured set that
// list-remotes shows, and db: remote validation.

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
)

// AddRemote starts serving the passive remote "punix:PATH" or
// "ptcp:[PORT][:IP]" (PORT 0 picks a free port; see RemoteAddr) with
// jsonrpc.Listen and jsonrpc.Server.Serve: TCP sessions get the inactivity
// probe of Options.JSONRPC.ProbeInterval, unix sockets none, as C.
// Other remotes (active unix:/tcp:, ssl:, pssl:, db:) are recorded so
// that ListRemotes shows them, as C does, but return ErrUnsupportedRemote.
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

	ln, err := jsonrpc.Listen(name, s.log())
	if err != nil {
		s.mu.Lock()
		r.err = err
		s.mu.Unlock()
		// The socket could not be opened ("listen failed"): C logs it.
		var oe *net.OpError
		if errors.As(err, &oe) {
			s.log().Error(err.Error())
		}
		return err
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
	go func() {
		defer s.wg.Done()
		_ = s.rpc.Serve(ln, jsonrpc.ServeOptions{Name: name, Logger: s.log(), OnSession: func(ss *jsonrpc.Session) {
			s.addRemoteSession(r, ss)
		}})
	}()
	return nil
}

// addRemoteSession records ss as a session of r (RemoveRemote closes it),
// or closes it if r was removed meanwhile.
func (s *Server) addRemoteSession(r *remote, ss *jsonrpc.Session) {
	s.mu.Lock()
	if s.remotes[r.name] != r {
		s.mu.Unlock()
		_ = ss.Close()
		return
	}
	r.sessions[ss] = struct{}{}
	s.mu.Unlock()
	ss.OnClose(func() {
		s.mu.Lock()
		delete(r.sessions, ss)
		s.mu.Unlock()
	})
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
// records but cannot serve (it is jsonrpc.ErrUnsupportedRemote).
var ErrUnsupportedRemote = jsonrpc.ErrUnsupportedRemote

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

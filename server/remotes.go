package server

// The configured remotes (what list-remotes shows) and their API: add,
// remove, list, addresses, reconnect. How they are resolved to targets and
// served is in dbremotes.go.

import (
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
)

// AddRemote adds a remote to the configured set, as C's --remote and
// ovsdb-server/add-remote, and serves it before returning:
//   - "punix:PATH", "ptcp:[PORT][:IP]": a listener (PORT 0 picks a free
//     port; see RemoteAddr). TCP sessions get the inactivity probe of
//     Options.JSONRPC.ProbeInterval (C's 5 s by default), unix sockets
//     none, as C. If the listener cannot be opened, the error (C's
//     "REMOTE: listen failed: CAUSE") is logged and returned, the remote
//     stays configured and the listener is tried again every 2.5 s.
//   - "unix:PATH", "tcp:IP[:PORT]": an active remote: the server connects
//     out and serves a session on the connection, reconnecting with C's
//     backoff (jsonrpc.Server.Connect).
//   - "db:DB,TABLE,COLUMN": the targets read from that column (strings,
//     or rows referred to with target, max_backoff, inactivity_probe,
//     read_only, role, other_config:dscp), followed as the database
//     changes, with the status of each row kept up to date as C does. A
//     db: remote naming a database, table or column that does not exist
//     is refused, not recorded, with an *InvalidRemoteError carrying C's
//     text.
//   - "pssl:[PORT][:IP]", "ssl:IP[:PORT]": as ptcp: and tcp:, over TLS
//     with the configuration given to SetTLS (mutual authentication
//     against its CA, as C); without one, or while it lacks a key,
//     certificate or CA, the listener opens and each connection fails
//     with C's logged errors, as in C.
//
// Adding a remote that is already configured does nothing. Several
// configured remotes that name one target share one listener (or active
// connection), as in C.
func (s *Server) AddRemote(name string) error {
	if strings.HasPrefix(name, "db:") {
		if err := s.checkDBRemote(name); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errServerClosed
	}
	if _, ok := s.remotes[name]; ok {
		s.mu.Unlock()
		return nil
	}
	// The closer stands for the remote's listener in Server.Close, which
	// closes it: that stops every live remote (dbremotes.go).
	s.remotes[name] = &remote{name: name, ln: remotesCloser{s}}
	s.mu.Unlock()
	s.startRemotes()
	errs := s.reconcileRemotes()
	if !strings.HasPrefix(name, "db:") {
		return errs[name]
	}
	return nil
}

// InvalidRemoteError is AddRemote's refusal of a "db:" remote; Error()
// is C's text, e.g. "\"db:x,y,z\": no database named x".
type InvalidRemoteError struct{ Msg string }

func (e *InvalidRemoteError) Error() string { return e.Msg }

// checkDBRemote validates "db:DB,TABLE,COLUMN" as C's parse_db_column
// (see parseDBRemote). The column's type is not checked here (C ignores
// columns of other types when it reads the remotes).
func (s *Server) checkDBRemote(name string) error {
	_, err := s.parseDBRemote(name)
	return err
}

// parseDBRemote parses "db:DB,TABLE,COLUMN" as C's parse_db_column: the
// three names are the first three non-empty comma-separated tokens after
// the first ':' (strtok), and must name a database (_Server included),
// one of its tables and one of that table's columns (_uuid and _version
// included). Errors are *InvalidRemoteError with C's texts.
func (s *Server) parseDBRemote(name string) (*dbRemote, error) {
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
		return nil, bad("invalid syntax")
	}
	db := s.Engine(tok[0])
	if db == nil {
		return nil, bad("no database named %s", tok[0])
	}
	t := db.Schema().Tables[tok[1]]
	if t == nil {
		return nil, bad("no table named %s", tok[1])
	}
	c, ok := t.ByName[tok[2]]
	if !ok {
		return nil, bad("table \"%s\" has no column \"%s\"", tok[1], tok[2])
	}
	return &dbRemote{name: name, dbName: tok[0], db: db, table: t, column: c}, nil
}

// ErrUnsupportedRemote is jsonrpc.ErrUnsupportedRemote (AddRemote no
// longer returns it: every remote kind is served).
var ErrUnsupportedRemote = jsonrpc.ErrUnsupportedRemote

// SetTLS sets the TLS configuration of the ssl: and pssl: remotes: new
// connections use it (each handshake takes its settings when it starts,
// see internal/tlsconf), established ones are not affected. Until it is
// called, an empty configuration is used, whose connections fail as C's
// do without key, certificate and CA.
func (s *Server) SetTLS(c *tlsconf.Config) { s.dbRemotes.tls.Store(c) }

// tlsConfig returns the configuration of SetTLS, or an empty one.
func (s *Server) tlsConfig() *tlsconf.Config {
	st := &s.dbRemotes
	if c := st.tls.Load(); c != nil {
		return c
	}
	c, _ := tlsconf.New(tlsconf.Settings{}, s.opts.Logger)
	st.tls.CompareAndSwap(nil, c)
	return st.tls.Load()
}

// RemoveRemote removes a configured remote, as C: the targets it alone
// provided stop ("REMOTE: remote deconfigured" is logged) and their
// sessions are closed. The error for a remote that is not configured is
// C's "no such remote".
func (s *Server) RemoveRemote(name string) error {
	s.mu.Lock()
	if s.remotes[name] == nil {
		s.mu.Unlock()
		return fmt.Errorf("no such remote")
	}
	delete(s.remotes, name)
	s.mu.Unlock()
	s.reconcileRemotes()
	return nil
}

// ListRemotes returns the configured remotes, sorted.
func (s *Server) ListRemotes() []string { return s.configuredRemotes() }

// RemoteAddr returns the listening address of the passive target name,
// whether configured by name or read from a database by a db: remote
// (for "ptcp:0" the chosen port), or nil if it is not listening.
func (s *Server) RemoteAddr(name string) net.Addr {
	st := &s.dbRemotes
	st.mu.Lock()
	defer st.mu.Unlock()
	if lr := st.live[name]; lr != nil && lr.ln != nil {
		return lr.ln.Addr()
	}
	return nil
}

// RemoteTargets returns the targets being served or tried (listeners and
// active remotes), sorted:
// the configured remotes with the db: ones replaced by what they read.
func (s *Server) RemoteTargets() []string {
	st := &s.dbRemotes
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]string, 0, len(st.live))
	for t := range st.live {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// RemoteStatus returns the status C writes for a target into the row it
// was read from: is_connected and the status map (see remoteStatus).
func (s *Server) RemoteStatus(target string) (connected bool, status map[string]string) {
	return s.remoteStatus(target)
}

// Reconnect closes every client session (ovsdb-server/reconnect), logging
// C's "NAME: disconnecting (user ran ovsdb-server/reconnect)"; clients
// reconnect by themselves, active remotes after their backoff.
func (s *Server) Reconnect() {
	log := s.jsonrpcLog()
	for _, ss := range s.rpc.Sessions() {
		log.Info(ss.Name() + ": disconnecting (user ran ovsdb-server/reconnect)")
		_ = ss.Close()
	}
}

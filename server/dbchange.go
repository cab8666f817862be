package server

import (
	"context"
	"log/slog"

	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// dbChangeAwareKey is the jsonrpc.Session value set by set_db_change_aware.
type dbChangeAwareKey struct{}

// DBChangeAware reports whether the session asked, with
// set_db_change_aware [true], to be told about removed or converted
// databases (monitor_canceled notifications) instead of being
// disconnected.
func DBChangeAware(ss *jsonrpc.Session) bool {
	v, _ := ss.Get(dbChangeAwareKey{})
	b, _ := v.(bool)
	return b
}

// OnDatabaseGone registers fn, called with a database's name when the
// database is removed (remove-db) or replaced by an online conversion,
// before the sessions that are not db-change-aware are disconnected. The
// monitor layer uses it to cancel the monitors of that database, sending
// "monitor_canceled" [monitor-id] to sessions for which DBChangeAware is
// true (C's ovsdb_jsonrpc_monitor_destroy with notify).
func (s *Server) OnDatabaseGone(fn func(name string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dbGone = append(s.dbGone, fn)
}

// databaseGone runs the hooks for name, then disconnects every session
// that is not db-change-aware (as C's ovsdb_jsonrpc_server_remove_db and
// ovsdb_jsonrpc_server_reconnect(force=false)).
// keep, if not nil, is left connected.
func (s *Server) databaseGone(name, comment string, keep *jsonrpc.Session) {
	// C cancels the database's triggers: blocked transacts of
	// db-change-aware sessions are answered "canceled" (the others are
	// disconnected below, without a reply).
	s.cancelDatabase(name, false)
	s.reconnectUnaware(comment, keep)
}

// cancelDatabase runs the OnDatabaseGone hooks for name, cancels every
// monitor of the database ("monitor_canceled" to db-change-aware
// sessions) and answers the database's blocked transacts "canceled": of
// db-change-aware sessions only, or of every session when all is set (the
// sessions stay connected).
func (s *Server) cancelDatabase(name string, all bool) {
	s.mu.Lock()
	hooks := append([]func(string){}, s.dbGone...)
	s.mu.Unlock()
	for _, fn := range hooks {
		fn(name)
	}
	if s.mon != nil {
		for _, c := range s.mon.CancelDatabase(name) {
			if ss, ok := c.Session.(*jsonrpc.Session); ok && DBChangeAware(ss) {
				_ = ss.Notify("monitor_canceled", []any{c.ID})
			}
		}
	}
	for _, ss := range s.rpc.Sessions() {
		if all || DBChangeAware(ss) {
			ss.CancelTransacts(name)
		}
	}
}

// reconnectUnaware disconnects every session that is not
// db-change-aware, but keep (if not nil), logging C's
// "NAME: disconnecting (COMMENT)" (NAME is C's stream name, "unix#N" or
// "tcp:IP:PORT": jsonrpc.Session.Name) (C's ovsdb_jsonrpc_server_reconnect with
// force=false). C does it when a database is added, removed or converted.
func (s *Server) reconnectUnaware(comment string, keep *jsonrpc.Session) {
	log := s.opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("module", "ovsdb_jsonrpc_server")
	for _, ss := range s.rpc.Sessions() {
		if ss != keep && !DBChangeAware(ss) {
			log.Info(ss.Name() + ": disconnecting (" + comment + ")")
			_ = ss.Close()
		}
	}
}

func (s *Server) registerDBChangeMethods() {
	s.rpc.Register("set_db_change_aware", jsonrpc.Method{Handler: func(_ context.Context, ss *jsonrpc.Session, params []any) (any, error) {
		var b, ok bool
		if len(params) == 1 {
			b, ok = params[0].(bool)
		}
		if !ok {
			return nil, ovsdberr.Syntax(params, "set_db_change_aware: true or false parameter expected")
		}
		ss.Set(dbChangeAwareKey{}, b)
		ss.SetDBChangeAware(b) // the JSON-RPC layer answers cancels accordingly
		return map[string]any{}, nil
	}})
}

package server

import (
	"context"
	"errors"

	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// ConvertDatabase converts the named database online to schema ns, as the
// "convert" method does: the data is kept (see standalone.ConvertDatabase
// for the rules), the storage is rewritten, monitors of the database are
// canceled (OnDatabaseGone hooks) and every session that is not
// db-change-aware is disconnected, except keep (the requester, which C
// disconnects only after its reply). As in C 3.1 for standalone
// databases, the _Server row keeps showing the old schema text.
//
// A mode whose conversions are replicated (Convert returns the receiver:
// a Raft member, whose conversion every member applies from the log) is
// served as C serves a clustered database whose schema changed, here as
// on the other members (modeConverted): the _Server row shows the new
// schema, and sessions that are not db-change-aware are disconnected only
// if the schema's version changed (schemaReplaced).
func (s *Server) ConvertDatabase(name string, ns *schema.DatabaseSchema, keep *jsonrpc.Session) error {
	_, err := s.convertDatabase(name, ns, keep)
	return err
}

// convertDatabase is ConvertDatabase; it also reports whether sessions
// that are not db-change-aware were disconnected (keep should then be
// disconnected after its reply).
func (s *Server) convertDatabase(name string, ns *schema.DatabaseSchema, keep *jsonrpc.Session) (bool, error) {
	if ns.Name != name {
		return false, ovsdberr.New("invalid parameters", "new schema name (%s) does not match database name (%s)", ns.Name, name)
	}
	s.convertMu.Lock()
	defer s.convertMu.Unlock()
	s.mu.Lock()
	e := s.dbs[name]
	s.mu.Unlock()
	if e == nil {
		return false, errors.New("no database by that name")
	}
	nm, err := e.mode.Convert(ns)
	if errors.Is(err, ErrUnsupported) {
		return false, ovsdberr.New(ovsdberr.TagOVSDB, "%s: storage does not support conversion", name)
	}
	if err != nil {
		return false, err
	}
	info, changed := nm.Info()
	ne := &dbEntry{path: e.path, mode: nm, db: nm.Database(), model: info.Model, rowID: e.rowID, gone: make(chan struct{})}
	oldVersion := e.db.Schema().Version
	s.mu.Lock()
	if s.dbs[name] != e { // removed meanwhile (or the server closed)
		s.mu.Unlock()
		_ = nm.Close()
		return false, errors.New("no database by that name")
	}
	ne.setRefuse(info)
	s.dbs[name] = ne
	close(e.gone)
	s.mu.Unlock()
	s.convertedRow(ne, info)
	if changed != nil {
		s.wg.Add(1)
		go s.watchInfo(ne, info, changed)
	}
	if nm == e.mode {
		changed := oldVersion != ne.db.Schema().Version
		s.schemaReplaced(name, changed, keep)
		return changed, nil
	}
	comment := "committed " + name + " database schema conversion"
	s.databaseGone(name, comment, keep)
	return true, nil
}

// convertedRow rewrites the _Server.Database row of a converted
// database: a clustered one shows its new schema, as C (whose storage
// reports the schema change); a standalone one keeps the old text, as C
// 3.1.
func (s *Server) convertedRow(e *dbEntry, info Info) {
	if info.Model == "clustered" {
		s.updateSysRowSchema(e.rowID, e.db, info)
	}
}

// modeConverted serves the new engine of e's mode after a conversion
// that reached the mode from elsewhere (Mode.Database changed: a
// clustered database converted through another member, or by this
// member's own Convert before ConvertDatabase took over; a backup's
// database converted to its active server's schema): the entry is
// replaced, monitors of the database are canceled and sessions that are
// not db-change-aware are disconnected, as for a local conversion. It is
// called by e's Info watcher, which ends.
func (s *Server) modeConverted(e *dbEntry) {
	s.convertMu.Lock()
	defer s.convertMu.Unlock()
	name := e.db.Name()
	info, changed := e.mode.Info()
	ne := &dbEntry{path: e.path, mode: e.mode, db: e.mode.Database(), model: info.Model, rowID: e.rowID, gone: make(chan struct{})}
	s.mu.Lock()
	if s.dbs[name] != e { // removed, or ConvertDatabase replaced it
		s.mu.Unlock()
		return
	}
	ne.setRefuse(info)
	s.dbs[name] = ne
	close(e.gone)
	s.mu.Unlock()
	// The row shows the new schema whatever the model: a clustered
	// database's as C's, and a backup's of active-backup replication
	// (converted to its active server's schema, which C never does).
	s.updateSysRowSchema(ne.rowID, ne.db, info)
	if changed != nil {
		s.wg.Add(1)
		go s.watchInfo(ne, info, changed)
	}
	s.schemaReplaced(name, e.db.Schema().Version != ne.db.Schema().Version, nil)
}

// schemaReplaced does to the sessions what C does when a clustered
// database's schema changes under them (its update_schema, on every
// member): every monitor of the database is canceled ("monitor_canceled"
// to db-change-aware sessions) and blocked transactions are answered
// "canceled"; sessions that are not db-change-aware, but keep, are
// disconnected only if the schema's version changed (comment "database
// NAME schema changed"); otherwise they stay connected without their
// monitors.
func (s *Server) schemaReplaced(name string, versionChanged bool, keep *jsonrpc.Session) {
	if versionChanged {
		s.databaseGone(name, "database "+name+" schema changed", keep)
		return
	}
	s.cancelDatabase(name, true)
}

func (s *Server) registerConvert() {
	s.rpc.Register("convert", jsonrpc.Method{Cancelable: true,
		Handler: func(_ context.Context, ss *jsonrpc.Session, params []any) (any, error) {
			db, err := s.rpc.LookupDB("convert", params)
			if err != nil {
				return nil, err
			}
			if len(params) != 2 {
				return nil, ovsdberr.Syntax(params, "array expected")
			}
			ns, err := schema.ParseSchema(params[1])
			if err != nil {
				return nil, err
			}
			disconnected, err := s.convertDatabase(db.Name(), ns, ss)
			if err != nil {
				return nil, err
			}
			if disconnected && !DBChangeAware(ss) {
				ss.CloseAfterReply()
			}
			return map[string]any{}, nil
		}})
}

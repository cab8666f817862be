package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
	"github.com/ovsdb-go/ovsdb-server/monitor"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// Options configure a Server.
type Options struct {
	// Open opens database files under their replication mode; nil
	// means OpenStandalone.
	Open Opener
	// JSONRPC configures the JSON-RPC layer.
	JSONRPC jsonrpc.Options
	// Logger defaults to slog.Default(); "module" is set per component.
	Logger *slog.Logger
	// DisableStandaloneHistory makes monitor_cond_since and update3 behave
	// exactly as C ovsdb-server 3.1: no transaction history for standalone
	// databases and for _Server, so their last-txn-id is always all zeros
	// and a monitor_cond_since with a known id gets found=false and the
	// full initial contents. Clustered databases keep their history, as in
	// C. By default (false) every database keeps a history, so clients
	// that reconnect to a standalone database resume from their last id.
	DisableStandaloneHistory bool
}

// dbEntry is one served database. mode and db change together (under
// Server.mu) when the database is converted.
type dbEntry struct {
	path  string
	mode  Mode
	db    *ovsdb.Database
	model string      // Info().Model when it was added
	rowID schema.UUID // its row in _Server.Database
	// gone is closed when the entry stops being served (removed,
	// converted, server closed): its Info watcher stops.
	gone chan struct{}
	// refuse is the latest Info().Refuse (a string; nil until set).
	refuse atomic.Value
}

// setRefuse records info's Refuse for the entry's requests.
func (e *dbEntry) setRefuse(info Info) { e.refuse.Store(info.Refuse) }

// refusal is the error of every client request naming the database, or
// nil when it serves clients (Info.Refuse).
func (e *dbEntry) refusal() error {
	if r, _ := e.refuse.Load().(string); r != "" {
		return ovsdberr.New(ovsdberr.TagNotSupported, "%s", r)
	}
	return nil
}

type remote struct {
	name     string
	ln       net.Listener
	err      error
	sessions map[*jsonrpc.Session]struct{}
}

// Server is a set of databases served over JSON-RPC remotes.
type Server struct {
	opts     Options
	rpc      *jsonrpc.Server
	serverID string
	sys      *ovsdb.Database // _Server
	mon      *monitor.Manager
	locks    *Locks
	dbGone   []func(name string)
	// convertMu serialises online conversions.
	convertMu sync.Mutex
	// dbRemotes serves the "db:DB,TABLE,COLUMN" remotes (dbremotes.go).
	dbRemotes dbRemoteState
	// ctl holds the state of the server's control commands (control.go).
	ctl controlState

	mu      sync.Mutex
	dbs     map[string]*dbEntry
	sysRow  schema.UUID
	remotes map[string]*remote
	closed  bool
	wg      sync.WaitGroup
}

func (s *Server) log() *slog.Logger {
	l := s.opts.Logger
	if l == nil {
		l = slog.Default()
	}
	return l.With("module", "ovsdb_server")
}

// New returns a server with no databases (other than _Server) and no
// remotes.
func New(opts Options) *Server {
	if opts.Open == nil {
		opts.Open = OpenStandalone
	}
	s := &Server{
		opts:     opts,
		serverID: schema.NewUUID().String(),
		dbs:      make(map[string]*dbEntry),
		remotes:  make(map[string]*remote),
	}
	sch, err := schema.ParseSchemaBytes([]byte(ServerSchemaJSON))
	if err != nil {
		panic("server: bad _Server schema: " + err.Error())
	}
	s.sys = ovsdb.NewDatabase(sch, ovsdb.NopCommitter{})
	s.sysRow = schema.NewUUID()
	s.setSysRow(s.sysRow, s.sys, Info{Model: "standalone", Connected: true, Leader: true}, false)
	s.rpc = jsonrpc.NewServer(s, opts.JSONRPC)
	s.mon = monitor.NewManager(monitor.Options{Logger: opts.Logger, NoHistory: s.noHistory})
	s.registerMonitorMethods()
	s.locks = NewLocks()
	s.registerLockMethods()
	s.registerDBChangeMethods()
	s.registerConvert()
	return s
}

// JSONRPC returns the JSON-RPC server (to register more methods or serve
// connections directly).
func (s *Server) JSONRPC() *jsonrpc.Server { return s.rpc }

// ServerID implements jsonrpc.Backend: a UUID chosen at New.
func (s *Server) ServerID() string { return s.serverID }

// ListDBs implements jsonrpc.Backend: the database names, "_Server"
// included, sorted as C does.
func (s *Server) ListDBs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := []string{"_Server"}
	for n := range s.dbs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ListDatabases returns the same list as ListDBs.
func (s *Server) ListDatabases() []string { return s.ListDBs() }

// Database implements jsonrpc.Backend.
func (s *Server) Database(name string) jsonrpc.Database {
	if name == "_Server" {
		return dbAdapter{s.sys}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.dbs[name]; e != nil {
		return modeAdapter{dbAdapter{e.db}, e.mode, e}
	}
	return nil
}

// Engine returns the named database's engine (nil if absent); "_Server"
// gives the built-in database.
func (s *Server) Engine(name string) *ovsdb.Database {
	if name == "_Server" {
		return s.sys
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.dbs[name]; e != nil {
		return e.db
	}
	return nil
}

// noHistory tells the monitor manager which databases keep no
// transaction history (Options.DisableStandaloneHistory): all but the
// clustered ones, _Server included, as C.
func (s *Server) noHistory(db *ovsdb.Database) bool {
	if !s.opts.DisableStandaloneHistory {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.dbs[db.Name()]; e != nil && e.db == db {
		return e.model != "clustered"
	}
	return true
}

// ErrNoDatabase is Control's error for a database that is not served.
var ErrNoDatabase = errors.New("no database by that name")

// Control runs the named database's mode command (Mode.Control).
// Errors wrap ErrNoDatabase or, from a mode without the command,
// ErrUnsupported.
func (s *Server) Control(name, command string, args []string) (string, error) {
	s.mu.Lock()
	e := s.dbs[name]
	s.mu.Unlock()
	if e == nil {
		return "", fmt.Errorf("%s: %w", name, ErrNoDatabase)
	}
	return e.mode.Control(command, args)
}

// Model returns the replication model of the named database
// ("standalone", "clustered"...; Info.Model), or "" if it is not served.
func (s *Server) Model(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.dbs[name]; e != nil {
		return e.model
	}
	return ""
}

// ModeMemory returns the modes' memory/show figures (Mode.Memory),
// summed over the served databases, or nil when no mode has any.
func (s *Server) ModeMemory() map[string]int {
	s.mu.Lock()
	modes := make([]Mode, 0, len(s.dbs))
	for _, e := range s.dbs {
		modes = append(modes, e.mode)
	}
	s.mu.Unlock()
	var out map[string]int
	for _, m := range modes {
		for k, v := range m.Memory() {
			if out == nil {
				out = map[string]int{}
			}
			out[k] += v
		}
	}
	return out
}

// DatabaseFiles returns the file names of the served databases (not
// _Server), sorted, as given to AddDatabase.
func (s *Server) DatabaseFiles() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.dbs))
	for _, e := range s.dbs {
		out = append(out, e.path)
	}
	sort.Strings(out)
	return out
}

type dbAdapter struct{ db *ovsdb.Database }

func (a dbAdapter) Name() string    { return a.db.Name() }
func (a dbAdapter) SchemaJSON() any { return a.db.Schema().CJSON() }

// Engine returns the database's engine (its applied state).
func (a dbAdapter) Engine() *ovsdb.Database { return a.db }
func (a dbAdapter) Transact(ctx context.Context, ops []any, opts ovsdb.TransactOptions) []any {
	return a.db.Transact(ctx, ops, opts)
}

// modeAdapter is the jsonrpc.Database of a served database: transactions
// go through its replication mode.
type modeAdapter struct {
	dbAdapter
	m Mode
	e *dbEntry
}

// Unavailable is the error of requests naming a database that serves no
// clients (Info.Refuse), or nil; jsonrpc's LookupDB returns it.
func (a modeAdapter) Unavailable() error { return a.e.refusal() }

func (a modeAdapter) Transact(ctx context.Context, ops []any, opts ovsdb.TransactOptions) []any {
	return a.m.Transact(ctx, ops, opts)
}

type fileID struct{ dev, ino uint64 }

func statID(path string) (fileID, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return fileID{}, false
	}
	return statKey(st)
}

// AddDatabase opens the database file at path and serves it. The errors
// are C's: "ovsdb error: PATH: already open", "ovsdb error: NAME: duplicate
// database name", "ovsdb error: NAME: names beginning with \"_\" are
// reserved", or the storage's open error.
func (s *Server) AddDatabase(path string) error {
	if id, ok := statID(path); ok {
		s.mu.Lock()
		for _, e := range s.dbs {
			// Stat again: compaction replaces the file (a new inode).
			if eid, ok := statID(e.path); ok && eid == id {
				s.mu.Unlock()
				return ovsdberr.New(ovsdberr.TagOVSDB, "%s: already open", path)
			}
		}
		s.mu.Unlock()
	}
	st, err := s.opts.Open(path)
	if err != nil {
		return err
	}
	db := st.Database()
	info, changed := st.Info()
	name := db.Name()
	// As C (ovsdb_jsonrpc_server_add_db, called before the name checks):
	// sessions that are not db-change-aware are disconnected, so they
	// never see the new _Server.Database row; aware ones get it as an
	// update.
	s.reconnectUnaware("adding "+name+" database", nil)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = st.Close()
		return errors.New("server closed")
	}
	var rerr error
	if strings.HasPrefix(name, "_") {
		rerr = ovsdberr.New(ovsdberr.TagOVSDB, "%s: names beginning with \"_\" are reserved", name)
	} else if s.dbs[name] != nil {
		rerr = ovsdberr.New(ovsdberr.TagOVSDB, "%s: duplicate database name", name)
	}
	if rerr != nil {
		s.mu.Unlock()
		_ = st.Close()
		return rerr
	}
	e := &dbEntry{path: path, mode: st, db: db, model: info.Model, rowID: schema.NewUUID(), gone: make(chan struct{})}
	e.setRefuse(info)
	s.dbs[name] = e
	s.mu.Unlock()
	s.setSysRow(e.rowID, db, info, false)
	if changed != nil {
		s.wg.Add(1)
		go s.watchInfo(e, info, changed)
	}
	return nil
}

// RemoveDatabase stops serving and closes the named database. Errors are
// C's: "Failed to find the database." and "Cannot remove reserved
// database.".
func (s *Server) RemoveDatabase(name string) error {
	s.mu.Lock()
	e := s.dbs[name]
	if e == nil {
		s.mu.Unlock()
		if name == "_Server" {
			return errors.New("Cannot remove reserved database.")
		}
		return errors.New("Failed to find the database.")
	}
	delete(s.dbs, name)
	close(e.gone)
	s.mu.Unlock()
	s.databaseGone(name, "removing "+name+" database by user request", nil)
	s.deleteSysRow(e.rowID)
	return e.mode.Close()
}

// Compact compacts the named databases, or all of them when none is named.
// Errors are C's: "cannot compact built-in databases", "no database by that
// name", or the storage errors, one per line.
func (s *Server) Compact(names ...string) error {
	for _, n := range names {
		if strings.HasPrefix(n, "_") {
			return errors.New("cannot compact built-in databases")
		}
	}
	s.mu.Lock()
	var todo []*dbEntry
	var todoNames []string
	if len(names) == 0 {
		for n := range s.dbs {
			todoNames = append(todoNames, n)
		}
		sort.Strings(todoNames)
	} else {
		for _, n := range names {
			if s.dbs[n] != nil {
				todoNames = append(todoNames, n)
			}
		}
	}
	for _, n := range todoNames {
		todo = append(todo, s.dbs[n])
	}
	s.mu.Unlock()
	if len(todo) == 0 {
		return errors.New("no database by that name")
	}
	var msgs []string
	for i, e := range todo {
		s.log().Info("compacting " + todoNames[i] + " database by user request")
		if err := e.mode.Compact(); err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "\n") + "\n")
	}
	return nil
}

// ServerSchemaJSON is the schema of the _Server database, as C 3.1 serves it.
const ServerSchemaJSON = `{"cksum":"3009684573 744","name":"_Server","tables":{"Database":{"columns":{"cid":{"type":{"key":"uuid","min":0}},"connected":{"type":"boolean"},"index":{"type":{"key":"integer","min":0}},"leader":{"type":"boolean"},"model":{"type":{"key":{"enum":["set",["clustered","relay","standalone"]],"type":"string"}}},"name":{"type":"string"},"schema":{"type":{"key":"string","min":0}},"sid":{"type":{"key":"uuid","min":0}}}}},"version":"1.2.0"}`

// updateSysRow replaces the _Server.Database row id, if it still exists,
// with the facts info.
func (s *Server) updateSysRow(id schema.UUID, db *ovsdb.Database, info Info) {
	if s.sys.Row("Database", id) != nil {
		s.setSysRow(id, db, info, false)
	}
}

// updateSysRowSchema is updateSysRow that also writes the schema column
// anew (a clustered database's conversion, as C).
func (s *Server) updateSysRowSchema(id schema.UUID, db *ovsdb.Database, info Info) {
	if s.sys.Row("Database", id) != nil {
		s.setSysRow(id, db, info, true)
	}
}

// setSysRow inserts or replaces the _Server.Database row describing db
// under a mode with facts info.
// newSchema rewrites the schema column of an existing row.
func (s *Server) setSysRow(id schema.UUID, db *ovsdb.Database, info Info, newSchema bool) {
	t := s.sys.Schema().Tables["Database"]
	fields := make([]schema.Datum, len(t.Columns))
	for _, c := range t.Columns {
		fields[c.Index] = schema.DefaultDatum(&c.Type)
	}
	fields[schema.ColUUID] = schema.NewScalar(id)
	fields[schema.ColVersion] = schema.NewScalar(schema.NewUUID())
	set := func(col string, a schema.Atom) {
		fields[t.ByName[col].Index] = schema.NewScalar(a)
	}
	set("name", db.Name())
	set("model", info.Model)
	set("connected", info.Connected)
	set("leader", info.Leader)
	if info.Model == "clustered" {
		set("index", int64(info.Index))
		set("sid", info.SID)
		if !info.CID.IsZero() {
			set("cid", info.CID)
		}
	}
	old := s.sys.Row("Database", id)
	if old != nil && !newSchema {
		// The schema column keeps the text it was given when the row was
		// made: C 3.1 does not update it when a standalone database is
		// converted (it does for a clustered one: newSchema).
		fields[t.ByName["schema"].Index] = old.Field(t.ByName["schema"].Index)
	} else {
		// C writes the schema with sorted keys (JSSF_SORT), unlike get_schema.
		set("schema", string(cjson.Marshal(db.Schema().ToJSON())))
	}
	row := ovsdb.NewRow(fields)
	s.sys.Apply(&ovsdb.ChangeSet{Tables: map[string]map[schema.UUID]*ovsdb.RowChange{
		"Database": {id: {Old: old, New: row}},
	}})
}

// watchInfo keeps e's _Server.Database row up to date with its mode's
// Info (first known as last, next change signalled by changed) until e
// stops being served.
func (s *Server) watchInfo(e *dbEntry, last Info, changed <-chan struct{}) {
	defer s.wg.Done()
	for {
		select {
		case <-e.gone:
			return
		case <-changed:
		}
		var info Info
		info, changed = e.mode.Info()
		if e.mode.Database() != e.db {
			// A conversion replicated from elsewhere (a clustered
			// database converted through another member) gave the
			// mode a new engine: serve it (convert.go).
			s.modeConverted(e)
			return
		}
		s.mu.Lock()
		served := s.dbs[e.db.Name()] == e
		s.mu.Unlock()
		if !served {
			return
		}
		e.setRefuse(info)
		if info != last {
			s.updateSysRow(e.rowID, e.db, info)
			last = info
		}
		if changed == nil {
			return
		}
	}
}

func (s *Server) deleteSysRow(id schema.UUID) {
	old := s.sys.Row("Database", id)
	if old == nil {
		return
	}
	s.sys.Apply(&ovsdb.ChangeSet{Tables: map[string]map[schema.UUID]*ovsdb.RowChange{
		"Database": {id: {Old: old}},
	}})
}

// Close stops all remotes and sessions and closes all databases.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var lns []net.Listener
	for _, r := range s.remotes {
		if r.ln != nil {
			lns = append(lns, r.ln)
		}
	}
	dbs := s.dbs
	s.dbs = map[string]*dbEntry{}
	for _, e := range dbs {
		close(e.gone)
	}
	s.mu.Unlock()
	for _, ln := range lns {
		_ = ln.Close()
	}
	s.wg.Wait()
	err := s.rpc.Close()
	s.mon.Close()
	names := make([]string, 0, len(dbs))
	for n := range dbs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if cerr := dbs[n].mode.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

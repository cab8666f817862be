package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/ovsdb-go/ovsdb-server/internal/vlog"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/server"
)

// tableLogs is the state of ovsdb-server/tlog-set and tlog-list: C's
// per-table "log" flag. When a table's flag is on, every committed
// insert, update (with a changed column) or delete of one of its rows is
// logged at INFO by module "transaction":
//
//	table:TABLE,op:inserted|updated|deleted,COL:VALUE,...
//
// with every column (_uuid and _version too) in C's column order
// (schema.Table.CColumns) and C's value syntax (schema.DatumString), the
// new row for inserts and updates and the old one for deletes, rate
// limited as C (30 a minute, bursts of 60, module "transaction").
//
// The flags belong to the database as it is now: as in C, where a
// conversion or a remove-db/add-db makes new tables, a database that is
// converted or added again starts with every flag off. Within one
// transaction the rows are logged by table name, then row UUID (C: in
// the order the transaction first touched them).
type tableLogs struct {
	log *slog.Logger
	rl  *vlog.RateLimit

	mu  sync.Mutex
	dbs map[string]*dbLog
}

// dbLog is the flags of one served engine and the observer that logs
// its commits while a flag is on.
type dbLog struct {
	db     *ovsdb.Database
	on     map[string]bool // table name -> logging
	onCopy atomicTables    // read by the observer, under the database lock
	stop   func()
}

// atomicTables is a copy of a dbLog's flags for the observer.
type atomicTables struct {
	mu sync.Mutex
	on map[string]bool
}

func (a *atomicTables) set(on map[string]bool) {
	c := make(map[string]bool, len(on))
	for k, v := range on {
		if v {
			c[k] = true
		}
	}
	a.mu.Lock()
	a.on = c
	a.mu.Unlock()
}

func (a *atomicTables) get(t string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.on[t]
}

func newTableLogs(log *slog.Logger) *tableLogs {
	return &tableLogs{
		log: log.With("module", "transaction"),
		rl:  vlog.NewRateLimit(30, 60),
		dbs: map[string]*dbLog{},
	}
}

// current returns the state of the named database as served now (nil if
// it is not served), forgetting the flags of an engine that is no longer
// served under that name. t.mu held.
func (t *tableLogs) current(srv *server.Server, name string) (*dbLog, *ovsdb.Database) {
	db := srv.Engine(name)
	d := t.dbs[name]
	if d != nil && d.db != db {
		if d.stop != nil {
			d.stop()
		}
		delete(t.dbs, name)
		d = nil
	}
	return d, db
}

// set is ovsdb-server/tlog-set DB:TABLE on|off, with C's errors.
func (t *tableLogs) set(srv *server.Server, dbTable, onOff string) error {
	var on bool
	switch {
	case strings.EqualFold(onOff, "on"):
		on = true
	case strings.EqualFold(onOff, "off"):
	default:
		return errors.New("invalid command argument")
	}
	// C splits with strtok_r on ':': empty fields vanish.
	var parts []string
	for _, p := range strings.Split(dbTable, ":") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) != 2 {
		return errors.New("invalid DB:TABLE argument")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d, db := t.current(srv, parts[0])
	if db == nil {
		return errors.New("no such database")
	}
	if db.Schema().Tables[parts[1]] == nil {
		return errors.New("no such table")
	}
	if d == nil {
		d = &dbLog{db: db, on: map[string]bool{}}
		t.dbs[parts[0]] = d
	}
	d.on[parts[1]] = on
	d.onCopy.set(d.on)
	if on && d.stop == nil {
		d.stop = db.Observe(nil, func(_ schema.UUID, cs *ovsdb.ChangeSet) { t.logCommit(d, cs) })
	}
	return nil
}

// list is ovsdb-server/tlog-list: every database (sorted, _Server
// included) and its tables with their flag.
func (t *tableLogs) list(srv *server.Server) string {
	var b strings.Builder
	b.WriteString("database        table                       logging\n")
	b.WriteString("--------        -----                       -------\n")
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, name := range srv.ListDatabases() {
		d, db := t.current(srv, name)
		if db == nil {
			continue
		}
		fmt.Fprintf(&b, "%-16s \n", name)
		tables := make([]string, 0, len(db.Schema().Tables))
		for tn := range db.Schema().Tables {
			tables = append(tables, tn)
		}
		sort.Strings(tables)
		for _, tn := range tables {
			state := "OFF"
			if d != nil && d.on[tn] {
				state = "ON"
			}
			fmt.Fprintf(&b, "                %-27s %s\n", tn, state)
		}
	}
	return b.String()
}

// logCommit logs the changes of cs to the tables whose flag is on. It
// runs in the commit path (the database's observers), as C logs while it
// commits.
func (t *tableLogs) logCommit(d *dbLog, cs *ovsdb.ChangeSet) {
	sch := d.db.Schema()
	var tables []string
	for tn := range cs.Tables {
		if d.onCopy.get(tn) {
			tables = append(tables, tn)
		}
	}
	if len(tables) == 0 || !t.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	sort.Strings(tables)
	for _, tn := range tables {
		ts := sch.Tables[tn]
		if ts == nil {
			continue
		}
		rows := cs.Tables[tn]
		ids := make([]schema.UUID, 0, len(rows))
		for id := range rows {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
		for _, id := range ids {
			rc := rows[id]
			var op string
			var row *ovsdb.Row
			switch {
			case rc.Old == nil && rc.New != nil:
				op, row = "inserted", rc.New
			case rc.Old != nil && rc.New != nil:
				if !rowChanged(ts, rc.Old, rc.New) {
					continue
				}
				op, row = "updated", rc.New
			case rc.Old != nil:
				op, row = "deleted", rc.Old
			default:
				continue
			}
			ok, dropped := t.rl.Allow("transaction")
			if !ok {
				continue
			}
			if dropped != "" {
				t.log.Info(dropped)
			}
			t.log.Info(fmt.Sprintf("table:%s,op:%s,%s", tn, op, rowString(ts, row)))
		}
	}
}

// rowChanged reports whether a column other than _version differs.
func rowChanged(ts *schema.Table, old, new *ovsdb.Row) bool {
	for _, c := range ts.Columns {
		if c.Index == schema.ColVersion || c.Index >= old.NumFields() || c.Index >= new.NumFields() {
			continue
		}
		if !old.Field(c.Index).Equal(new.Field(c.Index)) {
			return true
		}
	}
	return false
}

// rowString renders a row as C's ovsdb_row_to_string: COL:VALUE pairs in
// C's column order, separated by commas.
func rowString(ts *schema.Table, r *ovsdb.Row) string {
	cols := ts.CColumns
	if len(cols) == 0 {
		cols = ts.Columns
	}
	parts := make([]string, 0, len(cols))
	for _, c := range cols {
		if c.Index >= r.NumFields() {
			continue
		}
		parts = append(parts, c.Name+":"+schema.DatumString(&c.Type, r.Field(c.Index)))
	}
	return strings.Join(parts, ",")
}

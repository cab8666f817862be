package ovsdb

import (
	"context"
	"log/slog"
	"sync"

	"github.com/ovsdb-go/ovsdb-server/schema"
)

// logger is looked up at use so that a handler installed after init
// (cmd/ovsdb-server installs vlog) receives the engine's lines.
func logger() *slog.Logger { return slog.Default().With("module", "ovsdb") }

// srcRef names a row that holds a weak reference.
type srcRef struct {
	t  *table
	id schema.UUID
}

// table is the committed state of one table.
type table struct {
	ts   *schema.Table
	rows map[schema.UUID]*Row
	// refs counts incoming strong references (self references excluded),
	// only for rows with a non-zero count.
	refs map[schema.UUID]int
	// weakIn maps a row to the rows weakly referencing it (with counts).
	weakIn map[schema.UUID]map[srcRef]int
	// indexes[i] maps the encoded values of ts.Indexes[i] to the row.
	indexes []map[string]schema.UUID
	// defaults holds the default datum of each column; lay shares them
	// with the table's compact rows.
	defaults []schema.Datum
	lay      *rowLayout
	// strongCols / weakCols list the columns holding references.
	strongCols, weakCols []*schema.Column
	// badDefaults lists, in C's column order, the scalar columns whose
	// default datum violates the column's constraints: an insert that
	// leaves one of them unset fails.
	badDefaults []*schema.Column
	// allChanged is all true, one per column: the changed flags of
	// inserted and deleted transaction rows (never written).
	allChanged []bool
	// undo maps each row that a pending (applied to rows, not yet
	// durable) change set touches to its durable value, nil when the row
	// does not exist durably (group commit, groupcommit.go). Readers see
	// rows through it; hasUndo says whether the table is in
	// Database.undoTables.
	undo    map[schema.UUID]*Row
	hasUndo bool
}

// Database is one database: its schema and committed state.
//
// With a GroupCommitter, tables hold the tip: the durable state plus the
// change sets that are applied but not yet durable (pending). Write
// transactions execute against the tip; everything else sees the durable
// state through the tables' undo maps (see groupcommit.go).
type Database struct {
	schema *schema.DatabaseSchema
	tables map[string]*table

	// mu serialises writers (Lock) and lets read-only transactions and
	// readers share (RLock).
	mu        sync.RWMutex
	committer Committer

	// Group commit, guarded by mu: pending change sets in commit order,
	// the tables with undo entries, and the gate of Exclusive (write
	// transactions wait on exclCond while exclusive > 0).
	pending    []*commitEntry
	undoTables []*table
	exclusive  int
	exclCond   sync.Cond

	// Group commit, guarded by gm (taken after mu when both are held):
	// the change sets not yet handed to a write, whether a write is in
	// progress, and gcond (L = &gm), broadcast when a write ends.
	gm       sync.Mutex
	gcond    sync.Cond
	queue    []*commitEntry
	flushing bool

	// changed is closed and replaced at every commit; "wait" ops block on it.
	chMu    sync.Mutex
	changed chan struct{}

	// observers and lastTxn are guarded by mu (see observe.go).
	observers []*observerEntry
	lastTxn   schema.UUID
}

// NewDatabase makes an empty database for schema s committing through c
// (nil means NopCommitter).
func NewDatabase(s *schema.DatabaseSchema, c Committer) *Database {
	if c == nil {
		c = NopCommitter{}
	}
	db := &Database{schema: s, tables: make(map[string]*table, len(s.Tables)), committer: c,
		changed: make(chan struct{})}
	db.exclCond.L = &db.mu
	db.gcond.L = &db.gm
	for name, ts := range s.Tables {
		t := &table{ts: ts, rows: map[schema.UUID]*Row{}, refs: map[schema.UUID]int{},
			weakIn: map[schema.UUID]map[srcRef]int{}}
		t.indexes = make([]map[string]schema.UUID, len(ts.Indexes))
		for i := range t.indexes {
			t.indexes[i] = map[string]schema.UUID{}
		}
		t.defaults = make([]schema.Datum, len(ts.Columns))
		for i, c := range ts.Columns {
			t.defaults[i] = schema.DefaultDatum(&c.Type)
		}
		t.lay = &rowLayout{defaults: t.defaults}
		t.allChanged = make([]bool, len(ts.Columns))
		for i := range t.allChanged {
			t.allChanged[i] = true
		}
		// Reference checks report the first failing column in C's
		// column hash-table order.
		for _, c := range cColumns(ts) {
			if d := t.defaults[c.Index]; len(d.Keys) == 1 && schema.CheckDatum(&c.Type, d) != nil {
				t.badDefaults = append(t.badDefaults, c)
			}
			if c.Index < 2 {
				continue
			}
			if c.Type.HasStrongRef() {
				t.strongCols = append(t.strongCols, c)
			}
			if c.Type.HasWeakRef() {
				t.weakCols = append(t.weakCols, c)
			}
		}
		db.tables[name] = t
	}
	return db
}

// Name returns the database (schema) name.
func (db *Database) Name() string { return db.schema.Name }

// Schema returns the database schema.
func (db *Database) Schema() *schema.DatabaseSchema { return db.schema }

// SetCommitter replaces the committer.
func (db *Database) SetCommitter(c Committer) {
	if c == nil {
		c = NopCommitter{}
	}
	db.mu.Lock()
	db.committer = c
	db.mu.Unlock()
}

// Row returns the committed (durable) row or nil.
func (db *Database) Row(tableName string, id schema.UUID) *Row {
	db.mu.RLock()
	defer db.mu.RUnlock()
	t := db.tables[tableName]
	if t == nil {
		return nil
	}
	if r, ok := t.undo[id]; ok {
		return r
	}
	return t.rows[id]
}

// Read calls fn with a consistent read-only view of the committed
// (durable) state. fn must not modify the maps or rows and must not call
// back into db write methods.
func (db *Database) Read(fn func(tables map[string]map[schema.UUID]*Row)) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	fn(db.durableTablesLocked())
}

// durableTablesLocked returns the durable rows of every table: the tables'
// own maps, or, for a table with pending changes, a copy without them.
// Called with mu held.
func (db *Database) durableTablesLocked() map[string]map[schema.UUID]*Row {
	m := make(map[string]map[schema.UUID]*Row, len(db.tables))
	for name, t := range db.tables {
		if len(t.undo) == 0 {
			m[name] = t.rows
			continue
		}
		c := make(map[schema.UUID]*Row, len(t.rows))
		for id, r := range t.rows {
			if _, ok := t.undo[id]; !ok {
				c[id] = r
			}
		}
		for id, r := range t.undo {
			if r != nil {
				c[id] = r
			}
		}
		m[name] = c
	}
	return m
}

// Exclusive runs fn when no change set is pending, with no write
// transaction executing: write transactions that start meanwhile wait
// until fn returns (an online conversion replaces the file this way).
// fn receives the committed state; if it returns a Committer, that
// becomes the database's committer before any waiting transaction runs.
// fn must not call back into db.
func (db *Database) Exclusive(fn func(tables map[string]map[schema.UUID]*Row) Committer) {
	db.mu.Lock()
	db.exclusive++
	for len(db.pending) > 0 {
		db.mu.Unlock()
		db.Flush()
		db.mu.Lock()
	}
	if c := fn(db.durableTablesLocked()); c != nil {
		db.committer = c
	}
	db.exclusive--
	if db.exclusive == 0 {
		db.exclCond.Broadcast()
	}
	db.mu.Unlock()
}

// Apply applies a change set to the committed state without calling the
// Committer and without checking anything (log replay, replication). It
// must not be used while group commits are pending.
func (db *Database) Apply(cs *ChangeSet) {
	db.mu.Lock()
	db.compactLocked(cs)
	db.applyLocked(cs)
	db.observeLocked(cs, schema.UUID{})
	db.mu.Unlock()
	db.notify()
}

// changedChan returns the channel closed at the next commit.
func (db *Database) changedChan() chan struct{} {
	db.chMu.Lock()
	defer db.chMu.Unlock()
	return db.changed
}

func (db *Database) notify() {
	db.chMu.Lock()
	close(db.changed)
	db.changed = make(chan struct{})
	db.chMu.Unlock()
}

// compactLocked converts the new rows of cs to the compact representation.
func (db *Database) compactLocked(cs *ChangeSet) {
	for name, rows := range cs.Tables {
		t := db.tables[name]
		if t == nil {
			continue
		}
		for _, rc := range rows {
			if rc.New != nil {
				rc.New.compact(t.lay)
			}
		}
	}
}

// applyLocked makes cs the committed state. Index entries of old rows are
// removed before new ones are added so that swaps work.
func (db *Database) applyLocked(cs *ChangeSet) {
	for name, rows := range cs.Tables {
		t := db.tables[name]
		if t == nil {
			logger().Warn("change set names unknown table", "table", name)
			continue
		}
		for id, rc := range rows {
			if rc.Old != nil {
				t.unindex(rc.Old)
				db.adjustRefs(t, id, rc.Old, -1)
			}
		}
	}
	for name, rows := range cs.Tables {
		t := db.tables[name]
		if t == nil {
			continue
		}
		for id, rc := range rows {
			if rc.New != nil {
				t.rows[id] = rc.New
				t.index(rc.New)
				db.adjustRefs(t, id, rc.New, 1)
			} else {
				delete(t.rows, id)
			}
		}
	}
}

func (t *table) index(r *Row) {
	for i, cols := range t.ts.Indexes {
		t.indexes[i][indexKey(r, cols)] = r.UUID()
	}
}

func (t *table) unindex(r *Row) {
	id := r.UUID()
	for i, cols := range t.ts.Indexes {
		k := indexKey(r, cols)
		if t.indexes[i][k] == id {
			delete(t.indexes[i], k)
		}
	}
}

// forEachRef calls fn for every reference atom of r in the given columns.
func forEachRef(r *Row, cols []*schema.Column, fn func(b *schema.BaseType, id schema.UUID)) {
	for _, c := range cols {
		d := r.Field(c.Index)
		if c.Type.Key.RefTableName != "" {
			for _, k := range d.Keys {
				fn(&c.Type.Key, k.(schema.UUID))
			}
		}
		if c.Type.Value != nil && c.Type.Value.RefTableName != "" {
			for _, v := range d.Values {
				fn(c.Type.Value, v.(schema.UUID))
			}
		}
	}
}

// adjustRefs adds delta to the reference bookkeeping for the refs of r.
func (db *Database) adjustRefs(t *table, id schema.UUID, r *Row, delta int) {
	forEachRef(r, t.strongCols, func(b *schema.BaseType, dst schema.UUID) {
		if dst == id || !b.IsStrongRef() {
			return
		}
		dt := db.tables[b.RefTableName]
		if n := dt.refs[dst] + delta; n > 0 {
			dt.refs[dst] = n
		} else {
			delete(dt.refs, dst)
		}
	})
	forEachRef(r, t.weakCols, func(b *schema.BaseType, dst schema.UUID) {
		if dst == id || !b.IsWeakRef() {
			return
		}
		dt := db.tables[b.RefTableName]
		src := srcRef{t, id}
		m := dt.weakIn[dst]
		if m == nil {
			if delta < 0 {
				return
			}
			m = map[srcRef]int{}
			dt.weakIn[dst] = m
		}
		if n := m[src] + delta; n > 0 {
			m[src] = n
		} else {
			delete(m, src)
			if len(m) == 0 {
				delete(dt.weakIn, dst)
			}
		}
	})
}

// commitLocked commits cs through a plain Committer and applies it.
// Called with mu held. (A GroupCommitter is used through queueLocked.)
func (db *Database) commitLocked(ctx context.Context, cs *ChangeSet, txnID schema.UUID) error {
	if err := db.committer.Commit(ctx, cs); err != nil {
		return err
	}
	db.applyLocked(cs)
	db.observeLocked(cs, txnID)
	return nil
}

// cColumns returns ts's columns in the order C's server iterates them
// (schema.Table.CColumns), or in index order for hand-built tables.
func cColumns(ts *schema.Table) []*schema.Column {
	if len(ts.CColumns) == len(ts.Columns) {
		return ts.CColumns
	}
	return ts.Columns
}

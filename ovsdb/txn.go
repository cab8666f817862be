package ovsdb

import (
	"bytes"
	"encoding/binary"
	"math"
	"sort"
	"strings"

	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// txnRow is one row touched by a transaction. old is the committed row (nil
// for an insert); new is the transaction's private working copy (nil once
// deleted).
type txnRow struct {
	t        *table
	id       schema.UUID
	old, new *Row
	nRefs    int    // strong references after the transaction
	changed  []bool // per column, filled by determineChanges
	anyChg   bool
	dropped  bool // unchanged row removed from the transaction
	weakChk  bool // a weakly referenced row was deleted: reassess
	assessed bool
}

type txnTable struct {
	t     *table
	rows  map[schema.UUID]*txnRow
	order []*txnRow
}

// txn is the private state of one executing transaction.
type txn struct {
	db       *Database
	tables   map[*table]*txnTable
	torder   []*txnTable
	symtab   *symtab
	durable  bool
	comments []string
	timeout  int64 // smallest "wait" timeout, ms (math.MaxInt64: none)
	elapsed  int64 // ms since the first attempt
	// sizeHint is the number of operations, to size per-table maps.
	sizeHint int
	// rowSlab holds unused transaction rows (see newTxnRow).
	rowSlab []txnRow
	// lastTable is the table the last parseTable found (or nil).
	lastTable *table
	// newUUID is the source of every UUID the transaction creates; a
	// caller-supplied source (TransactOptions.NewUUID) makes them
	// deterministic.
	newUUID  func() schema.UUID
	detUUIDs bool
	// readDurable: a read-only transaction that must see the durable
	// state while group commits are pending (rows through the tables'
	// undo).
	readDurable bool
	// rbac is who is asking (TransactOptions' Role and ClientID), for
	// the write checks of rbac.go.
	rbac rbacClient
}

func newTxn(db *Database) *txn {
	return &txn{db: db, symtab: &symtab{newUUID: schema.NewUUID}, timeout: math.MaxInt64,
		newUUID: schema.NewUUID}
}

// setUUIDSource makes f the source of the transaction's new UUIDs.
func (x *txn) setUUIDSource(f func() schema.UUID) {
	if f == nil {
		return
	}
	x.newUUID, x.symtab.newUUID, x.detUUIDs = f, f, true
}

func (x *txn) ttable(t *table) *txnTable {
	if tt := x.tables[t]; tt != nil {
		return tt
	}
	if x.tables == nil {
		x.tables = map[*table]*txnTable{}
	}
	// Most transactions touch few tables: size for the operations.
	tt := &txnTable{t: t, rows: make(map[schema.UUID]*txnRow, x.sizeHint),
		order: make([]*txnRow, 0, x.sizeHint)}
	x.tables[t] = tt
	x.torder = append(x.torder, tt)
	return tt
}

func (x *txn) findTxnRow(t *table, id schema.UUID) *txnRow {
	if tt := x.tables[t]; tt != nil {
		return tt.rows[id]
	}
	return nil
}

// get returns the row as seen inside the transaction, or nil.
func (x *txn) get(t *table, id schema.UUID) *Row {
	if tr := x.findTxnRow(t, id); tr != nil {
		return tr.new
	}
	if x.readDurable {
		if r, ok := t.undo[id]; ok {
			return r
		}
	}
	return t.rows[id]
}

// newTxnRow returns a copy of tr allocated from the transaction's slab
// (transaction rows live only as long as the transaction).
func (x *txn) newTxnRow(tr txnRow) *txnRow {
	if len(x.rowSlab) == 0 {
		n := x.sizeHint
		if n < 8 {
			n = 8
		} else if n > 256 {
			n = 256
		}
		x.rowSlab = make([]txnRow, n)
	}
	p := &x.rowSlab[0]
	x.rowSlab = x.rowSlab[1:]
	*p = tr
	return p
}

func (x *txn) addRow(tr *txnRow) *txnRow {
	tt := x.ttable(tr.t)
	tt.rows[tr.id] = tr
	tt.order = append(tt.order, tr)
	return tr
}

// modify returns a writable version of row r of t (already part of the
// transaction or a committed row).
func (x *txn) modify(t *table, r *Row) *Row {
	id := r.UUID()
	if tr := x.findTxnRow(t, id); tr != nil {
		tr.new.densify()
		return tr.new
	}
	nr := &Row{Fields: r.Dense()}
	x.addRow(x.newTxnRow(txnRow{t: t, id: id, old: r, new: nr, nRefs: t.refs[id]}))
	return nr
}

func (x *txn) insert(t *table, r *Row) {
	x.addRow(x.newTxnRow(txnRow{t: t, id: r.UUID(), new: r}))
}

func (x *txn) delete(t *table, id schema.UUID) {
	if tr := x.findTxnRow(t, id); tr != nil {
		tr.new = nil
		if tr.old == nil {
			// Inserted and deleted in this transaction: like C, forget the
			// row entirely, so references to it are to a nonexistent row.
			tr.dropped = true
			delete(x.tables[t].rows, id)
		}
		return
	}
	x.addRow(x.newTxnRow(txnRow{t: t, id: id, old: t.rows[id], nRefs: t.refs[id]}))
}

// mayCreate reports whether a row with id may be inserted into t.
func (x *txn) mayCreate(t *table, id schema.UUID) bool {
	return t.rows[id] == nil && x.findTxnRow(t, id) == nil
}

// findOrMake returns the transaction row for id in t, pulling a committed
// row into the transaction; nil if the row exists nowhere.
func (x *txn) findOrMake(t *table, id schema.UUID) *txnRow {
	if tr := x.findTxnRow(t, id); tr != nil && !tr.dropped {
		return tr
	}
	r := t.rows[id]
	if r == nil {
		return nil
	}
	tr := x.newTxnRow(txnRow{t: t, id: id, old: r, new: &Row{Fields: r.Dense()},
		nRefs: t.refs[id], changed: make([]bool, r.NumFields())})
	return x.addRow(tr)
}

// scan calls fn for every row of t visible in the transaction. fn must not
// modify the transaction; callers collect first and modify afterwards.
func (x *txn) scan(t *table, fn func(*Row) bool) {
	tt := x.tables[t]
	if x.readDurable && len(t.undo) > 0 {
		// Read-only (tt is nil): the durable rows.
		for id, r := range t.rows {
			if _, ok := t.undo[id]; ok {
				continue
			}
			if !fn(r) {
				return
			}
		}
		for _, r := range t.undo {
			if r != nil && !fn(r) {
				return
			}
		}
		return
	}
	for id, r := range t.rows {
		if tt != nil {
			if tr := tt.rows[id]; tr != nil {
				continue
			}
		}
		if !fn(r) {
			return
		}
	}
	if tt != nil {
		for _, tr := range tt.order {
			if tr.new != nil && !tr.dropped && tt.rows[tr.id] == tr {
				if !fn(tr.new) {
					return
				}
			}
		}
	}
}

// eachRow calls fn for every transaction row, including rows added while
// iterating, in first-touch order.
func (x *txn) eachRow(fn func(tr *txnRow) error) error {
	for i := 0; i < len(x.torder); i++ {
		tt := x.torder[i]
		for j := 0; j < len(tt.order); j++ {
			tr := tt.order[j]
			if tr.dropped {
				continue
			}
			if err := fn(tr); err != nil {
				return err
			}
		}
	}
	return nil
}

// precommit runs C's commit-time checks and returns the change set.
func (x *txn) precommit() (*ChangeSet, error) {
	// Determine what changed; drop unchanged rows.
	_ = x.eachRow(func(tr *txnRow) error {
		n := len(tr.t.ts.Columns)
		if tr.old == nil || tr.new == nil {
			// Every column changed: share the table's read-only
			// all-true slice (writers below only set elements that are
			// false).
			tr.changed = tr.t.allChanged
			tr.anyChg = true
			return nil
		}
		tr.changed = make([]bool, n)
		{
			for i := 0; i < n; i++ {
				if !tr.old.Field(i).Equal(tr.new.Field(i)) {
					tr.changed[i] = true
					tr.anyChg = true
				}
			}
			if !tr.anyChg {
				tr.dropped = true
				delete(x.tables[tr.t].rows, tr.id)
			}
		}
		return nil
	})
	if err := x.eachRow(x.updateRefCounts); err != nil {
		return nil, err
	}
	if err := x.eachRow(func(tr *txnRow) error {
		if tr.new == nil && tr.nRefs > 0 {
			return ovsdberr.New(ovsdberr.TagReferentialIntegrity,
				"cannot delete %s row %s because of %d remaining reference(s)", tr.t.ts.Name, tr.id, tr.nRefs)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	_ = x.eachRow(func(tr *txnRow) error {
		if tr.new != nil && tr.nRefs == 0 {
			x.deleteGarbage(tr)
		}
		return nil
	})
	for _, tt := range x.torder {
		n := len(tt.t.rows)
		for _, tr := range tt.order {
			if tr.dropped {
				continue
			}
			if tr.old == nil && tr.new != nil {
				n++
			} else if tr.old != nil && tr.new == nil {
				n--
			}
		}
		if n > tt.t.ts.MaxRows {
			return nil, ovsdberr.New(ovsdberr.TagConstraint,
				"transaction causes \"%s\" table to contain %d rows, greater than the schema-defined limit of %d row(s)",
				tt.t.ts.Name, n, tt.t.ts.MaxRows)
		}
	}
	if err := x.assessWeakRefs(); err != nil {
		return nil, err
	}
	if err := x.checkIndexes(); err != nil {
		return nil, err
	}
	if x.detUUIDs {
		x.stampVersionsInOrder()
	}
	// Build the change set, stamping new versions.
	cs := &ChangeSet{Durable: x.durable, Comment: strings.Join(x.comments, "\n")}
	for _, tt := range x.torder {
		var m map[schema.UUID]*RowChange
		var changes []RowChange // allocated once per table
		for _, tr := range tt.order {
			if tr.dropped || tt.rows[tr.id] != tr || (tr.old == nil && tr.new == nil) ||
				(tr.old != nil && tr.new != nil && !tr.anyChg) {
				continue
			}
			if tr.new != nil {
				// Inserted rows got their _version at insert (C's
				// ovsdb_txn_row_insert); modified rows get a new one now.
				if !x.detUUIDs && tr.old != nil {
					tr.new.setVersion(x.newUUID())
				}
				tr.new.compact(tt.t.lay)
			}
			if m == nil {
				m = make(map[schema.UUID]*RowChange, len(tt.rows))
				changes = make([]RowChange, 0, len(tt.rows))
				if cs.Tables == nil {
					cs.Tables = map[string]map[schema.UUID]*RowChange{}
				}
				cs.Tables[tt.t.ts.Name] = m
			}
			changes = append(changes, RowChange{Old: tr.old, New: tr.new})
			m[tr.id] = &changes[len(changes)-1]
		}
	}
	return cs, nil
}

// stampVersionsInOrder gives every modified row the change set will hold a
// new _version from x.newUUID (inserted rows got theirs at insert, in
// operation order), visiting tables by name and rows by UUID: the
// order in which rows joined the transaction can depend on map iteration,
// and a deterministic UUID source needs a deterministic order.
func (x *txn) stampVersionsInOrder() {
	var rows []*txnRow
	for _, tt := range x.torder {
		for _, tr := range tt.order {
			if tr.dropped || tt.rows[tr.id] != tr || tr.new == nil || tr.old == nil || !tr.anyChg {
				continue
			}
			rows = append(rows, tr)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.t.ts.Name != b.t.ts.Name {
			return a.t.ts.Name < b.t.ts.Name
		}
		return bytes.Compare(a.id[:], b.id[:]) < 0
	})
	for _, tr := range rows {
		tr.new.setVersion(x.newUUID())
	}
}

// refDelta adds delta to the n_refs of the strong-ref targets of atoms.
func (x *txn) refDelta(tr *txnRow, c *schema.Column, b *schema.BaseType, atoms []schema.Atom, delta int) error {
	if b == nil || len(atoms) == 0 || !b.IsStrongRef() {
		return nil
	}
	dt := x.db.tables[b.RefTableName]
	for _, a := range atoms {
		id := a.(schema.UUID)
		if id == tr.id {
			continue
		}
		dst := x.findOrMake(dt, id)
		if dst == nil {
			if delta < 0 {
				continue
			}
			return ovsdberr.New(ovsdberr.TagReferentialIntegrity,
				"Table %s column %s row %s references nonexistent row %s in table %s.",
				tr.t.ts.Name, c.Name, tr.id, id, dt.ts.Name)
		}
		dst.nRefs += delta
	}
	return nil
}

func (x *txn) updateRefCounts(tr *txnRow) error {
	for _, c := range tr.t.strongCols {
		if !tr.changed[c.Index] {
			continue
		}
		var removed, added schema.Datum
		switch {
		case tr.old != nil && tr.new == nil:
			removed = tr.old.Field(c.Index)
		case tr.old == nil && tr.new != nil:
			added = tr.new.Field(c.Index)
		case tr.old != nil && tr.new != nil:
			added, removed = schema.AddedRemoved(tr.old.Field(c.Index), tr.new.Field(c.Index))
		}
		if err := x.refDelta(tr, c, &c.Type.Key, removed.Keys, -1); err != nil {
			return err
		}
		if err := x.refDelta(tr, c, c.Type.Value, removed.Values, -1); err != nil {
			return err
		}
		if err := x.refDelta(tr, c, &c.Type.Key, added.Keys, 1); err != nil {
			return err
		}
		if err := x.refDelta(tr, c, c.Type.Value, added.Values, 1); err != nil {
			return err
		}
	}
	return nil
}

// deleteGarbage deletes an unreferenced non-root row and, recursively, the
// rows only it referenced.
func (x *txn) deleteGarbage(tr *txnRow) {
	if tr.t.ts.IsRoot || tr.new == nil {
		return
	}
	r := tr.new
	tr.new = nil
	forEachRef(r, tr.t.strongCols, func(b *schema.BaseType, id schema.UUID) {
		if !b.IsStrongRef() || id == tr.id {
			return
		}
		dst := x.findOrMake(x.db.tables[b.RefTableName], id)
		if dst == nil || dst.nRefs == 0 || dst.new == nil {
			return
		}
		dst.nRefs--
		if dst.nRefs == 0 {
			x.deleteGarbage(dst)
		}
	})
}

// assessWeakRefs removes weak references to rows that do not exist after
// the transaction and checks the resulting minimum sizes.
func (x *txn) assessWeakRefs() error {
	// Rows weakly referencing deleted rows must be reassessed.
	_ = x.eachRow(func(tr *txnRow) error {
		if tr.old == nil || tr.new != nil {
			return nil
		}
		for src := range tr.t.weakIn[tr.id] {
			if s := x.findOrMake(src.t, src.id); s != nil && s.new != nil {
				s.weakChk = true
			}
		}
		return nil
	})
	return x.eachRow(func(tr *txnRow) error {
		if tr.new == nil || len(tr.t.weakCols) == 0 {
			return nil
		}
		for _, c := range tr.t.weakCols {
			if !tr.weakChk && !tr.changed[c.Index] {
				continue
			}
			d := tr.new.Field(c.Index)
			if len(d.Keys) == 0 {
				continue // nothing to remove
			}
			keyWeak := c.Type.Key.IsWeakRef()
			valWeak := c.Type.Value != nil && c.Type.Value.IsWeakRef()
			var kt, vt *table
			if keyWeak {
				kt = x.db.tables[c.Type.Key.RefTableName]
			}
			if valWeak {
				vt = x.db.tables[c.Type.Value.RefTableName]
			}
			zero := false
			var keep []int
			dropped := 0
			for i := range d.Keys {
				ok := true
				if keyWeak {
					id := d.Keys[i].(schema.UUID)
					if id != tr.id && x.get(kt, id) == nil {
						ok = false
						zero = zero || id == schema.ZeroUUID
					}
				}
				if valWeak && ok {
					id := d.Values[i].(schema.UUID)
					if id != tr.id && x.get(vt, id) == nil {
						ok = false
						zero = zero || id == schema.ZeroUUID
					}
				}
				if ok {
					keep = append(keep, i)
				} else {
					dropped++
				}
			}
			if dropped == 0 {
				continue
			}
			nd := schema.Datum{Keys: make([]schema.Atom, 0, len(keep))}
			if d.Values != nil {
				nd.Values = make([]schema.Atom, 0, len(keep))
			}
			for _, i := range keep {
				nd.Keys = append(nd.Keys, d.Keys[i])
				if d.Values != nil {
					nd.Values = append(nd.Values, d.Values[i])
				}
			}
			tr.new.densify()
			tr.new.Fields[c.Index] = nd
			if (tr.old == nil || !tr.old.Field(c.Index).Equal(nd)) && !tr.changed[c.Index] {
				tr.changed[c.Index] = true
				tr.anyChg = true
			}
			if len(nd.Keys) < c.Type.Min {
				if zero && tr.old == nil {
					return ovsdberr.New(ovsdberr.TagConstraint,
						"Weak reference column \"%s\" in \"%s\" row %s (inserted within this transaction) "+
							"contained all-zeros UUID (probably as the default value for this column) but "+
							"deleting this value caused a constraint volation because this column is not "+
							"allowed to be empty.", c.Name, tr.t.ts.Name, tr.id)
				}
				ins := ""
				if tr.old == nil {
					ins = "(inserted within this transaction) "
				}
				return ovsdberr.New(ovsdberr.TagConstraint,
					"Deletion of %d weak reference(s) to deleted (or never-existing) rows from column "+
						"\"%s\" in \"%s\" row %s %scaused this column to become empty, but constraints on "+
						"this column disallow an empty column.", dropped, c.Name, tr.t.ts.Name, tr.id, ins)
			}
		}
		return nil
	})
}

// checkIndexes verifies that unique indexes stay unique.
func (x *txn) checkIndexes() error {
	for _, tt := range x.torder {
		ts := tt.t.ts
		if len(ts.Indexes) == 0 {
			continue
		}
		local := make([]map[string]*txnRow, len(ts.Indexes))
		for i := range local {
			local[i] = map[string]*txnRow{}
		}
		for _, tr := range tt.order {
			if tr.dropped || tr.new == nil || tt.rows[tr.id] != tr {
				continue
			}
			for i, cols := range ts.Indexes {
				k := indexKey(tr.new, cols)
				if other := local[i][k]; other != nil {
					return x.duplicateIndex(tt.t, cols, other.new, tr.new)
				}
				if id, ok := tt.t.indexes[i][k]; ok && tt.rows[id] == nil {
					return x.duplicateIndex(tt.t, cols, tt.t.rows[id], tr.new)
				}
				local[i][k] = tr
			}
		}
	}
	return nil
}

func englishDelim(i, n int) string {
	switch {
	case i == 0:
		return ""
	case i < n-1:
		return ", "
	case n > 2:
		return ", and "
	}
	return " and "
}

func columnsString(r *Row, cols []*schema.Column) string {
	var sb strings.Builder
	for i, c := range cols {
		sb.WriteString(englishDelim(i, len(cols)))
		sb.WriteString(schema.DatumString(&c.Type, r.Field(c.Index)))
	}
	return sb.String()
}

func (x *txn) duplicateIndex(t *table, cols []*schema.Column, a, b *Row) error {
	// C names first the greater row, comparing every column (_uuid and
	// _version included) in its hash order of the table's columns: the
	// first column in that order where the rows differ decides. (When that
	// is _uuid or _version the order is as random as those are.)
	if compareRows(a, b, cColumns(t.ts)) < 0 {
		a, b = b, a
	}
	var sb strings.Builder
	sb.WriteString("Transaction causes multiple rows in \"" + t.ts.Name + "\" table to have identical values (")
	sb.WriteString(columnsString(a, cols))
	sb.WriteString(") for index on column")
	if len(cols) > 1 {
		sb.WriteString("s")
	}
	sb.WriteString(" ")
	for i, c := range cols {
		sb.WriteString(englishDelim(i, len(cols)) + "\"" + c.Name + "\"")
	}
	sb.WriteString(".  ")
	x.describeIndexRow(&sb, t, cols, a, "First")
	sb.WriteString("  ")
	x.describeIndexRow(&sb, t, cols, b, "Second")
	return ovsdberr.New(ovsdberr.TagConstraint, "%s", sb.String())
}

func (x *txn) describeIndexRow(sb *strings.Builder, t *table, cols []*schema.Column, r *Row, title string) {
	sb.WriteString(title + " row, with UUID " + r.UUID().String() + ", ")
	tr := x.findTxnRow(t, r.UUID())
	switch {
	case tr == nil || tr.new != r || !tr.anyChg:
		sb.WriteString("existed in the database before this transaction and was not modified by the transaction.")
	case tr.old == nil:
		sb.WriteString("was inserted by this transaction.")
	case compareRows(tr.old, tr.new, cols) == 0:
		sb.WriteString("existed in the database before this transaction, which modified some of the row's columns but not any columns in this index.")
	default:
		sb.WriteString("had the following index values before the transaction: ")
		sb.WriteString(columnsString(tr.old, cols))
		sb.WriteString(".")
	}
}

// compareRows compares a and b on cols (all columns when nil).
func compareRows(a, b *Row, cols []*schema.Column) int {
	if cols == nil {
		for i, n := 0, a.NumFields(); i < n; i++ {
			if c := schema.CompareDatums(a.Field(i), b.Field(i)); c != 0 {
				return c
			}
		}
		return 0
	}
	for _, col := range cols {
		if c := schema.CompareDatums(a.Field(col.Index), b.Field(col.Index)); c != 0 {
			return c
		}
	}
	return 0
}

// indexKey encodes the values of cols in r as a string usable as a map key
// (equal datums give equal keys).
func indexKey(r *Row, cols []*schema.Column) string {
	var b []byte
	for _, c := range cols {
		d := r.Field(c.Index)
		b = binary.AppendUvarint(b, uint64(len(d.Keys)))
		for i, k := range d.Keys {
			b = appendAtom(b, k)
			if d.Values != nil {
				b = appendAtom(b, d.Values[i])
			}
		}
	}
	return string(b)
}

func appendAtom(b []byte, a schema.Atom) []byte {
	switch v := a.(type) {
	case int64:
		return binary.AppendVarint(b, v)
	case float64:
		if v == 0 {
			v = 0 // -0 and +0 are equal atoms
		}
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	case bool:
		if v {
			return append(b, 1)
		}
		return append(b, 0)
	case string:
		b = binary.AppendUvarint(b, uint64(len(v)))
		return append(b, v...)
	case schema.UUID:
		return append(b, v[:]...)
	}
	return b
}

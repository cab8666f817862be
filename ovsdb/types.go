package ovsdb

import (
	"context"
	"math/bits"

	"github.com/ovsdb-go/ovsdb-server/schema"
)

// Row is one row. Read its columns with Field(i), i being
// schema.Column.Index; Field(0) is the _uuid and Field(1) the _version, both
// one-element UUID datums.
//
// A Row has one of two representations:
//
//   - dense: Fields holds every column (len(Fields) == number of columns).
//     Transactions work on dense private copies, and code outside the engine
//     may build a dense Row with a composite literal (&Row{Fields: f}) or
//     with NewRow.
//   - compact: Fields is nil and the row keeps only the columns whose value
//     differs from the column's default datum (schema.DefaultDatum); Field
//     returns the table's shared default datum for the others. A present
//     column holding exactly one key (and no map values) is kept as that
//     lone atom and Field builds its datum around it without allocating.
//     Committed rows of tables with at most 64 columns are compact: the
//     engine builds inserted rows compact and converts dense rows when a
//     transaction commits and in Apply.
//
// A Row is immutable once it is part of committed state (or of a change
// set): changes build a new Row. Datums returned by Field share their Keys
// and Values arrays with the row (and, for absent columns, with every row
// of the table); callers must never modify them in place.
type Row struct {
	// Fields is the dense representation, nil in a compact row. Read
	// columns with Field, which works for both representations.
	Fields []schema.Datum

	// Compact representation: bit i of mask is set when column i is
	// present, and also of smask when it is a lone atom. atoms holds the
	// lone atoms and vals the other present datums, each in column order;
	// lay gives the defaults of the absent columns.
	lay   *rowLayout
	mask  uint64
	smask uint64
	atoms []schema.Atom
	vals  []schema.Datum
}

// rowLayout is shared by the compact rows of one table.
type rowLayout struct {
	defaults []schema.Datum // DefaultDatum of each column
}

// maxCompactColumns is the widest table whose rows are stored compact.
const maxCompactColumns = 64

// NewRow returns a dense row holding fields (indexed by column index). The
// row takes ownership of the slice.
func NewRow(fields []schema.Datum) *Row { return &Row{Fields: fields} }

// Field returns the datum of column i.
func (r *Row) Field(i int) schema.Datum {
	if r.Fields != nil {
		return r.Fields[i]
	}
	bit := uint64(1) << uint(i)
	if r.smask&bit != 0 {
		k := bits.OnesCount64(r.smask & (bit - 1))
		return schema.Datum{Keys: r.atoms[k : k+1 : k+1]}
	}
	if r.mask&bit == 0 {
		return r.lay.defaults[i]
	}
	return r.vals[bits.OnesCount64(r.mask&^r.smask&(bit-1))]
}

// NumFields returns the number of columns of the row's table.
func (r *Row) NumFields() int {
	if r.Fields != nil {
		return len(r.Fields)
	}
	return len(r.lay.defaults)
}

// Dense returns a new slice holding every column of r, for building a
// modified copy. The datums share their arrays with r.
func (r *Row) Dense() []schema.Datum {
	if r.Fields != nil {
		return append([]schema.Datum(nil), r.Fields...)
	}
	out := make([]schema.Datum, len(r.lay.defaults))
	for i := range out {
		out[i] = r.Field(i)
	}
	return out
}

// isLoneAtom reports whether d is kept as a lone atom in a compact row.
func isLoneAtom(d schema.Datum) bool { return len(d.Keys) == 1 && d.Values == nil }

// compact converts a dense row to the compact representation in place,
// when its table is narrow enough. Only the engine calls it, on rows that
// nobody else reads yet.
func (r *Row) compact(lay *rowLayout) {
	f := r.Fields
	if f == nil || len(f) > maxCompactColumns || len(f) != len(lay.defaults) {
		return
	}
	var mask, smask uint64
	na, nv := 0, 0
	for i := range f {
		if isDefault(f[i], lay.defaults[i]) {
			continue
		}
		mask |= uint64(1) << uint(i)
		if isLoneAtom(f[i]) {
			smask |= uint64(1) << uint(i)
			na++
		} else {
			nv++
		}
	}
	// The compact row replaces r's contents (r itself may be referenced).
	_, atoms, vals := allocRow(na, nv)
	atoms, vals = atoms[:0], vals[:0]
	for i := range f {
		switch bit := uint64(1) << uint(i); {
		case smask&bit != 0:
			atoms = append(atoms, f[i].Keys[0])
		case mask&bit != 0:
			vals = append(vals, f[i])
		}
	}
	r.lay, r.mask, r.smask, r.atoms, r.vals, r.Fields = lay, mask, smask, atoms, vals, nil
}

// numPresent returns the number of columns a compact row keeps.
func (r *Row) numPresent() int { return bits.OnesCount64(r.mask) }

// isDefault reports whether d equals the default datum def. Empty datums
// are compared by length only (a nil and an empty slice are the same set).
func isDefault(d, def schema.Datum) bool {
	if len(d.Keys) != len(def.Keys) || len(d.Values) != len(def.Values) {
		return false
	}
	return len(d.Keys) == 0 || d.Equal(def)
}

// UUID returns the row's _uuid.
func (r *Row) UUID() schema.UUID { return r.Field(schema.ColUUID).Keys[0].(schema.UUID) }

// Version returns the row's _version.
func (r *Row) Version() schema.UUID { return r.Field(schema.ColVersion).Keys[0].(schema.UUID) }

// RowChange is the change of one row in a transaction: Old is nil for an
// insert, New is nil for a delete.
type RowChange struct {
	Old, New *Row
}

// ChangeSet is what one committed transaction did. It is produced by the
// engine, handed to the Committer, then applied to the committed state.
type ChangeSet struct {
	// Tables maps table name to the changed rows of that table. Tables
	// without changes are absent.
	Tables map[string]map[schema.UUID]*RowChange
	// Durable is true if the transaction had a "commit" op with durable true.
	Durable bool
	// Comment joins the transaction's "comment" ops with newlines.
	Comment string
}

// Empty reports whether the change set changes nothing.
func (cs *ChangeSet) Empty() bool { return len(cs.Tables) == 0 }

// Committer is the engine's persistence hook: it makes a change set
// durable (the standalone mode: the OVSDB log file) before the engine
// makes it visible. It is not the replication boundary, which is
// server.Mode (server/mode.go): a mode may attach a Committer (standalone)
// or drive the engine from above (a Raft member executes committed log
// entries with TransactOnce on a database with a NopCommitter). It is called with the database's write lock held, in
// commit order. An error aborts the transaction; the error is sent to the
// client as the last element of the result array. A committer that also
// implements GroupCommitter (groupcommit.go) is called through WriteBatch
// instead, without the lock, and its change sets become visible only once
// written (group commit).
type Committer interface {
	Commit(ctx context.Context, cs *ChangeSet) error
}

// NopCommitter commits nothing (an in-memory database).
type NopCommitter struct{}

// Commit implements Committer.
func (NopCommitter) Commit(context.Context, *ChangeSet) error { return nil }

// TransactOptions carries per-session context into a transaction.
type TransactOptions struct {
	// HasLock reports whether the calling session owns the named lock
	// (for the "assert" op). Nil means the session owns no locks.
	HasLock func(name string) bool
	// ReadOnly rejects every op that may modify the database, as C does
	// for a server in read-only (backup) mode.
	ReadOnly bool
	// NewUUID, when non-nil, supplies every UUID the transaction creates:
	// the _uuid of inserted rows without a "uuid" member, the UUIDs bound
	// to "named-uuid" symbols (in parse order), the _version of every
	// inserted row (at its insert) and the new _version of every modified
	// row (drawn after all other UUIDs, tables in name order, rows in _uuid
	// order). A deterministic source makes
	// the same operations on the same state produce the same change set on
	// every Raft member. Nil means random UUIDs (standalone).
	NewUUID func() schema.UUID
	// TxnID, when not all zeros, is the transaction id given to commit
	// observers (monitor_cond_since's last-txn-id) instead of a random one,
	// so that replicated members agree on it.
	TxnID schema.UUID
	// Role is the RBAC role of the calling session (C's remote "role"
	// option, from the role column of a db: remote's row). "" means
	// none: the session's writes are not restricted. With a role, a
	// database that has an RBAC_Role table checks every insert, delete,
	// update and mutate against its RBAC tables (rbac.go).
	Role string
	// ClientID is the session's RBAC id, the common name of the peer's
	// certificate (C's stream peer id), valid when HasClientID is set.
	// A session with a role and no id (not TLS, or a certificate without
	// a common name) is refused every write, as in C, whose messages then
	// name the client "(null)".
	ClientID    string
	HasClientID bool
}

package ovsdb

import (
	"context"

	"github.com/ovsdb-go/ovsdb-server/schema"
)

// Row is one row. Fields is indexed by schema.Column.Index; Fields[0] holds
// the _uuid and Fields[1] the _version as one-element UUID datums.
// A Row is immutable once it is part of committed state: changes build a
// new Row.
type Row struct {
	Fields []schema.Datum
}

// UUID returns the row's _uuid.
func (r *Row) UUID() schema.UUID { return r.Fields[schema.ColUUID].Keys[0].(schema.UUID) }

// Version returns the row's _version.
func (r *Row) Version() schema.UUID { return r.Fields[schema.ColVersion].Keys[0].(schema.UUID) }

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

// Committer is the replication boundary: it makes a change set durable
// (standalone: the OVSDB log file) or replicated (Raft) before the engine
// makes it visible. It is called with the database's write lock held, in
// commit order. An error aborts the transaction; the error is sent to the
// client as the last element of the result array.
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
}

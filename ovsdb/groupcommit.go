package ovsdb

import "context"

// GroupCommitter is an optional extension of Committer that lets
// concurrent transactions share one write (group commit). If the database's
// committer implements it, the engine calls CommitAsync instead of Commit,
// with the write lock held and in commit order:
//   - a non-nil err aborts the transaction exactly as a Commit error does;
//   - otherwise the engine applies cs (it becomes visible to readers and
//     commit observers at once), releases its write lock, and then calls
//     wait exactly once before Transact returns. wait blocks until cs is
//     durable (written, and synced if cs.Durable). A wait error is sent to
//     the client as the last element of the result array, although cs stays
//     applied in memory: the committer decides what becomes of its record
//     (standalone keeps it and writes it with the next successful write).
//
// The same boundary serves a replicated committer: CommitAsync queues a
// proposal, wait blocks until it is committed.
type GroupCommitter interface {
	Committer
	CommitAsync(ctx context.Context, cs *ChangeSet) (wait func() error, err error)
}

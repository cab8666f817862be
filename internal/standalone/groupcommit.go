package standalone

import (
	"context"
	"errors"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/storage"
)

// Group commit.
//
// The engine (ovsdb.GroupCommitter) applies each committed transaction to
// its tip and queues it; the transaction becomes visible only when its
// record is durable. The first waiting transaction that finds no write in
// progress calls WriteBatch with every queued change set: one record each,
// serialised into one buffer and written with one write system call (plus
// one fdatasync if any of them asked for durability). Transactions
// committed meanwhile form the next batch. So N concurrent transactions
// cost about one write instead of N, and neither serialisation nor the
// write runs under the engine lock.
//
// Failure (as C, which writes each record before its transaction becomes
// visible): a failed write or fdatasync is truncated away
// (storage.Log.WriteBatch), nothing of the batch stays in the file and
// WriteBatch returns the error. The engine then rolls its tip back: the
// batch's first transaction fails with the error (C's reply: the results,
// then {"error":"I/O error","details":"<file>: write failed","io-error":
// "No space left on device"}), and every later one is executed again
// against the durable state and written with the next batch. Nothing is
// queued for a retry: a transaction reported failed never reaches the
// file, and the next write (the next transaction) succeeds as soon as
// there is space again.
//
// Locks: WriteBatch holds d.mu from the write to the end of publish, and
// compaction takes its snapshot (through the engine's read lock) with d.mu
// held, so every record written before the snapshot is in it and every
// later one goes to the compaction's tail. Lock order: d.mu, then the
// engine's lock.

var _ ovsdb.GroupCommitter = (*DB)(nil)

// Commit implements ovsdb.Committer for direct callers: it writes cs as a
// batch of one. (The engine calls WriteBatch.)
func (d *DB) Commit(_ context.Context, cs *ovsdb.ChangeSet) error {
	return d.WriteBatch([]*ovsdb.ChangeSet{cs}, func() {})
}

// WriteBatch implements ovsdb.GroupCommitter: it writes one record per
// change set that changes something persistent, with one write, syncs if
// any change set is durable, and calls publish with d.mu still held.
func (d *DB) WriteBatch(css []*ovsdb.ChangeSet, publish func()) error {
	// The engine never runs two WriteBatch calls at once, so the buffers
	// are ours without d.mu; serialising needs no lock (rows are
	// immutable).
	now := d.now()
	buf := d.wbuf[:0]
	d.spans = d.spans[:0]
	durable := false
	for _, cs := range css {
		durable = durable || cs.Durable
		data, ok := appendChangeSet(d.scratch[:0], d.schema, cs, now)
		d.scratch = data[:0]
		if !ok {
			continue
		}
		data = append(data, '\n')
		d.scratch = data[:0]
		buf = storage.AppendRecord(buf, storage.MagicStandalone, data)
		d.spans = append(d.spans, [2]int{len(buf) - len(data), len(buf)})
	}
	if cap(buf) <= maxSpare {
		d.wbuf = buf[:0]
	}
	if cap(d.scratch) > maxSpare {
		d.scratch = nil
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.log == nil {
		return ovsdberr.New(ovsdberr.TagIOError, "%s: database is closed", d.path)
	}
	if len(d.spans) > 0 {
		var err error
		if d.writeHook != nil {
			err = d.writeHook(buf)
		}
		if err == nil {
			err = d.log.WriteBatch(buf, durable)
		}
		if err != nil {
			return err
		}
		d.nWritten += len(d.spans)
		if d.tail != nil {
			for _, sp := range d.spans {
				d.tail = append(d.tail, append([]byte(nil), buf[sp[0]:sp[1]]...))
			}
		}
	}
	publish()
	d.maybeCompactLocked()
	return nil
}

// maxSpare bounds the write buffers kept for reuse.
const maxSpare = 1 << 20

// maybeCompactLocked starts an automatic compaction if it is due. Called
// with d.mu held (shouldCompact reads the log).
func (d *DB) maybeCompactLocked() {
	if d.closing || d.log == nil || !d.shouldCompact() || !d.compactMu.TryLock() {
		return
	}
	// Runs once the caller releases its locks.
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer d.compactMu.Unlock()
		if err := d.compact(); err != nil && !errors.Is(err, errClosed) {
			logger().Warn("automatic compaction failed", "file", d.path, "err", err)
		}
	}()
}

package standalone

import (
	"context"
	"errors"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// Group commit.
//
// CommitAsync runs under the engine's write lock: it only serialises the
// change set and appends the complete record (header and data) to the
// pending batch d.cur. The engine then applies the change set, releases its
// lock and calls the returned wait function. The first waiter that finds no
// write in progress becomes the writer: it takes the whole pending batch
// (its own record and every record committed before it that is not yet
// written), writes it with one write system call (plus one fdatasync if any
// transaction in it asked for durability), and wakes the others. Records
// committed meanwhile form the next batch, written by one of their own
// waiters. So N concurrent transactions cost about one write instead of N,
// and the write never runs under the engine lock.
//
// Measured (loadgen insert1, 2 shared cores): batches average 1.01-1.03
// records at 8 and 32 clients, because a write usually ends before another
// transaction commits; the gain there comes from writing outside the engine
// lock. Yielding once (runtime.Gosched) before writing raised batches to
// 1.8-2.0 records without a measurable throughput change, so it is not done.
//
// Failure behaviour (differs from C): C writes the record before the
// transaction becomes visible, and a failed write aborts the transaction.
// Here a transaction is already applied in memory (and visible to readers
// and monitors) when its record is written. If the write fails, every
// transaction of the batch gets the I/O error as the last element of its
// result, although it stays applied; the failed write is removed from the
// file and the batch's records stay pending, in order, in front of the
// next batch: they are written by the next successful write (the next
// commit's wait), by compaction (whose snapshot holds them) or by Close.
// A failed fdatasync reports the error to the batch too, but the records
// are written and not retried. So an acknowledged (error-free) transaction
// is always in the file, and one that got an I/O error may still end up
// there.

// batch is a group of records written with one write.
type batch struct {
	buf     []byte // complete records
	durable bool   // some transaction in it asked for durability
	done    bool   // written (or failed); err is final
	err     error
}

var _ ovsdb.GroupCommitter = (*DB)(nil)

// Commit implements ovsdb.Committer: CommitAsync followed by its wait.
// The engine calls CommitAsync instead; Commit is for direct callers.
func (d *DB) Commit(ctx context.Context, cs *ovsdb.ChangeSet) error {
	wait, err := d.CommitAsync(ctx, cs)
	if err != nil || wait == nil {
		return err
	}
	return wait()
}

// CommitAsync implements ovsdb.GroupCommitter: it queues the change set's
// record and returns a function that blocks until the record is written
// (and synced if cs.Durable). wait is nil when there is nothing to write.
func (d *DB) CommitAsync(_ context.Context, cs *ovsdb.ChangeSet) (wait func() error, err error) {
	data, ok := appendChangeSet(nil, d.schema, cs, d.now())
	if !ok {
		return nil, nil
	}
	data = append(data, '\n')
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ovsdberr.New(ovsdberr.TagIOError, "%s: database is closed", d.path)
	}
	b := d.cur
	if b == nil {
		b = &batch{buf: d.spare[:0]}
		d.spare = nil
		d.cur = b
	}
	b.buf = d.log.AppendRecord(b.buf, data)
	b.durable = b.durable || cs.Durable
	d.nWritten++
	if d.tail != nil {
		d.tail = append(d.tail, data)
	}
	if !d.flushing {
		d.maybeCompactLocked()
	}
	return func() error { return d.waitBatch(b) }, nil
}

// waitBatch blocks until b is written, writing it (and whatever else is
// pending) itself if no write is in progress.
func (d *DB) waitBatch(b *batch) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for !b.done {
		if d.flushing {
			d.condLocked().Wait()
			continue
		}
		// Not done and no write in progress: b is d.cur.
		d.flushLocked()
	}
	return b.err
}

func (d *DB) condLocked() interface{ Wait() } {
	if d.cond.L == nil {
		d.cond.L = &d.mu
	}
	return &d.cond
}

// idleLocked waits until no write is in progress; afterwards the caller
// (holding d.mu) may use d.log directly.
func (d *DB) idleLocked() {
	for d.flushing {
		d.condLocked().Wait()
	}
}

// flushLocked writes the pending batch. Called with d.mu held and no
// write in progress; d.mu is released during the write.
func (d *DB) flushLocked() {
	b := d.cur
	if b == nil {
		return
	}
	d.cur = nil
	d.flushing = true
	d.mu.Unlock()
	var err error
	if d.writeHook != nil {
		err = d.writeHook(b.buf)
	}
	if err == nil {
		err = d.log.WriteRecords(b.buf)
	}
	written := err == nil
	if written && b.durable {
		err = d.log.Commit()
	}
	d.mu.Lock()
	d.flushing = false
	if written {
		if cap(b.buf) <= maxSpare {
			d.spare = b.buf[:0]
		}
	} else {
		// Keep the records, in order, for the next write.
		if d.cur == nil {
			d.cur = &batch{}
		}
		d.cur.buf = append(b.buf, d.cur.buf...)
		d.cur.durable = d.cur.durable || b.durable
	}
	b.buf = nil
	b.done, b.err = true, err
	d.cond.Broadcast()
	d.maybeCompactLocked()
}

// maxSpare bounds the write buffer kept for reuse.
const maxSpare = 1 << 20

// finishPendingLocked marks the pending batch written with err; called
// when its records were written some other way (a replaced file that
// holds them) or can no longer be. Call with d.mu held and idle.
func (d *DB) finishPendingLocked(err error) {
	if b := d.cur; b != nil {
		d.cur = nil
		b.buf = nil
		b.done, b.err = true, err
		d.cond.Broadcast()
	}
}

// maybeCompactLocked starts an automatic compaction if it is due. Called
// with d.mu held and no write in progress (shouldCompact reads the log).
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

package ovsdb

import (
	"context"

	"github.com/ovsdb-go/ovsdb-server/schema"
)

// GroupCommitter is an optional extension of Committer that lets
// concurrent transactions share one write (group commit) without making
// anything visible before it is durable.
//
// With a GroupCommitter the database keeps two states: the tip, against
// which write transactions execute, and the durable state, which is all
// that readers (read-only transactions, Read, Row, Observe snapshots) and
// commit observers (monitors) ever see. A committed write transaction is
// applied to the tip and queued, under the engine's write lock; nothing
// else is done under that lock. Once the lock is released, the
// transaction's goroutine waits until its change set is durable: the first
// waiter that finds no write in progress takes every queued change set and
// calls WriteBatch with them, without any engine lock, while further
// transactions execute against the tip and queue up for the next batch.
//
// WriteBatch must make the change sets durable in order, all or none (a
// failed write must leave nothing of the batch in the log), and then call
// publish exactly once before returning nil: publish makes the batch the
// durable state, tells the commit observers and answers its transactions.
// The committer may hold its own locks while it calls publish (they come
// before the engine's locks in the lock order), so that, for example, a
// compaction sees every written record as either in its snapshot or after
// it. If WriteBatch returns nil without calling publish, the engine
// publishes after it returns.
//
// If WriteBatch fails, the tip is rolled back to the durable state. The
// first transaction of the batch executed against the durable state: it
// fails with the error as the last element of its result, as C reports a
// failed log write. Every later pending transaction (the rest of the batch
// and those queued behind it) executed against a state that never became
// durable: each is executed again, in its original order, against the
// rolled-back state, and goes into the next batch. So each failed write
// fails exactly one transaction, every reply shows only durable data, and
// the outcome is the one C's one-write-per-transaction loop gives.
//
// A write transaction that commits nothing (it failed, or changed
// nothing) but executed while change sets were pending has seen them in
// its results: it is answered only once they are durable, and executed
// again if they fail.
//
// WriteBatch calls are never concurrent for one database, and every change
// set is written exactly once or fails; a committer keeps no record of a
// failed batch.
type GroupCommitter interface {
	Committer
	WriteBatch(css []*ChangeSet, publish func()) error
}

// commitEntry is one transaction applied to the tip and not yet durable,
// or (cs nil) one that committed nothing but saw pending change sets.
type commitEntry struct {
	cs    *ChangeSet
	txnID schema.UUID // given to the observers at publish
	gc    GroupCommitter

	// What is needed to execute the transaction again if an earlier
	// pending transaction fails.
	ctx     context.Context
	ops     []any
	opts    TransactOptions
	elapsed int64

	// Outcome, guarded by gm: done once published, failed or executed
	// again (redo).
	done bool
	err  error
	redo *redoResult
}

// redoResult is the outcome of executing a transaction again after a
// failed write of an earlier one.
type redoResult struct {
	res     []any
	timeout int64
	blocked bool
	next    *commitEntry // its new pending commit, if any
}

// queueLocked applies cs to the tip and queues it for the next write.
// Called with mu held for writing.
// A nil cs queues a transaction that committed nothing but saw the
// pending change sets.
func (db *Database) queueLocked(ctx context.Context, gc GroupCommitter, cs *ChangeSet, ops []any,
	opts TransactOptions, elapsed int64) *commitEntry {
	if cs != nil {
		db.applyLocked(cs)
		db.trackUndoLocked(cs)
	}
	txnID := opts.TxnID
	if txnID == (schema.UUID{}) {
		txnID = schema.NewUUID()
	}
	e := &commitEntry{cs: cs, txnID: txnID, gc: gc, ctx: ctx, ops: ops, opts: opts, elapsed: elapsed}
	db.pending = append(db.pending, e)
	db.gm.Lock()
	db.queue = append(db.queue, e)
	db.gm.Unlock()
	return e
}

// trackUndoLocked records, for each row cs changes, its durable value
// (the Old of the first pending change set that touches it).
func (db *Database) trackUndoLocked(cs *ChangeSet) {
	if cs == nil {
		return
	}
	for name, rows := range cs.Tables {
		t := db.tables[name]
		if t == nil {
			continue
		}
		if t.undo == nil {
			t.undo = make(map[schema.UUID]*Row, len(rows))
		}
		for id, rc := range rows {
			if _, ok := t.undo[id]; !ok {
				t.undo[id] = rc.Old
			}
		}
		if !t.hasUndo {
			t.hasUndo = true
			db.undoTables = append(db.undoTables, t)
		}
	}
}

// clearUndoLocked forgets every durable value recorded for the tip.
func (db *Database) clearUndoLocked() {
	for _, t := range db.undoTables {
		clear(t.undo)
		t.hasUndo = false
	}
	db.undoTables = db.undoTables[:0]
}

// awaitDurable waits until e is published, failed or executed again,
// writing queued change sets itself whenever no write is in progress.
func (db *Database) awaitDurable(e *commitEntry) {
	db.gm.Lock()
	for !e.done {
		if db.flushing {
			db.gcond.Wait()
			continue
		}
		db.flushLocked()
	}
	db.gm.Unlock()
}

// Pending returns the number of transactions applied to the tip and not
// yet durable (or, having committed nothing, waiting for those before
// them).
func (db *Database) Pending() int {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return len(db.pending)
}

// Flush waits until every change set queued so far is durable or failed
// (transactions executed again after a failure are waited for too). A
// committer being detached calls it after SetCommitter, so that nothing
// is left for it to write.
func (db *Database) Flush() {
	db.gm.Lock()
	for len(db.queue) > 0 || db.flushing {
		if db.flushing {
			db.gcond.Wait()
			continue
		}
		db.flushLocked()
	}
	db.gm.Unlock()
}

// flushLocked writes the queued change sets (the longest prefix committed
// through one committer) and publishes or rolls them back. Called with gm
// held and no write in progress; gm is released while writing.
func (db *Database) flushLocked() {
	n := 1
	for n < len(db.queue) && db.queue[n].gc == db.queue[0].gc {
		n++
	}
	batch := db.queue[:n:n]
	db.queue = db.queue[n:]
	if len(db.queue) == 0 {
		db.queue = nil
	}
	db.flushing = true
	db.gm.Unlock()

	css := make([]*ChangeSet, 0, len(batch))
	for _, e := range batch {
		if e.cs != nil {
			css = append(css, e.cs)
		}
	}
	published := false
	publish := func() {
		if published {
			return
		}
		published = true
		db.mu.Lock()
		db.gm.Lock()
		db.publishLocked(batch)
		db.gm.Unlock()
		db.mu.Unlock()
		db.notify()
	}
	var err error
	if len(css) > 0 {
		err = batch[0].gc.WriteBatch(css, publish)
	}
	if published && err != nil {
		// Published means durable: the error came after (a committer
		// bug); the batch stays.
		logger().Error("group commit: write reported failed after publishing", "err", err)
		err = nil
	}
	if err == nil {
		publish()
		db.gm.Lock()
	} else {
		db.failLocked(batch, err) // returns with gm held
	}
	db.flushing = false
	db.gcond.Broadcast()
}

// publishLocked makes batch, the oldest pending change sets, durable:
// readers and observers see them from now on. Called with mu (write) and
// gm held.
func (db *Database) publishLocked(batch []*commitEntry) {
	rest := db.pending[len(batch):]
	db.clearUndoLocked()
	for _, e := range rest {
		db.trackUndoLocked(e.cs)
	}
	if len(rest) == 0 {
		clear(db.pending)
		db.pending = db.pending[:0]
	} else {
		db.pending = append(db.pending[:0:0], rest...)
	}
	for _, e := range batch {
		if e.cs != nil {
			db.observeLocked(e.cs, e.txnID)
		}
		e.done = true
	}
	db.gcond.Broadcast()
}

// failLocked handles a failed write of batch: the tip goes back to the
// durable state, the batch's first change set fails with err (entries
// before it committed nothing and saw only durable state: they are done),
// and every later pending transaction is executed again, in order, against
// the durable state. Called without locks; returns with gm held.
func (db *Database) failLocked(batch []*commitEntry, err error) {
	db.mu.Lock()
	db.gm.Lock()
	// batch is the oldest part of pending (earlier batches are published).
	k := 0
	for db.pending[k].cs == nil {
		k++
	}
	views, failed := db.pending[:k:k], db.pending[k]
	redo := append([]*commitEntry(nil), db.pending[k+1:]...)
	db.queue = nil
	for i := len(db.pending) - 1; i >= 0; i-- {
		if cs := db.pending[i].cs; cs != nil {
			db.applyLocked(inverse(cs))
		}
	}
	clear(db.pending)
	db.pending = db.pending[:0]
	db.clearUndoLocked()
	db.gm.Unlock()
	// Still flushing: no other write starts while the transactions are
	// executed again (their new commits queue up as usual).
	outcomes := make([]*redoResult, len(redo))
	for i, e := range redo {
		res, timeout, blocked, next := db.executeLocked(e.ctx, e.ops, e.opts, false, e.elapsed)
		outcomes[i] = &redoResult{res: res, timeout: timeout, blocked: blocked, next: next}
	}
	db.gm.Lock()
	for _, e := range views {
		e.done = true
	}
	failed.err, failed.done = err, true
	for i, e := range redo {
		e.redo, e.done = outcomes[i], true
	}
	db.mu.Unlock()
	db.notify()
}

// inverse returns the change set that undoes cs.
func inverse(cs *ChangeSet) *ChangeSet {
	inv := &ChangeSet{Tables: make(map[string]map[schema.UUID]*RowChange, len(cs.Tables))}
	for name, rows := range cs.Tables {
		m := make(map[schema.UUID]*RowChange, len(rows))
		for id, rc := range rows {
			m[id] = &RowChange{Old: rc.New, New: rc.Old}
		}
		inv.Tables[name] = m
	}
	return inv
}

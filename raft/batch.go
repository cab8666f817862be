package raft

import (
	"context"
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"
)

// DefaultMaxInFlight is the default number of batches the leader keeps
// proposed and not yet answered. One is best measured on the 3-member
// benchmark (benchmarks/RESULTS.md): more batches in flight are smaller,
// and each costs a bbolt commit with two fsyncs on every member.
const DefaultMaxInFlight = 1

// DefaultMaxForwardInFlight is the default number of batches a follower
// keeps forwarded and not yet answered. The leader re-batches what it
// receives, so a follower forwards at once rather than waiting for its
// previous batch (which would add a whole leader round to its clients'
// latency: measured 11 ms against 7 ms for 32 clients); batching starts
// only past this many forwards in flight.
const DefaultMaxForwardInFlight = 16

// Batch limits: a batch is closed at whichever comes first.
const (
	maxBatchEntries = 1024
	maxBatchBytes   = 4 << 20
)

// batcher is the member's group commit. Client transactions (encoded
// Entries) queue here; while the member's role allows one more batch in
// flight (limits below), the whole queue is proposed as one batch: one Raft
// log entry, so one forwarded RPC from a follower, one AppendEntries item
// and one FSM call, and, because the queue grows while earlier batches are
// being committed, more transactions per bbolt commit on every member.
// With no contention a transaction is proposed at once, alone. On the
// leader, batches forwarded by followers are split into their transactions
// and queued here too, so one log entry carries what every member received
// meanwhile.
//
// Limits: while leading, at most max batches being proposed to this
// member's own log (local); while following, at most maxForward batches
// forwarded to the leader or waiting to retry (remote). A batch moves
// between the two as leadership changes under it (each attempt of propose
// tells which it is). Only local batches hold up the leader's queue: a
// leader's queue must never wait for a batch this member forwarded to
// another member, whose answer may itself wait in this queue. (Counting
// every batch against one limit did that: after a leader change, A's
// batch forwarded to the new leader B queued behind B's batch forwarded to
// A, queued behind A's; both waited for ever. Issue 9, TestTorture under
// CPU load; TestForwardCycleAfterLeaderChange.)
//
// A batch is proposed on the goroutine of the transaction that opened it;
// when it is committed, or when a slot frees otherwise (a batch becomes
// remote, leadership changes), queued batches start on new goroutines.
type batcher struct {
	n          *Node
	max        int // local batches while leading
	maxForward int // remote batches while following

	mu     sync.Mutex
	queue  []*waiter
	local  int // batches whose current attempt proposes to this member's log
	remote int // batches forwarded, or waiting to retry
	closed bool
}

// batchRun is one batch in flight.
type batchRun struct {
	waiters []*waiter
	local   bool // counted in local (else in remote)
}

// waiter is one queued transaction and, once done is closed, its outcome.
type waiter struct {
	entry []byte
	done  chan struct{}

	reply []any
	pos   Position
	err   error
}

func newBatcher(n *Node, max, maxForward int) *batcher {
	if max <= 0 {
		max = DefaultMaxInFlight
	}
	if maxForward <= 0 {
		maxForward = DefaultMaxForwardInFlight
	}
	return &batcher{n: n, max: max, maxForward: maxForward}
}

func (b *batcher) leading() bool {
	return b.n.raft != nil && b.n.raft.State() == hraft.Leader
}

// submit proposes entry in a batch and waits for its outcome: the reply
// (nil with blocked when its "wait" ops were unsatisfied), the batch's log
// position, or the error that ended the batch. When ctx is done first it
// returns ctx's error; the transaction may still be committed.
func (b *batcher) submit(ctx context.Context, entry []byte) (reply []any, blocked bool, pos Position, err error) {
	replies, pos, err := b.submitAll(ctx, [][]byte{entry})
	if err != nil {
		return nil, false, Position{}, err
	}
	return replies[0], replies[0] == nil, pos, nil
}

// submitAll queues entries (in order, possibly ending up in more than one
// batch) and waits for all of them: one reply each, and the position of
// the last of their batches. It fails with ErrShutdown once the member is
// closed.
func (b *batcher) submitAll(ctx context.Context, entries [][]byte) (replies [][]any, pos Position, err error) {
	ws := make([]*waiter, len(entries))
	for i, e := range entries {
		ws[i] = &waiter{entry: e, done: make(chan struct{})}
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, Position{}, ErrShutdown
	}
	b.queue = append(b.queue, ws...)
	r := b.nextLocked()
	b.mu.Unlock()
	if r != nil {
		b.run(r)
	}
	replies = make([][]any, len(ws))
	var guard noLeaderGuard
	guard.init(b)
	defer guard.stop()
	for i, w := range ws {
	wait:
		for {
			select {
			case <-w.done:
				break wait
			case <-ctx.Done():
				return nil, Position{}, ctx.Err()
			case <-guard.changed:
				guard.arm()
			case <-guard.tick():
				if err := guard.check(ws); err != nil {
					return nil, Position{}, err
				}
			}
		}
		if w.err != nil {
			return nil, Position{}, w.err
		}
		replies[i] = w.reply
		if w.pos.Index > pos.Index {
			pos = w.pos
		}
	}
	return replies, pos, nil
}

// noLeaderGuard bounds a client's wait for its transactions while the
// member knows no leader (Config.NoLeaderWriteTimeout; DESIGN.md, "Quorum
// loss"): once no leader has been seen for the whole bound, the wait ends.
// Transactions still queued are taken out of the queue (never proposed:
// noLeaderError); a transaction already in a batch may have reached a log
// that a future leader commits, so its client is told the outcome is
// unknown (noLeaderError with sent set). proposeAs has its own bound for
// a batch it never sent; this one also covers transactions queued behind
// a batch in flight and batches sent to a leader that was then lost.
type noLeaderGuard struct {
	b       *batcher
	bound   time.Duration
	start   time.Time
	noSince time.Time // zero: a leader was seen at the last check
	// changed is closed at the next leader change (Node.leaderChanged)
	// while the checks have not started; nil then.
	changed <-chan struct{}
	// t ticks the checks; started only once no leader is known, so a
	// transaction committed under a leader costs no timer.
	t *time.Ticker
}

func (g *noLeaderGuard) init(b *batcher) {
	g.b, g.bound, g.start = b, b.n.noLeaderTimeout(), time.Now()
	if g.bound >= 0 {
		g.arm()
	}
}

// arm starts the checks if no leader is known, else waits for the next
// leader change. The channel is taken before the leader is looked at, so
// a loss in between closes it.
func (g *noLeaderGuard) arm() {
	g.changed = g.b.n.leaderChanged()
	if r := g.b.n.raftp.Load(); r == nil || leaderless(r) {
		g.changed = nil
		g.t = time.NewTicker(min(max(g.bound/8, time.Millisecond), 250*time.Millisecond))
	}
}

func leaderless(r *hraft.Raft) bool {
	addr, _ := r.LeaderWithID()
	return addr == ""
}

// tick is a channel that fires at each check (nil: none running).
func (g *noLeaderGuard) tick() <-chan time.Time {
	if g.t == nil {
		return nil
	}
	return g.t.C
}

func (g *noLeaderGuard) stop() {
	if g.t != nil {
		g.t.Stop()
	}
}

// check ends the wait for ws with an error once no leader has been seen
// for the whole bound.
func (g *noLeaderGuard) check(ws []*waiter) error {
	now := time.Now()
	if !leaderless(g.b.n.raft) {
		g.noSince = time.Time{}
		return nil
	}
	if g.noSince.IsZero() {
		g.noSince = now
	}
	if now.Sub(g.noSince) < g.bound || now.Sub(g.start) < g.bound {
		return nil
	}
	// Take out of the queue what is still there; the rest is in batches.
	b := g.b
	queued := map[*waiter]bool{}
	b.mu.Lock()
	kept := b.queue[:0]
	mine := map[*waiter]bool{}
	for _, w := range ws {
		mine[w] = true
	}
	for _, w := range b.queue {
		if mine[w] {
			queued[w] = true
		} else {
			kept = append(kept, w)
		}
	}
	for i := len(kept); i < len(b.queue); i++ {
		b.queue[i] = nil
	}
	b.queue = kept
	if len(b.queue) == 0 {
		b.queue = nil
	}
	b.mu.Unlock()
	sent := false
	for _, w := range ws {
		select {
		case <-w.done:
			continue // answered meanwhile: its batch ended
		default:
		}
		if !queued[w] {
			sent = true
		}
	}
	return &noLeaderError{waited: now.Sub(g.start), sent: sent}
}

// nextLocked takes the next batch from the queue and counts it in flight,
// if the member's role allows one more (nil otherwise).
func (b *batcher) nextLocked() *batchRun {
	if len(b.queue) == 0 || b.closed {
		return nil
	}
	leading := b.leading()
	if leading && b.local >= b.max || !leading && b.remote >= b.maxForward {
		return nil
	}
	r := &batchRun{waiters: b.takeLocked(), local: leading}
	if leading {
		b.local++
	} else {
		b.remote++
	}
	return r
}

// startQueued starts, each on a new goroutine, the queued batches the
// member's role allows in flight now.
func (b *batcher) startQueued() {
	var rs []*batchRun
	b.mu.Lock()
	for r := b.nextLocked(); r != nil; r = b.nextLocked() {
		rs = append(rs, r)
	}
	b.mu.Unlock()
	for _, r := range rs {
		go b.run(r)
	}
}

// setLocal records whether r's next attempt proposes to this member's own
// log (local) or forwards (remote); a slot it leaves may start a queued
// batch.
func (b *batcher) setLocal(r *batchRun, local bool) {
	b.mu.Lock()
	if r.local == local {
		b.mu.Unlock()
		return
	}
	if r.local {
		b.local--
		b.remote++
	} else {
		b.remote--
		b.local++
	}
	r.local = local
	b.mu.Unlock()
	b.startQueued()
}

// shutdown fails every queued transaction with ErrShutdown and refuses
// new ones; batches in flight end as propose returns (the node's context
// is canceled).
func (b *batcher) shutdown() {
	b.mu.Lock()
	b.closed = true
	q := b.queue
	b.queue = nil
	b.mu.Unlock()
	for _, w := range q {
		w.err = ErrShutdown
		close(w.done)
	}
}

// takeLocked removes the next batch from the queue.
func (b *batcher) takeLocked() []*waiter {
	n, size := 0, 0
	for n < len(b.queue) && n < maxBatchEntries {
		size += len(b.queue[n].entry)
		if n > 0 && size > maxBatchBytes {
			break
		}
		n++
	}
	batch := b.queue[:n:n]
	b.queue = b.queue[n:]
	if len(b.queue) == 0 {
		b.queue = nil
	}
	return batch
}

// run proposes r's batch, answers its waiters, then releases its slot and
// starts what the queue holds.
func (b *batcher) run(r *batchRun) {
	batch := r.waiters
	data := batch[0].entry
	if len(batch) > 1 {
		entries := make([][]byte, len(batch))
		for i, w := range batch {
			entries[i] = w.entry
		}
		data = encodeBatch(entries)
	}
	replies, pos, err := b.n.proposeAs(b.n.ctx, data, func(local bool) { b.setLocal(r, local) })
	if err == nil && len(replies) != len(batch) {
		err = &decodeError{errBadEntry}
	}
	for i, w := range batch {
		if err != nil {
			w.err = err
		} else {
			w.reply, w.pos = replies[i], pos
		}
		close(w.done)
	}
	b.mu.Lock()
	if r.local {
		b.local--
	} else {
		b.remote--
	}
	b.mu.Unlock()
	b.startQueued()
}

// inFlight reports the batches in flight and queued transactions, for
// diagnostics.
func (b *batcher) inFlight() (local, remote, queued int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.local, b.remote, len(b.queue)
}

package raft

import (
	"context"
	"sync"

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
// Entries) queue here; while fewer than limit() batches are in flight, the
// whole queue is proposed as one batch: one Raft log entry, so one
// forwarded RPC from a follower, one AppendEntries item and one FSM call,
// and, because the queue grows while earlier batches are being committed,
// more transactions per bbolt commit on every member. With no contention a
// transaction is proposed at once, alone. On the leader, batches forwarded
// by followers are split into their transactions and queued here too, so
// one log entry carries what every member received meanwhile.
//
// The batch is proposed on the goroutine of the transaction that opened
// it; when it is committed, the next queued batch (if any) is handed to a
// new goroutine so that this one can answer its client.
type batcher struct {
	n          *Node
	max        int // in flight while leading
	maxForward int // in flight while following

	mu       sync.Mutex
	queue    []*waiter
	inflight int
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

// limit is the number of batches allowed in flight in the member's role.
func (b *batcher) limit() int {
	if b.n.raft != nil && b.n.raft.State() != hraft.Leader {
		return b.maxForward
	}
	return b.max
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
// the last of their batches.
func (b *batcher) submitAll(ctx context.Context, entries [][]byte) (replies [][]any, pos Position, err error) {
	ws := make([]*waiter, len(entries))
	for i, e := range entries {
		ws[i] = &waiter{entry: e, done: make(chan struct{})}
	}
	b.mu.Lock()
	b.queue = append(b.queue, ws...)
	var batch []*waiter
	if b.inflight < b.limit() {
		batch = b.takeLocked()
		b.inflight++
	}
	b.mu.Unlock()
	if batch != nil {
		b.run(batch)
	}
	replies = make([][]any, len(ws))
	for i, w := range ws {
		select {
		case <-w.done:
		case <-ctx.Done():
			return nil, Position{}, ctx.Err()
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

// run proposes batch, answers its waiters, then either releases the
// in-flight slot or passes it to the next queued batch on a new goroutine.
func (b *batcher) run(batch []*waiter) {
	data := batch[0].entry
	if len(batch) > 1 {
		entries := make([][]byte, len(batch))
		for i, w := range batch {
			entries[i] = w.entry
		}
		data = encodeBatch(entries)
	}
	replies, pos, err := b.n.propose(context.Background(), data)
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
	var next []*waiter
	if len(b.queue) > 0 && b.inflight <= b.limit() {
		next = b.takeLocked()
	} else {
		b.inflight--
	}
	b.mu.Unlock()
	if next != nil {
		go b.run(next)
	}
}

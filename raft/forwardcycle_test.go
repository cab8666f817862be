package raft

import (
	"context"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
)

// TestForwardCycleAfterLeaderChange (issue 9): member B forwards a
// transaction to leader A, where it queues behind A's batch in flight;
// leadership then moves to B, and A's batch, which can no longer be
// proposed on A, is forwarded to B. Before the fix both members waited for
// each other for ever: B's only leader slot was held by its forward to A,
// and A's by its forward to B (TestTorture stalled so under CPU load).
func TestForwardCycleAfterLeaderChange(t *testing.T) {
	c := newClusterWith(t, 3, 0, func(c *cluster) { c.timer = time.Second }) // no elections but ours
	li := c.leader()
	bi := (li + 1) % 3
	a, b := c.node(li), c.node(bi)
	c.converge()

	// A's batcher is busy: its slots are taken, in both roles, so B's
	// transaction stays queued on A through the leader change.
	ab := a.batch
	ab.mu.Lock()
	ab.local += ab.max
	ab.remote += ab.maxForward
	ab.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan []any, 1)
	go func() { done <- b.Transact(ctx, insertOps(t, "y"), ovsdb.TransactOptions{}) }()
	c.eventually("B's transaction queued on A", func() bool {
		ab.mu.Lock()
		defer ab.mu.Unlock()
		return len(ab.queue) == 1
	})
	require.NoError(t, a.Raft().LeadershipTransferToServer(c.members[bi].id, c.members[bi].addr).Error())
	c.eventually("B leads", func() bool { return b.Raft().State() == hraft.Leader })
	// A's batch holding B's transaction, begun while A led, now goes to B.
	ab.mu.Lock()
	r := &batchRun{waiters: ab.takeLocked(), local: true}
	ab.local -= ab.max - 1
	ab.remote -= ab.maxForward
	ab.mu.Unlock()
	go ab.run(r)
	select {
	case r := <-done:
		require.Len(t, r, 2, "%s", cjson.Marshal(r))
	case <-time.After(10 * time.Second):
		t.Fatalf("the forwarded transaction did not complete after the leader change\n%s", c.state())
	}
	for _, n := range []*Node{a, b} {
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		r := n.Transact(wctx, insertOps(t, "after-"+string(n.cfg.ID)), ovsdb.TransactOptions{})
		wcancel()
		require.Len(t, r, 2, "write through %s: %s\n%s", n.cfg.ID, cjson.Marshal(r), c.state())
	}
	c.converge()
}

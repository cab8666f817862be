package raft

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
)

// TestNoLeaderWriteFails: a write on a member that knows no leader (its
// two peers stopped) fails after Config.NoLeaderWriteTimeout with
// ErrNoLeader's text instead of waiting for its context.
func TestNoLeaderWriteFails(t *testing.T) {
	c := newCluster(t, 3, 0)
	l := c.leader()
	c.transact(c.node(l), insertOps(t, "a"))
	s := (l + 1) % 3
	for i := range 3 {
		if i != s {
			c.stop(i)
		}
	}
	n := c.node(s)
	c.eventually("survivor knows no leader", func() bool {
		addr, _ := n.raft.LeaderWithID()
		return addr == ""
	})
	n.cfg.NoLeaderWriteTimeout = 300 * time.Millisecond // before the write: no proposal runs
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	res := n.Transact(ctx, insertOps(t, "lost"), ovsdb.TransactOptions{})
	require.NotNil(t, res, "the write waited for its context")
	require.Less(t, time.Since(start), 15*time.Second)
	out := string(cjson.Marshal(res))
	require.True(t, strings.Contains(out, `"ovsdb error"`) && strings.Contains(out, "cluster has no leader (no quorum)"), out)
	require.NotContains(t, keys(n.Database()), "lost")
}

func TestNoLeaderErrorIs(t *testing.T) {
	require.True(t, errors.Is(&noLeaderError{waited: time.Second}, ErrNoLeader))
	require.True(t, errors.Is(&noLeaderError{waited: time.Second, sent: true}, ErrNoLeader))
}

// TestNoLeaderBoundsEveryWrite: writes on a leader that loses its quorum
// (a batch already proposed, others queued behind it) all end within the
// bound once no leader is known, instead of waiting for a leader: those
// never proposed with "never proposed" (and they never commit), a
// proposed one with "outcome unknown".
func TestNoLeaderBoundsEveryWrite(t *testing.T) {
	c := newCluster(t, 3, 0)
	l := c.leader()
	n := c.node(l)
	c.transact(n, insertOps(t, "a"))
	n.cfg.NoLeaderWriteTimeout = 500 * time.Millisecond
	for i := range 3 {
		if i != l {
			c.stop(i)
		}
	}
	const writers = 6
	outs := make(chan string, writers)
	for i := range writers {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res := n.Transact(ctx, insertOps(t, fmt.Sprintf("w%d", i)), ovsdb.TransactOptions{})
			outs <- fmt.Sprintf("w%d %s", i, cjson.Marshal(res))
		}()
		time.Sleep(5 * time.Millisecond)
	}
	var never []string
	for range writers {
		out := <-outs
		t.Log(out)
		require.Contains(t, out, "cluster has no leader (no quorum)", "every write must end with the no-leader error")
		if strings.Contains(out, "never proposed") {
			never = append(never, strings.Fields(out)[0])
		} else {
			require.Contains(t, out, "outcome unknown")
		}
	}
	// The others return: nothing "never proposed" is ever committed.
	for i := range 3 {
		if i != l {
			c.start(i)
		}
	}
	ldr := c.node(c.leader())
	c.transact(ldr, insertOps(t, "after"))
	c.eventually("the later write applied on the old leader", func() bool {
		for _, k := range keys(n.Database()) {
			if k == "after" {
				return true
			}
		}
		return false
	})
	for _, k := range keys(n.Database()) {
		require.NotContains(t, never, k, "a write failed as never proposed was committed")
	}
}

package raft

import (
	"context"
	"errors"
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
	require.True(t, errors.Is(&noLeaderError{time.Second}, ErrNoLeader))
}

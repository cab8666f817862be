package raft

import (
	"context"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
)

// TestCommitNotices: with hashicorp's commit timeout at an hour, followers
// learn that an entry is committed only from the AppendEntries of a later
// entry (or of a retried one). A lone write through the leader reaches the
// followers' state through the leader's commit notices: both followers
// apply it, and notices made at least one of them do so.
func TestCommitNotices(t *testing.T) {
	c := newClusterWith(t, 3, 0, func(c *cluster) {
		c.commitTimeout = time.Hour
		c.timer = time.Second // no elections under -race: a new leader's entry would commit the write
	})
	li := c.leader()
	leader := c.node(li)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := leader.Transact(ctx, insertOps(t, "a"), ovsdb.TransactOptions{})
	require.Len(t, res, 2, "%v", res)
	idx := leader.AppliedIndex()
	var byNotice uint64
	for i := range c.members {
		if i == li {
			continue
		}
		f := c.node(i)
		c.eventually("follower applied the write", func() bool { return f.AppliedIndex() >= idx })
		require.Equal(t, []string{"a"}, keys(f.Database()))
		require.Equal(t, hraft.Follower, f.Raft().State())
		byNotice += f.noticeApplies.Load()
	}
	require.NotZero(t, byNotice, "no follower applied the write through a commit notice")
}

// TestCommitNoticeForAnotherServer: a member refuses a notice addressed to
// another server id.
func TestCommitNoticeForAnotherServer(t *testing.T) {
	c := newCluster(t, 1, 0)
	c.leader()
	h := &NodeHandler{Node: c.node(0)}
	resp := h.HandleCluster(context.Background(), &Request{Op: "commit", ServerID: "someone-else", Index: 5, Term: 1})
	require.Contains(t, resp.Error, "commit notice for server someone-else")
	resp = h.HandleCluster(context.Background(), &Request{Op: "commit", ServerID: "s0", Index: 5, Term: 1})
	require.Empty(t, resp.Error)
}

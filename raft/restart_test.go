package raft

import (
	"fmt"
	"testing"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/schema"
)

// TestRestartServesAppliedState: a member restarted while it cannot reach
// anyone serves, as soon as Open returns, everything it had applied before
// it stopped (its snapshot plus its own log up to the recorded applied
// position), not only its last snapshot. Once reconnected, hashicorp/raft's
// Apply of the same entries changes nothing. The member takes a snapshot after
// 30 writes, so the restart starts from a snapshot plus a log tail.
func TestRestartServesAppliedState(t *testing.T) {
	for _, withRecord := range []bool{true, false} {
		t.Run(fmt.Sprintf("record=%v", withRecord), func(t *testing.T) {
			c := newCluster(t, 3, 20)
			if !withRecord {
				for _, m := range c.members {
					m.applied = nil
				}
				for i := range c.members { // restart without a record
					c.stop(i)
					c.start(i)
				}
			}
			li := c.leader()
			fi := (li + 1) % 3
			for i := 0; i < 45; i++ {
				require.Len(t, c.transact(c.node(li), insertOps(t, fmt.Sprintf("a%02d", i))), 2)
				if i == 29 {
					c.converge()
					require.NoError(t, c.node(fi).Raft().Snapshot().Error())
				}
			}
			want := c.converge()
			before := keys(c.node(fi).Database())
			require.Len(t, before, 45)
			c.stop(fi)
			c.startIsolated(fi)
			got := keys(c.node(fi).Database())
			if !withRecord {
				// Only the last snapshot: what this change fixes.
				require.Less(t, len(got), 45)
				return
			}
			require.Equal(t, before, got, "restarted member serves what it served before")
			require.Equal(t, want, dumpDB(c.node(fi).Database()), "same rows, same uuids")
			c.connect(fi)
			for i := 0; i < 5; i++ {
				require.Len(t, c.transact(c.node(c.leader()), insertOps(t, fmt.Sprintf("b%d", i))), 2)
			}
			c.converge()
			require.Len(t, keys(c.node(fi).Database()), 50)
		})
	}
}

// TestReplayIgnoresForeignPosition: a recorded position whose term does
// not match the local entry at its index, or beyond the log, is not used.
func TestReplayIgnoresForeignPosition(t *testing.T) {
	logs := hraft.NewInmemStore()
	for i := uint64(1); i <= 3; i++ {
		require.NoError(t, logs.StoreLog(&hraft.Log{Index: i, Term: 2, Type: hraft.LogCommand,
			Data: entryBytes(t, &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: insertOps(t, fmt.Sprintf("k%d", i))})}))
	}
	f := NewFSM(testSchema(t), 0)
	n, ok := f.replay(logs, Position{Index: 3, Term: 3})
	require.False(t, ok)
	require.Zero(t, n)
	n, ok = f.replay(logs, Position{Index: 4, Term: 2})
	require.False(t, ok)
	require.Zero(t, n)
	require.Zero(t, f.AppliedIndex())
	n, ok = f.replay(logs, Position{Index: 3, Term: 2})
	require.True(t, ok)
	require.Equal(t, 3, n)
	require.Equal(t, []string{"k1", "k2", "k3"}, keys(f.Database()))
	// hashicorp/raft's later Apply of the same entries is a no-op.
	var l hraft.Log
	require.NoError(t, logs.GetLog(2, &l))
	require.ErrorIs(t, f.Apply(&l).(*ApplyResult).Err, errAlreadyApplied)
	require.Equal(t, []string{"k1", "k2", "k3"}, keys(f.Database()))
}

package cluster

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/raft"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// openSolo opens a one-member cluster (its own leader) on a free port.
func openSolo(t *testing.T) *Member {
	s, err := schema.ParseSchemaBytes([]byte(`{"name":"C","version":"1.0.0","tables":{"T":{"columns":{"k":{"type":"string"}}}}}`))
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := "tcp:" + l.Addr().String()
	require.NoError(t, l.Close())
	path := filepath.Join(t.TempDir(), "s.db")
	require.NoError(t, Create(path, s, addr))
	m, err := Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	deadline := time.Now().Add(20 * time.Second)
	for !m.IsLeader() {
		require.True(t, time.Now().Before(deadline), "the member never led")
		time.Sleep(10 * time.Millisecond)
	}
	return m
}

// TestControlFailureTest: cluster/failure-test through a member engages
// the process's test (raft.ProcessFaults), with C's replies and error.
func TestControlFailureTest(t *testing.T) {
	m := openSolo(t)
	f := raft.ProcessFaults()
	t.Cleanup(func() { f.Set(raft.FailNone) })
	_, err := m.Control("cluster/failure-test", []string{"bogus"})
	require.EqualError(t, err, "unknown test scenario")
	r, err := m.Control("cluster/failure-test", []string{"stop-raft-rpc"})
	require.NoError(t, err)
	require.Equal(t, "test engaged", r)
	require.Equal(t, raft.FailStopRaftRPC, f.Test())
	r, err = m.Control("cluster/failure-test", []string{"clear"})
	require.NoError(t, err)
	require.Equal(t, "test dismissed", r)
	require.Equal(t, raft.FailNone, f.Test())
	// A lone leader has nobody to hand leadership to: it stays leader,
	// and the one-shot test is spent.
	_, err = m.Control("cluster/failure-test", []string{"transfer-leadership"})
	require.NoError(t, err)
	require.Equal(t, raft.FailNone, f.Test())
	r, err = m.Control("cluster/failure-test", []string{"delay-election"})
	require.NoError(t, err)
	require.Equal(t, "test engaged", r)
	require.True(t, m.IsLeader())
	// Writes still go through a lone leader under delay-election.
	res := m.Transact(context.Background(), []any{map[string]any{"op": "insert", "table": "T", "row": map[string]any{"k": "a"}}}, ovsdb.TransactOptions{})
	require.Len(t, res, 1)
	require.NotContains(t, string(cjson.Marshal(res)), "error", "%v", res)
}

// TestControlBacklogThreshold: cluster/set-backlog-threshold records the
// limits (C's defaults before), replies nothing, and refuses what C does.
func TestControlBacklogThreshold(t *testing.T) {
	m := openSolo(t)
	msgs, nbytes := m.BacklogThreshold()
	require.Equal(t, uint64(500), msgs)
	require.Equal(t, uint64(1<<32-1), nbytes)
	r, err := m.Control("cluster/set-backlog-threshold", []string{"100", "18446744073709551615"})
	require.NoError(t, err)
	require.Empty(t, r)
	msgs, nbytes = m.BacklogThreshold()
	require.Equal(t, uint64(100), msgs)
	require.Equal(t, uint64(18446744073709551615), nbytes)
	_, err = m.Control("cluster/set-backlog-threshold", []string{"49", "0"})
	require.EqualError(t, err, "values out of range")
	_, err = m.Control("cluster/set-backlog-threshold", []string{"x", "0"})
	require.EqualError(t, err, "invalid argument")
}

// TestTimerRPCBounds: the election timer sent by a leader ("timer" RPC)
// is refused outside C's bounds and applied within them; the leader's own
// command keeps C's message.
func TestTimerRPCBounds(t *testing.T) {
	m := openSolo(t)
	h := &clusterHandler{NodeHandler: raft.NodeHandler{Node: m.node, Meta: m.handlerMeta}, c: m}
	before := m.Meta().ElectionTimerMS
	for _, ms := range []int{-1, 0, MinElectionTimerMS - 1, MaxElectionTimerMS + 1} {
		resp := h.HandleCluster(context.Background(), &raft.Request{Op: raft.OpTimer, ElectionTimerMS: ms})
		require.Equal(t, "election timer must be between 100 and 600000, in msec.", resp.Error, "%d ms", ms)
	}
	require.Equal(t, before, m.Meta().ElectionTimerMS, "unchanged")
	resp := h.HandleCluster(context.Background(), &raft.Request{Op: raft.OpTimer, ElectionTimerMS: MaxElectionTimerMS / 300})
	require.Empty(t, resp.Error)
	require.Equal(t, MaxElectionTimerMS/300, m.Meta().ElectionTimerMS)
	_, err := m.ChangeElectionTimer("99")
	require.EqualError(t, err, "election timer must be between 100 and 600000, in msec.")
}

// TestChangeElectionTimerDown: a leader's election timer can be lowered
// (C allows any value within its bounds), and hashicorp/raft's timers
// follow the start-up mapping (raft.HraftConfig), the heartbeat timeout
// kept at least the leader lease of the member's start.
func TestChangeElectionTimerDown(t *testing.T) {
	m := openSolo(t)
	r, err := m.ChangeElectionTimer("400")
	require.NoError(t, err)
	require.Equal(t, "change of election timer initiated.", r)
	require.Equal(t, 400, m.Meta().ElectionTimerMS)
	rc := m.node.Raft().ReloadableConfig()
	require.Equal(t, 500*time.Millisecond, rc.HeartbeatTimeout, "the lease of a 1 s start")
	require.Equal(t, 500*time.Millisecond, rc.ElectionTimeout, "not below the heartbeat timeout")
	_, err = m.ChangeElectionTimer("800")
	require.NoError(t, err)
	_, err = m.ChangeElectionTimer("1600")
	require.NoError(t, err)
	rc = m.node.Raft().ReloadableConfig()
	require.Equal(t, 1600*time.Millisecond, rc.ElectionTimeout)
	require.Equal(t, 800*time.Millisecond, rc.HeartbeatTimeout, "half the timer, as at start-up")
}

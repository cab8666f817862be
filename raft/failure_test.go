package raft

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
)

// newFaultCluster is newCluster whose members each have their own Faults
// (Config.Faults), returned in member order, and whose election timer is
// timer (0: the harness's).
func newFaultCluster(t *testing.T, n int, snapThreshold uint64, timer time.Duration) (*cluster, []*Faults) {
	c := &cluster{t: t, schema: testSchema(t), timer: 100 * time.Millisecond, snapThr: snapThreshold}
	if timer > 0 {
		c.timer = timer
	}
	faults := make([]*Faults, n)
	var servers []hraft.Server
	for i := 0; i < n; i++ {
		m := &member{id: hraft.ServerID(fmt.Sprintf("s%d", i)), addr: hraft.ServerAddress(fmt.Sprintf("m%d", i)),
			logs: hraft.NewInmemStore(), snaps: hraft.NewInmemSnapshotStore(), applied: &memApplied{}}
		c.members = append(c.members, m)
		faults[i] = NewFaults()
		servers = append(servers, hraft.Server{Suffrage: hraft.Voter, ID: m.id, Address: m.addr})
	}
	for i := range c.members {
		c.startFaulty(i, faults[i])
	}
	require.NoError(t, c.members[0].node.Bootstrap(servers))
	c.watchdog()
	t.Cleanup(func() {
		for i := range c.members {
			c.stop(i)
		}
	})
	return c, faults
}

// startFaulty is cluster.start for member i with faults f.
func (c *cluster) startFaulty(i int, f *Faults) {
	c.mu.Lock()
	m := c.members[i]
	_, m.trans = hraft.NewInmemTransport(m.addr)
	n, err := Open(Config{ID: m.id, Address: m.addr, Schema: c.schema, ElectionTimer: c.timer,
		LogStore: m.logs, StableStore: m.logs, SnapshotStore: m.snaps, Transport: m.trans,
		Forwarder: c, Notifier: c, AppliedLog: m.applied, SnapshotThreshold: c.snapThr, TrailingLogs: c.snapThr,
		Faults: f})
	c.mu.Unlock()
	require.NoError(c.t, err)
	c.mu.Lock()
	m.node = n
	c.mu.Unlock()
	c.connect(i)
}

// crashes records the crashes of members whose Faults use it. A crash
// leaves the member "dead" as far as its peers can tell: stop-raft-rpc is
// engaged on its Faults (it sends and answers no RPC), and the crash
// point drops what it was about to do. at, when set, runs at the crash,
// on the crashing goroutine (to observe the cluster at that instant).
type crashes struct {
	mu   sync.Mutex
	msgs []string
	at   func()
	ch   chan struct{} // closed at the first crash
}

func recordCrashes(fs ...*Faults) *crashes {
	cr := &crashes{ch: make(chan struct{})}
	for _, f := range fs {
		f := f
		f.SetCrash(func(msg string) {
			f.Set(FailStopRaftRPC)
			cr.mu.Lock()
			cr.msgs = append(cr.msgs, msg)
			first := len(cr.msgs) == 1
			at := cr.at
			cr.mu.Unlock()
			if first {
				if at != nil {
					at()
				}
				close(cr.ch)
			}
		})
	}
	return cr
}

func (cr *crashes) list() []string {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return append([]string(nil), cr.msgs...)
}

// wait waits (bounded) for the first crash.
func (cr *crashes) wait(t *testing.T, c func() string) {
	t.Helper()
	select {
	case <-cr.ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("no crash within 20 s\n%s", c())
	}
}

// transactAsync runs ops on n in the background (bounded) and returns a
// channel that gets the result (nil when not answered in time). On a
// crashed member the transaction may stay in its batch until the member
// closes.
func transactAsync(n *Node, ops []any, limit time.Duration) <-chan []any {
	ch := make(chan []any, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		ch <- n.Transact(ctx, ops, ovsdb.TransactOptions{})
	}()
	return ch
}

func TestFailureTestNames(t *testing.T) {
	for ft, name := range failureNames {
		got, ok := ParseFailureTest(name)
		require.True(t, ok, name)
		require.Equal(t, ft, got)
		require.Equal(t, name, ft.String())
	}
	require.Len(t, failureNames, 14, "C 3.1's 13 tests and clear")
	_, ok := ParseFailureTest("crash-everywhere")
	require.False(t, ok)
	f := NewFaults()
	f.Set(FailStopRaftRPC)
	require.Equal(t, FailStopRaftRPC, f.Test())
	f.Set(FailNone)
	require.Equal(t, FailNone, f.Test())
	// transfer-leadership runs once, at once: nothing stays engaged.
	f.Set(FailTransferLeadership)
	require.Equal(t, FailNone, f.Test())
	for ft := range crashMessages {
		require.Contains(t, ft.String(), "crash-")
	}
}

// TestFailureCrashBeforeSendingAppendRequest: the leader crashes once it
// has written a new entry to its own log, before sending it to anyone: no
// follower ever holds it, and the others elect a new leader that accepts
// writes.
func TestFailureCrashBeforeSendingAppendRequest(t *testing.T) {
	c, faults := newFaultCluster(t, 3, 0, 0)
	li := c.leader()
	require.Len(t, c.transact(c.node(li), insertOps(t, "before")), 2)
	c.converge()
	ln := c.node(li)
	cr := recordCrashes(faults...)
	var crashIndex, crashTerm uint64
	followersLast := map[int]uint64{}
	cr.at = func() {
		crashIndex, _ = c.members[li].logs.LastIndex() // hashicorp's own is set after the write
		var l hraft.Log
		if c.members[li].logs.GetLog(crashIndex, &l) == nil {
			crashTerm = l.Term
		}
		for i := range c.members {
			if i != li {
				followersLast[i] = c.node(i).Raft().LastIndex()
			}
		}
	}
	faults[li].Set(FailCrashBeforeSendAppendReq)
	_ = transactAsync(ln, insertOps(t, "lost"), 2*time.Second)
	cr.wait(t, c.state)
	require.Equal(t, []string{"Raft test: crash before sending append_request."}, cr.list())
	for i, last := range followersLast {
		require.Less(t, last, crashIndex, "follower %d had the entry when the leader crashed", i)
	}
	// The two others elect a leader among themselves and accept writes.
	// (The crashed member's transaction may reach them later, forwarded by
	// its batch: the harness's forwarder is not its transport. At most
	// once, by its transaction id.)
	var ni int
	c.eventually("a new leader", func() bool {
		ni = c.leaderNow()
		return ni >= 0 && ni != li
	})
	require.Len(t, c.transact(c.node(ni), insertOps(t, "after")), 2)
	for i := range c.members {
		if i == li {
			continue
		}
		var l hraft.Log
		if c.members[i].logs.GetLog(crashIndex, &l) == nil {
			require.NotEqual(t, crashTerm, l.Term, "follower %d holds the crashed leader's entry", i)
		}
		c.eventually("the write after the crash", func() bool {
			n := map[string]int{}
			for _, k := range keys(c.node(i).Database()) {
				n[k]++
			}
			return n["after"] == 1 && n["before"] == 1 && n["lost"] <= 1
		})
	}
}

// TestFailureCrashAfterSendingAppendRequest: the leader crashes only once
// every follower has been sent the new entry: the followers hold it, and
// the new leader commits it.
func TestFailureCrashAfterSendingAppendRequest(t *testing.T) {
	c, faults := newFaultCluster(t, 3, 0, 0)
	li := c.leader()
	ln := c.node(li)
	require.Len(t, c.transact(ln, insertOps(t, "before")), 2)
	c.converge()
	cr := recordCrashes(faults...)
	var commit, last, term uint64
	cr.at = func() {
		commit = ln.Raft().CommitIndex()
		last, _ = c.members[li].logs.LastIndex()
		var l hraft.Log
		if c.members[li].logs.GetLog(last, &l) == nil {
			term = l.Term
		}
	}
	faults[li].Set(FailCrashAfterSendAppendReq)
	_ = transactAsync(ln, insertOps(t, "sent"), 2*time.Second)
	cr.wait(t, c.state)
	require.Equal(t, []string{"Raft test: crash after sending append_request."}, cr.list())
	require.Less(t, commit, last, "the leader learned of no commit before it crashed")
	for i := range c.members {
		if i != li {
			c.eventually(fmt.Sprintf("follower %d stores the entry it was sent", i), func() bool {
				var l hraft.Log
				return c.members[i].logs.GetLog(last, &l) == nil && l.Term == term
			})
		}
	}
	var ni int
	c.eventually("a new leader", func() bool {
		ni = c.leaderNow()
		return ni >= 0 && ni != li
	})
	// The entry reached the followers: the new leader has it and commits
	// it with its first entry.
	require.Len(t, c.transact(c.node(ni), insertOps(t, "after")), 2)
	c.eventually("the sent entry on the new leader", func() bool {
		return len(keys(c.node(ni).Database())) == 3
	})
	require.Equal(t, []string{"after", "before", "sent"}, keys(c.node(ni).Database()))
}

// TestFailureCrashAfterReceivingAppendRequestUpdate: a follower crashes
// when it is sent entries it does not have, before writing them; heartbeats
// alone do not crash it. The leader and the other follower carry on.
func TestFailureCrashAfterReceivingAppendRequestUpdate(t *testing.T) {
	c, faults := newFaultCluster(t, 3, 0, 0)
	li := c.leader()
	fi := (li + 1) % 3
	ln := c.node(li)
	require.Len(t, c.transact(ln, insertOps(t, "before")), 2)
	c.converge()
	c.eventually("the follower's log up to date", func() bool {
		a, _ := c.members[fi].logs.LastIndex()
		b, _ := c.members[li].logs.LastIndex()
		return a == b
	})
	cr := recordCrashes(faults...)
	var followerLast uint64
	cr.at = func() { followerLast, _ = c.members[fi].logs.LastIndex() }
	faults[fi].Set(FailCrashAfterRecvAppendReqUpdate)
	time.Sleep(5 * c.timer) // heartbeats only
	require.Empty(t, cr.list(), "a heartbeat is not an update")
	require.Len(t, c.transact(ln, insertOps(t, "update")), 2)
	cr.wait(t, c.state)
	require.Equal(t, []string{"Raft test: crash after receiving append_request with update."}, cr.list())
	require.Less(t, followerLast, ln.Raft().LastIndex(), "the follower wrote nothing of the update")
	require.Len(t, keys(c.node(fi).Database()), 1)
	require.Len(t, c.transact(ln, insertOps(t, "more")), 2)
}

// TestFailureStopRaftRPC: a follower under stop-raft-rpc falls behind
// while the two others commit; once the test is cleared it catches up.
func TestFailureStopRaftRPC(t *testing.T) {
	c, faults := newFaultCluster(t, 3, 0, 0)
	li := c.leader()
	fi := (li + 1) % 3
	require.Len(t, c.transact(c.node(li), insertOps(t, "k0")), 2)
	c.converge()
	faults[fi].Set(FailStopRaftRPC)
	for i := 1; i <= 5; i++ {
		res := c.transact(c.node(c.leader()), insertOps(t, fmt.Sprintf("k%d", i)))
		require.Len(t, res, 2, "%v", res)
	}
	require.Len(t, keys(c.node(fi).Database()), 1, "the stopped follower fell behind")
	require.NotEqual(t, hraft.Leader, c.node(fi).Raft().State())
	faults[fi].Set(FailNone)
	c.eventually("the follower's catch-up", func() bool { return len(keys(c.node(fi).Database())) == 6 })
	c.converge()
}

// TestFailureDontSendVoteRequest: with the leader gone, a member that
// sends no vote requests never wins; the other one does.
func TestFailureDontSendVoteRequest(t *testing.T) {
	c, faults := newFaultCluster(t, 3, 0, 0)
	li := c.leader()
	// Every member holds the leader's whole log first (converge's barrier
	// included): a member left behind (a loaded machine) could not win
	// against the silent one, whose log is longer.
	c.converge()
	ln := c.node(li)
	c.eventually("every member to hold the leader's log", func() bool {
		for i := 0; i < 3; i++ {
			if c.node(i).Raft().LastIndex() != ln.Raft().LastIndex() {
				return false
			}
		}
		return true
	})
	silent, other := (li+1)%3, (li+2)%3
	faults[silent].Set(FailDontSendVoteRequest)
	faults[li].Set(FailStopRaftRPC) // gone, without the leadership transfer of a clean stop
	c.eventually("the other member leads", func() bool {
		require.NotEqual(t, hraft.Leader, c.node(silent).Raft().State(), "the member that sends no vote requests leads")
		return c.node(other).Raft().State() == hraft.Leader
	})
	require.Len(t, c.transact(c.node(other), insertOps(t, "k")), 2)
	faults[silent].Set(FailNone)
	faults[li].Set(FailNone)
	c.converge()
}

// TestFailureDelayElection: with the leader gone, the member whose
// election is delayed does not win the election; the other one does. The
// delay holds the delayed member back by at least one election timer
// after the other has had two attempts; the timer is long enough for
// that margin to absorb a loaded machine.
func TestFailureDelayElection(t *testing.T) {
	c, faults := newFaultCluster(t, 3, 0, time.Second)
	li := c.leader()
	delayed, other := (li+1)%3, (li+2)%3
	faults[delayed].Set(FailDelayElection)
	rc := c.node(delayed).Raft().ReloadableConfig()
	faults[li].Set(FailStopRaftRPC) // gone, without the leadership transfer of a clean stop
	var ni int
	c.eventually("a new leader", func() bool {
		ni = c.leaderNow()
		return ni >= 0 && ni != li
	})
	require.Equal(t, other, ni, "the delayed member won the election\n%s", c.state())
	require.Equal(t, rc, c.node(delayed).Raft().ReloadableConfig(), "hashicorp/raft's timers are left alone")
	faults[delayed].Set(FailNone)
	faults[li].Set(FailNone)
	require.Len(t, c.transact(c.node(other), insertOps(t, "k")), 2)
	c.converge()
}

// TestFailureTransferLeadership: with one Faults for every member (as in
// a process), transfer-leadership makes the leader hand leadership over,
// once; transfer-leadership-after-sending-append-request waits for the
// leader's next new entry to reach the followers.
func TestFailureTransferLeadership(t *testing.T) {
	c := newCluster(t, 3, 0) // ProcessFaults: shared, as in a process
	f := ProcessFaults()
	t.Cleanup(func() { f.Set(FailNone) })
	li := c.leader()
	f.Set(FailTransferLeadership)
	require.Equal(t, FailNone, f.Test(), "one-shot")
	var ni int
	c.eventually("another leader", func() bool {
		ni = c.leaderNow()
		return ni >= 0 && ni != li
	})
	// The new leader's own first entry (its no-op) is stored and applied
	// before the next test is set: storing it would trigger that test.
	c.eventually("the new leader's first entry applied", func() bool {
		st := c.node(ni).Raft().Stats()
		return st["state"] == "Leader" && st["last_log_term"] == st["term"] &&
			st["applied_index"] == st["last_log_index"]
	})

	f.Set(FailTransferLeadershipAfterSendAppendReq)
	time.Sleep(5 * c.timer) // heartbeats and commit notices only
	require.Equal(t, ni, c.leaderNow(), "no new entry, no transfer")
	require.Equal(t, FailTransferLeadershipAfterSendAppendReq, f.Test())
	require.Len(t, c.transact(c.node(ni), insertOps(t, "k")), 2)
	c.eventually("a third leader", func() bool {
		i := c.leaderNow()
		return i >= 0 && i != ni
	})
	require.Equal(t, FailNone, f.Test(), "one-shot")
	c.converge()
}

// TestFailureCrashBeforeSendingInstallSnapshotReply: a member that is
// sent a snapshot crashes before installing it; restarted without the
// test, it installs it.
func TestFailureCrashBeforeSendingInstallSnapshotReply(t *testing.T) {
	c, faults := newFaultCluster(t, 3, 5, 0)
	li := c.leader()
	fi := (li + 1) % 3
	c.stop(fi)
	for i := 0; i < 20; i++ {
		require.Len(t, c.transact(c.node(li), insertOps(t, fmt.Sprintf("k%02d", i))), 2)
	}
	require.NoError(t, c.node(li).Raft().Snapshot().Error())
	cr := recordCrashes(faults[fi])
	faults[fi].Set(FailCrashBeforeSendSnapshotRep)
	c.startFaulty(fi, faults[fi])
	cr.wait(t, c.state)
	require.Equal(t, "Raft test: crash before sending install_snapshot_reply", cr.list()[0])
	require.Empty(t, keys(c.node(fi).Database()), "nothing installed")
	// "Restarted" (the test is per process): the snapshot is installed.
	c.stop(fi)
	faults[fi] = NewFaults()
	c.startFaulty(fi, faults[fi])
	c.eventually("the snapshot installed", func() bool { return len(keys(c.node(fi).Database())) == 20 })
	c.converge()
}

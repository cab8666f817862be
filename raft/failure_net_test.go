package raft

import (
	"context"
	"errors"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// startFaultNetMember is startNetMember whose listener, client and node
// share the Faults f.
func startFaultNetMember(t *testing.T, id string, cid schema.UUID, f *Faults) *netMember {
	mux, err := ListenAs("tcp:127.0.0.1:0", id)
	require.NoError(t, err)
	mux.SetFaults(f)
	m := &netMember{mux: mux, trans: mux.NewTransport(0), cli: NewClient(), cid: cid, logs: hraft.NewInmemStore()}
	m.cli.SetFaults(f)
	m.node, err = Open(Config{ID: hraft.ServerID(id), Address: mux.Address(), ClusterID: cid, Schema: testSchema(t),
		ElectionTimer: 300 * time.Millisecond, LogStore: m.logs, StableStore: m.logs,
		SnapshotStore: hraft.NewInmemSnapshotStore(), Transport: m.trans, Forwarder: m.cli, Notifier: m.cli,
		Faults: f})
	require.NoError(t, err)
	mux.SetHandler(&NodeHandler{Node: m.node, Meta: func() (schema.UUID, string, []byte) {
		return m.cid, "T", []byte(testSchemaJSON)
	}})
	t.Cleanup(m.stop)
	return m
}

// faultTrio is a leader a and followers b and c over TCP, each with its
// own Faults.
func faultTrio(t *testing.T) (ms []*netMember, fs []*Faults) {
	cid := schema.NewUUID()
	for _, id := range []string{"a", "b", "c"} {
		f := NewFaults()
		fs = append(fs, f)
		ms = append(ms, startFaultNetMember(t, id, cid, f))
	}
	a := ms[0]
	require.NoError(t, a.node.Bootstrap(nil))
	eventually(t, "a leads", func() bool { return a.node.Raft().State() == hraft.Leader }, netState(a))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, m := range ms[1:] {
		_, err := m.cli.Join(ctx, []string{string(a.mux.Address())}, string(m.node.cfg.ID), string(m.mux.Address()))
		require.NoError(t, err)
		eventually(t, "the member follows a", func() bool {
			_, id := m.node.Raft().LeaderWithID()
			return id == "a"
		}, netState(ms...))
	}
	return ms, fs
}

func count(db *ovsdb.Database, k string) int {
	n := 0
	for _, x := range keys(db) {
		if x == k {
			n++
		}
	}
	return n
}

// TestFailureExecuteCommand: the four crash points around a write a
// follower forwards to the leader (C's execute_command request and
// reply). A crash that returns (the tests') leaves the member stopped
// (stop-raft-rpc); cleared, the follower's retry of the same transaction
// is applied once.
func TestFailureExecuteCommand(t *testing.T) {
	for _, tc := range []struct {
		test     FailureTest
		onLeader bool
		msg      string
		// leaderHasIt: the leader applied the write when the member
		// crashed.
		leaderHasIt bool
	}{
		{FailCrashBeforeSendExecReq, false, "Raft test: crash before sending execute_command_request", false},
		{FailCrashAfterSendExecReq, false, "Raft test: crash after sending execute_command_request", true},
		{FailCrashBeforeSendExecRep, true, "Raft test: crash before sending execute_command_reply", true},
		{FailCrashAfterSendExecRep, true, "Raft test: crash after sending execute_command_reply.", true},
	} {
		t.Run(tc.test.String(), func(t *testing.T) {
			ms, fs := faultTrio(t)
			a, b := ms[0], ms[1]
			state := netState(ms...)
			f := fs[1]
			if tc.onLeader {
				f = fs[0]
			}
			cr := recordCrashes(f)
			var leaderKeys int
			cr.at = func() { leaderKeys = count(a.node.Database(), "x") }
			f.Set(tc.test)
			res := transactAsync(b.node, insertOps(t, "x"), 30*time.Second)
			cr.wait(t, state)
			require.Equal(t, []string{tc.msg}, cr.list())
			switch {
			case tc.test == FailCrashAfterSendExecReq:
				// Sent: the leader and the other follower commit it
				// without the crashed member.
				eventually(t, "the leader applies x", func() bool { return count(a.node.Database(), "x") == 1 }, state)
			case tc.leaderHasIt:
				require.Equal(t, 1, leaderKeys, "the leader applied the write")
			default:
				require.Zero(t, leaderKeys, "the leader never saw the write")
			}
			f.Set(FailNone)
			select {
			case r := <-res:
				require.Len(t, r, 2, "%v\n%s", r, state())
			case <-time.After(40 * time.Second):
				t.Fatalf("the follower's write never answered\n%s", state())
			}
			eventually(t, "x once everywhere", func() bool {
				for _, m := range ms {
					if count(m.node.Database(), "x") != 1 {
						return false
					}
				}
				return true
			}, state)
		})
	}
}

// TestFailureStopRaftRPCNet: a member under stop-raft-rpc sends no
// cluster RPC and answers none (refused at once); cleared, it works again.
func TestFailureStopRaftRPCNet(t *testing.T) {
	ms, fs := faultTrio(t)
	a, b, fb := ms[0], ms[1], fs[1]
	state := netState(ms...)
	fb.Set(FailStopRaftRPC)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := b.cli.Call(ctx, string(a.mux.Address()), &Request{Op: OpHello})
	require.True(t, errors.Is(err, ErrRPCStopped), "%v", err)
	r, err := a.cli.Call(ctx, string(b.mux.Address()), &Request{Op: OpHello})
	require.NoError(t, err)
	require.Equal(t, ErrRPCStopped.Error(), r.Error)
	// a and c carry on without b, which falls behind.
	res := a.node.Transact(ctx, insertOps(t, "y"), ovsdb.TransactOptions{})
	require.Len(t, res, 2, "%v", res)
	require.Zero(t, count(b.node.Database(), "y"))
	fb.Set(FailNone)
	eventually(t, "b catches up", func() bool { return count(b.node.Database(), "y") == 1 }, state)
	res = b.node.Transact(ctx, insertOps(t, "z"), ovsdb.TransactOptions{})
	require.Len(t, res, 2, "%v", res)
}

package raft

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

func TestSplitAddress(t *testing.T) {
	for _, tc := range []struct{ in, out, err string }{
		{"tcp:127.0.0.1:6643", "127.0.0.1:6643", ""},
		{"tcp:[::1]:6643", "[::1]:6643", ""},
		{"127.0.0.1:1", "127.0.0.1:1", ""},
		{"tcp:127.0.0.1", "", "tcp:127.0.0.1: bad address (port required)"},
		{"ssl:1.2.3.4:5", "1.2.3.4:5", ""},
		{"ssl:1.2.3.4", "", "ssl:1.2.3.4: bad address (port required)"},
		{"nonsense", "", "nonsense: bad address"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := SplitAddress(tc.in)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.out, got)
		})
	}
}

// netMember is a member on a real Mux with in-memory stores.
type netMember struct {
	mux   *Mux
	trans *Transport
	cli   *Client
	node  *Node
	cid   schema.UUID
	logs  *hraft.InmemStore
}

func startNetMember(t *testing.T, id string, cid schema.UUID) *netMember {
	return startNetMemberAt(t, id, cid, "tcp:127.0.0.1:0")
}

// startNetMemberAt starts member id listening on address; its Mux refuses
// Raft connections meant for another id.
func startNetMemberAt(t *testing.T, id string, cid schema.UUID, address string) *netMember {
	return startNetMemberWith(t, id, cid, address, 0)
}

// startNetMemberWith is startNetMemberAt with hashicorp's commit timeout
// (0: the default).
func startNetMemberWith(t *testing.T, id string, cid schema.UUID, address string, commitTimeout time.Duration) *netMember {
	var mux *Mux
	var err error
	for try := 0; ; try++ { // an address just closed may take a moment
		if mux, err = ListenAs(address, id); err == nil || try == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err)
	m := &netMember{mux: mux, trans: mux.NewTransport(0), cli: NewClient(), cid: cid, logs: hraft.NewInmemStore()}
	m.node, err = Open(Config{ID: hraft.ServerID(id), Address: mux.Address(), ClusterID: cid, Schema: testSchema(t),
		ElectionTimer: 300 * time.Millisecond, LogStore: m.logs, StableStore: m.logs,
		SnapshotStore: hraft.NewInmemSnapshotStore(), Transport: m.trans, Forwarder: m.cli, Notifier: m.cli,
		CommitTimeout: commitTimeout})
	require.NoError(t, err)
	mux.SetHandler(&NodeHandler{Node: m.node, Meta: func() (schema.UUID, string, []byte) {
		return m.cid, "T", []byte(testSchemaJSON)
	}})
	t.Cleanup(m.stop)
	return m
}

// netState describes members over TCP for failure messages (see
// cluster.state).
func netState(ms ...*netMember) func() string {
	return func() string {
		var b strings.Builder
		b.WriteString("members:")
		for _, m := range ms {
			r := m.node.Raft()
			_, lid := r.LeaderWithID()
			term, _ := m.logs.GetUint64([]byte("CurrentTerm"))
			local, remote, queued := m.node.batch.inFlight()
			fmt.Fprintf(&b, "\n  %s at %s: %s term %d leader %q log last %d commit %d fsm %d; batches local %d remote %d, queued %d",
				m.node.cfg.ID, m.mux.Address(), r.State(), term, lid, r.LastIndex(), r.CommitIndex(), m.node.AppliedIndex(),
				local, remote, queued)
		}
		return b.String()
	}
}

func (m *netMember) stop() {
	m.node.Close()
	m.cli.Close()
	m.trans.Close()
	m.mux.Close()
}

func TestNetForwardAndJoin(t *testing.T) {
	cid := schema.NewUUID()
	a := startNetMember(t, "a", cid)
	require.NoError(t, a.node.Bootstrap(nil))
	eventually(t, "a leads", func() bool { return a.node.Raft().State() == hraft.Leader }, netState(a))

	b := startNetMember(t, "b", schema.UUID{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hello, err := b.cli.Hello(ctx, []string{string(a.mux.Address())})
	require.NoError(t, err)
	require.Equal(t, cid.String(), hello.ClusterID)
	require.Equal(t, "T", hello.Name)
	require.Equal(t, testSchemaJSON, hello.Schema)

	// Joining through b itself first: it does not lead and knows no leader,
	// so the client moves on to a.
	resp, err := b.cli.Join(ctx, []string{string(b.mux.Address()), string(a.mux.Address())}, "b", string(b.mux.Address()))
	require.NoError(t, err)
	require.Equal(t, "a", resp.LeaderID)
	require.Equal(t, cid.String(), resp.ClusterID)
	eventually(t, "b follows a", func() bool {
		_, id := b.node.Raft().LeaderWithID()
		return id == "a"
	}, netState(a, b))

	// A write on the follower is forwarded, and b replies once applied.
	res := b.node.Transact(ctx, insertOps(t, "x"), ovsdb.TransactOptions{})
	require.Len(t, res, 2, "%v\n%s", res, netState(a, b)())
	require.NotNil(t, res[1].(map[string]any)["uuid"], "%v", res)
	require.Equal(t, []string{"x"}, keys(b.node.Database()))
	eventually(t, "a applied x", func() bool { return len(keys(a.node.Database())) == 1 }, netState(a, b))

	// A forwarded apply sent to the follower is refused with a leader hint.
	e := &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: insertOps(t, "y")}
	data, err := e.MarshalBinary()
	require.NoError(t, err)
	r, err := b.cli.Call(ctx, string(b.mux.Address()), &Request{Op: "apply", Entry: data})
	require.NoError(t, err)
	require.True(t, r.NotLeader)
	require.Equal(t, string(a.mux.Address()), r.Leader)
	// Sent to the leader it is applied, and a retry of the same entry is
	// answered from the dedupe table (same reply, applied once).
	reply1, idx1, err := b.cli.Forward(ctx, a.mux.Address(), data)
	require.NoError(t, err)
	reply2, _, err := b.cli.Forward(ctx, a.mux.Address(), data)
	require.NoError(t, err)
	require.Equal(t, reply1, reply2)
	require.NotZero(t, idx1)
	eventually(t, "y once on both", func() bool {
		return strings.Join(keys(a.node.Database()), ",") == "x,y" && strings.Join(keys(b.node.Database()), ",") == "x,y"
	}, netState(a, b))
}

// TestRaftConnectionNamesTarget: a Raft connection names the server id it
// is meant for; the Mux accepts its own id and refuses another, answering
// with its own.
func TestRaftConnectionNamesTarget(t *testing.T) {
	mux, err := Listen("tcp:127.0.0.1:0")
	require.NoError(t, err)
	defer mux.Close()
	mux.SetServerID("b")
	c, err := dialRaft(nil, string(targetAddress("b", mux.Address())), 5*time.Second)
	require.NoError(t, err)
	c.Close()
	_, err = dialRaft(nil, string(targetAddress("a", mux.Address())), 5*time.Second)
	var re *RefusedError
	require.ErrorAs(t, err, &re)
	require.Equal(t, RefusedError{Address: string(mux.Address()), Target: "a", Actual: "b"}, *re)
	require.Equal(t, int64(1), mux.refused.Load())

	// A member's listener knows its id before it accepts anything: the
	// first connection, meant for another id, is refused (issue 9: with
	// Listen and then SetServerID, one accepted in between was taken).
	for range 20 {
		m2, err := ListenAs("tcp:127.0.0.1:0", "fresh")
		require.NoError(t, err)
		_, err = dialRaft(nil, string(targetAddress("old", m2.Address())), 5*time.Second)
		require.ErrorAs(t, err, &re, "first connection to a new listener")
		require.Equal(t, "fresh", re.Actual)
		m2.Close()
	}
}

// TestFreshMemberAtWipedAddressRefused (issue 8): a member with a new
// server id listening at the address of a member whose data was wiped
// neither acknowledges entries nor votes as the old member. With the
// third member stopped too, the leader has no quorum and steps down
// (before, the fresh member answered as the old one and kept it leader).
func TestFreshMemberAtWipedAddressRefused(t *testing.T) {
	cid := schema.NewUUID()
	ms := []*netMember{startNetMember(t, "a", cid), startNetMember(t, "b", cid), startNetMember(t, "c", cid)}
	var servers []hraft.Server
	for i, m := range ms {
		servers = append(servers, hraft.Server{Suffrage: hraft.Voter, ID: hraft.ServerID("abc"[i : i+1]), Address: m.mux.Address()})
	}
	require.NoError(t, ms[0].node.Bootstrap(servers))
	var li int
	eventually(t, "a leader", func() bool {
		for i, m := range ms {
			if m.node.Raft().State() == hraft.Leader {
				li = i
				return true
			}
		}
		return false
	}, netState(ms...))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.Len(t, ms[li].node.Transact(ctx, insertOps(t, "x"), ovsdb.TransactOptions{}), 2)

	// The wiped member: stopped, and a fresh one (id "fresh", empty
	// stores) listens at its address.
	wi, oi := (li+1)%3, (li+2)%3
	addr := ms[wi].mux.Address()
	ms[wi].stop()
	fresh := startNetMemberAt(t, "fresh", schema.UUID{}, string(addr))
	eventually(t, "the leader's RPCs for the wiped member refused", func() bool { return fresh.mux.refused.Load() > 0 }, netState(ms[li], ms[oi], fresh))

	// The other follower stops: 1 of 3 left, the leader steps down.
	ms[oi].stop()
	eventually(t, "the leader steps down without a quorum", func() bool {
		return ms[li].node.Raft().State() != hraft.Leader
	}, netState(ms[li], fresh))
	last, err := fresh.logs.LastIndex()
	require.NoError(t, err)
	require.Zero(t, last, "the fresh member stored no entry")
	term, err := fresh.logs.GetUint64([]byte("CurrentTerm"))
	if err == nil {
		require.Zero(t, term, "the fresh member took part in no election")
	}
	require.Empty(t, keys(fresh.node.Database()))
}

func TestMuxUnknownProtocolClosed(t *testing.T) {
	mux, err := Listen("tcp:127.0.0.1:0")
	require.NoError(t, err)
	defer mux.Close()
	hp, err := SplitAddress(string(mux.Address()))
	require.NoError(t, err)
	c, err := net.DialTimeout("tcp", hp, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte{'X'})
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
}

type fakeHandler func(req *Request) *Response

func (f fakeHandler) HandleCluster(_ context.Context, req *Request) *Response { return f(req) }

func TestClientRequests(t *testing.T) {
	leader, err := Listen("tcp:127.0.0.1:0")
	require.NoError(t, err)
	defer leader.Close()
	follower, err := Listen("tcp:127.0.0.1:0")
	require.NoError(t, err)
	defer follower.Close()
	starting, err := Listen("tcp:127.0.0.1:0")
	require.NoError(t, err)
	defer starting.Close() // no handler: "member is starting"
	leader.SetHandler(fakeHandler(func(req *Request) *Response {
		switch req.Op {
		case "join":
			return &Response{LeaderID: "L", ClusterID: req.ServerID}
		case "apply":
			return &Response{Index: 7, Term: 3, Reply: []byte(`[[{"count":1}],null]`)}
		}
		return &Response{Error: "unexpected " + req.Op}
	}))
	follower.SetHandler(fakeHandler(func(*Request) *Response {
		return &Response{NotLeader: true, Leader: string(leader.Address())}
	}))
	cli := NewClient()
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	resp, err := cli.Join(ctx, []string{string(starting.Address()), string(follower.Address())}, "me", "tcp:1.2.3.4:5")
	require.NoError(t, err)
	require.Equal(t, "L", resp.LeaderID)
	require.Equal(t, "me", resp.ClusterID)

	reply, idx, err := cli.Forward(ctx, leader.Address(), []byte{1})
	require.NoError(t, err)
	require.Equal(t, Position{Index: 7, Term: 3}, idx)
	require.Len(t, reply, 2, "one reply per transaction")
	require.Len(t, reply[0], 1)
	require.Nil(t, reply[1], "null: blocked")

	_, _, err = cli.Forward(ctx, starting.Address(), []byte{1})
	require.EqualError(t, err, "member is starting")

	short, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	_, err = cli.Hello(short, []string{string(starting.Address())})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "member is starting")
}

func TestFormatStatus(t *testing.T) {
	now := time.Unix(1000, 0)
	sid := "1b9a5d76-e69b-410c-8085-39943d0cd38c"
	other := "4984aaaa-e69b-410c-8085-39943d0cd38c"
	cid, err := schema.ParseUUID("32ca07fb-739b-4257-b510-12fa18e7cce8")
	require.NoError(t, err)
	servers := []hraft.Server{
		{Suffrage: hraft.Voter, ID: hraft.ServerID(sid), Address: "tcp:10.0.0.3:6643"},
		{Suffrage: hraft.Voter, ID: hraft.ServerID(other), Address: "tcp:10.0.0.4:6643"},
	}
	for _, tc := range []struct {
		name string
		st   Status
		x    StatusExtra
		want string
	}{
		{"leader", Status{Name: "OVN_Northbound", ClusterID: cid, ServerID: hraft.ServerID(sid), Address: "tcp:10.0.0.3:6643",
			Role: "leader", Term: 3, LeaderID: hraft.ServerID(sid), Vote: hraft.ServerID(sid), ElectionTimer: 5 * time.Second,
			LogFirst: 135, LogLast: 140, CommitIndex: 140, AppliedIndex: 140, Servers: servers},
			StatusExtra{ElectionStart: now.Add(-2 * time.Second), ElectionWon: now.Add(-1990 * time.Millisecond),
				Connections: []string{"->4984"}, LastMsg: map[hraft.ServerID]time.Time{hraft.ServerID(other): now.Add(-84 * time.Millisecond)}},
			`1b9a
Name: OVN_Northbound
Cluster ID: 32ca (32ca07fb-739b-4257-b510-12fa18e7cce8)
Server ID: 1b9a (1b9a5d76-e69b-410c-8085-39943d0cd38c)
Address: tcp:10.0.0.3:6643
Status: cluster member
Role: leader
Term: 3
Leader: self
Vote: self

Last Election started 2000 ms ago, reason: timeout
Last Election won: 1990 ms ago
Election timer: 5000
Log: [135, 141]
Entries not yet committed: 0
Entries not yet applied: 0
Connections: ->4984
Disconnections: 0
Servers:
    1b9a (1b9a at tcp:10.0.0.3:6643) (self) next_index=141 match_index=140
    4984 (4984 at tcp:10.0.0.4:6643) last msg 84 ms ago
`},
		{"joining", Status{Name: "OVN_Northbound", ServerID: hraft.ServerID(sid), Address: "tcp:10.0.0.3:6643",
			Role: "follower", ElectionTimer: time.Second},
			StatusExtra{Joining: true, Remotes: []string{"tcp:10.0.0.4:6643"}, Disconnections: 2},
			`1b9a
Name: OVN_Northbound
Cluster ID: not yet known
Server ID: 1b9a (1b9a5d76-e69b-410c-8085-39943d0cd38c)
Address: tcp:10.0.0.3:6643
Status: joining cluster
Remotes for joining: tcp:10.0.0.4:6643
Role: follower
Term: 0
Leader: unknown
Vote: unknown

Election timer: 1000
Log: [1, 1]
Entries not yet committed: 0
Entries not yet applied: 0
Connections:
Disconnections: 2
Servers:
`},
		{"candidate", Status{Name: "N", ClusterID: cid, ServerID: hraft.ServerID(sid), Address: "tcp:10.0.0.3:6643",
			Role: "candidate", Term: 9, Vote: hraft.ServerID(sid), ElectionTimer: time.Second,
			LogFirst: 2, LogLast: 4, CommitIndex: 3, AppliedIndex: 3, Servers: servers},
			StatusExtra{ElectionStart: now.Add(-10 * time.Millisecond), ElectionReason: "leadership_transfer"},
			`1b9a
Name: N
Cluster ID: 32ca (32ca07fb-739b-4257-b510-12fa18e7cce8)
Server ID: 1b9a (1b9a5d76-e69b-410c-8085-39943d0cd38c)
Address: tcp:10.0.0.3:6643
Status: disconnected from the cluster (election timeout)
Role: candidate
Term: 9
Leader: unknown
Vote: self

Last Election started 10 ms ago, reason: leadership_transfer
Election timer: 1000
Log: [2, 5]
Entries not yet committed: 1
Entries not yet applied: 1
Connections:
Disconnections: 0
Servers:
    1b9a (1b9a at tcp:10.0.0.3:6643) (self)
    4984 (4984 at tcp:10.0.0.4:6643)
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, FormatStatus(tc.st, tc.x, now))
		})
	}
}

// TestNetCommitNotices: over TCP, with hashicorp's commit timeout at an
// hour, a write through the leader reaches the follower's state through
// the commit notice stream; a stream opened for another server id is
// refused.
func TestNetCommitNotices(t *testing.T) {
	cid := schema.NewUUID()
	a := startNetMemberWith(t, "a", cid, "tcp:127.0.0.1:0", time.Hour)
	require.NoError(t, a.node.Bootstrap(nil))
	eventually(t, "a leads", func() bool { return a.node.Raft().State() == hraft.Leader }, netState(a))
	b := startNetMemberWith(t, "b", schema.UUID{}, "tcp:127.0.0.1:0", time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := b.cli.Join(ctx, []string{string(a.mux.Address())}, "b", string(b.mux.Address()))
	require.NoError(t, err)
	eventually(t, "b follows a", func() bool {
		_, id := b.node.Raft().LeaderWithID()
		return id == "a"
	}, netState(a, b))
	res := a.node.Transact(ctx, insertOps(t, "n1"), ovsdb.TransactOptions{})
	require.Len(t, res, 2, "%v\n%s", res, netState(a, b)())
	idx := a.node.AppliedIndex()
	eventually(t, "b applied the write", func() bool { return b.node.AppliedIndex() >= idx }, netState(a, b))
	require.Equal(t, []string{"n1"}, keys(b.node.Database()))
	require.NotZero(t, b.node.noticeApplies.Load(), "b did not apply through a notice")

	_, err = dialNotices(ctx, nil, string(b.mux.Address()), "someone-else")
	var re *RefusedError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "b", re.Actual)
}

package raft

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

const testSchemaJSON = `{"name":"T","version":"1.0.0","tables":{
 "K":{"columns":{"k":{"type":"string"},"w":{"type":"integer"}},"isRoot":true}}}`

func testSchema(t testing.TB) *schema.DatabaseSchema {
	s, err := schema.ParseSchemaBytes([]byte(testSchemaJSON))
	require.NoError(t, err)
	return s
}

func decodeOps(t testing.TB, js string) []any {
	v, err := schema.DecodeJSON([]byte(js))
	require.NoError(t, err)
	return v.([]any)
}

func insertOps(t testing.TB, key string) []any {
	// The wait makes a retried insert of the same key fail instead of
	// inserting twice, as a client that lost the answer would do.
	return decodeOps(t, `[{"op":"wait","table":"K","where":[["k","==","`+key+`"]],"columns":["k"],"until":"==","rows":[],"timeout":0},
		{"op":"insert","table":"K","row":{"k":"`+key+`"}}]`)
}

// dumpDB renders every row (with _uuid and _version) of db.
func dumpDB(db *ovsdb.Database) string {
	var lines []string
	db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
		for name, rows := range tables {
			ts := db.Schema().Table(name)
			for id, r := range rows {
				cols := map[string]any{}
				for _, c := range ts.Columns {
					cols[c.Name] = schema.DatumToJSON(&c.Type, r.Field(c.Index))
				}
				lines = append(lines, name+" "+id.String()+" "+string(cjson.Marshal(cols)))
			}
		}
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// keys returns the k column of every K row (with repeats).
func keys(db *ovsdb.Database) []string {
	var out []string
	db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
		c := db.Schema().Table("K").Column("k")
		for _, r := range tables["K"] {
			out = append(out, r.Field(c.Index).Keys[0].(string))
		}
	})
	sort.Strings(out)
	return out
}

// member is one cluster member whose stores survive restarts.
type member struct {
	id    hraft.ServerID
	addr  hraft.ServerAddress
	logs  *hraft.InmemStore
	snaps *hraft.InmemSnapshotStore
	trans *hraft.InmemTransport
	node  *Node
	// applied is the member's recorded applied position (nil: none kept,
	// the behaviour before Config.AppliedLog).
	applied *memApplied
}

// memApplied is an in-memory Config.AppliedLog that survives restarts.
type memApplied struct {
	mu   sync.Mutex
	last *raftstore.Applied
}

func (m *memApplied) RecordApplied(a raftstore.Applied) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last = &a
	return nil
}

func (m *memApplied) AppliedHints() []raftstore.Applied {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		return nil
	}
	return []raftstore.Applied{*m.last}
}

// cluster is an in-process cluster on raft.NewInmemTransport; it is also
// the members' Forwarder (it calls the leader's ApplyForwarded directly).
type cluster struct {
	t       *testing.T
	schema  *schema.DatabaseSchema
	timer   time.Duration
	snapThr uint64
	// noNotices leaves out commit notices; commitTimeout overrides
	// hashicorp's commit timeout (both for TestCommitNotices).
	noNotices     bool
	commitTimeout time.Duration

	mu      sync.Mutex
	members []*member
}

func newCluster(t *testing.T, n int, snapThreshold uint64) *cluster {
	return newClusterWith(t, n, snapThreshold, nil)
}

// newClusterWith is newCluster with options set by opt before any member
// starts.
func newClusterWith(t *testing.T, n int, snapThreshold uint64, opt func(*cluster)) *cluster {
	c := &cluster{t: t, schema: testSchema(t), timer: 100 * time.Millisecond, snapThr: snapThreshold}
	if opt != nil {
		opt(c)
	}
	for i := 0; i < n; i++ {
		c.members = append(c.members, &member{
			id: hraft.ServerID(fmt.Sprintf("s%d", i)), addr: hraft.ServerAddress(fmt.Sprintf("m%d", i)),
			logs: hraft.NewInmemStore(), snaps: hraft.NewInmemSnapshotStore(), applied: &memApplied{},
		})
	}
	var servers []hraft.Server
	for _, m := range c.members {
		servers = append(servers, hraft.Server{Suffrage: hraft.Voter, ID: m.id, Address: m.addr})
	}
	for i := range c.members {
		c.start(i)
	}
	require.NoError(t, c.members[0].node.Bootstrap(servers))
	c.watchdog()
	t.Cleanup(func() {
		for i := range c.members {
			c.stop(i)
		}
	})
	return c
}

// Forward implements Forwarder.
func (c *cluster) Forward(ctx context.Context, leader hraft.ServerAddress, entry []byte) ([][]any, Position, error) {
	c.mu.Lock()
	var n *Node
	for _, m := range c.members {
		if m.addr == leader {
			n = m.node
		}
	}
	c.mu.Unlock()
	if n == nil {
		return nil, Position{}, errors.New("leader unreachable")
	}
	return n.ApplyForwarded(ctx, entry)
}

// NotifyCommit implements CommitNotifier.
func (c *cluster) NotifyCommit(ctx context.Context, server hraft.Server, pos Position) error {
	c.mu.Lock()
	var n *Node
	for _, m := range c.members {
		if m.id == server.ID && m.addr == server.Address {
			n = m.node
		}
	}
	c.mu.Unlock()
	if n == nil {
		return errors.New("member unreachable")
	}
	n.HandleCommitNotice(ctx, pos)
	return nil
}

func (c *cluster) start(i int) {
	c.startIsolated(i)
	c.connect(i)
}

// startIsolated starts member i without connecting it to the others.
func (c *cluster) startIsolated(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[i]
	_, m.trans = hraft.NewInmemTransport(m.addr)
	cfg := Config{ID: m.id, Address: m.addr, Schema: c.schema, ElectionTimer: c.timer,
		LogStore: m.logs, StableStore: m.logs, SnapshotStore: m.snaps, Transport: m.trans,
		Forwarder: c, SnapshotThreshold: c.snapThr, TrailingLogs: c.snapThr, CommitTimeout: c.commitTimeout}
	if !c.noNotices {
		cfg.Notifier = c
	}
	if m.applied != nil {
		cfg.AppliedLog = m.applied
	}
	n, err := Open(cfg)
	require.NoError(c.t, err)
	m.node = n
}

// connect connects member i's transport with the running members'.
func (c *cluster) connect(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[i]
	for _, o := range c.members {
		if o != m && o.node != nil {
			m.trans.Connect(o.addr, o.trans)
			o.trans.Connect(m.addr, m.trans)
		}
	}
}

func (c *cluster) stop(i int) {
	c.mu.Lock()
	m := c.members[i]
	n := m.node
	m.node = nil
	if n != nil {
		for _, o := range c.members {
			if o != m && o.node != nil {
				o.trans.Disconnect(m.addr)
			}
		}
	}
	c.mu.Unlock()
	if n != nil {
		require.NoError(c.t, n.Close())
	}
}

func (c *cluster) node(i int) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].node
}

// running returns the running members' nodes.
func (c *cluster) running() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Node
	for _, m := range c.members {
		if m.node != nil {
			out = append(out, m.node)
		}
	}
	return out
}

// eventually polls cond for at most 20 s; on time out it fails the test
// naming what it waited for and the outputs of diag (member states).
func eventually(t *testing.T, what string, cond func() bool, diag ...func() string) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, d := range diag {
				b.WriteString("\n")
				b.WriteString(d())
			}
			t.Fatalf("timed out after %v waiting for %s%s", time.Since(start).Round(time.Millisecond), what, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// eventually is the package's eventually with the members' states.
func (c *cluster) eventually(what string, cond func() bool) {
	c.t.Helper()
	eventually(c.t, what, cond, c.state)
}

// state describes every member for failure messages: role, term, known
// leader, hashicorp's last/commit/applied indexes, the FSM's applied index,
// last contact with a leader and the batcher's batches in flight (local:
// proposed to this member's log; remote: forwarded or waiting to retry)
// and queued transactions. It never blocks on a member's Raft loop.
func (c *cluster) state() string {
	c.mu.Lock()
	type snap struct {
		m *member
		n *Node
	}
	var ms []snap
	for _, m := range c.members {
		ms = append(ms, snap{m, m.node})
	}
	c.mu.Unlock()
	var b strings.Builder
	b.WriteString("cluster state:")
	for _, s := range ms {
		term, _ := s.m.logs.GetUint64([]byte("CurrentTerm"))
		if s.n == nil {
			fmt.Fprintf(&b, "\n  %s: stopped (stored term %d)", s.m.id, term)
			continue
		}
		r := s.n.Raft()
		_, lid := r.LeaderWithID()
		local, remote, queued := s.n.batch.inFlight()
		contact := "never"
		if lc := r.LastContact(); !lc.IsZero() {
			contact = time.Since(lc).Round(time.Millisecond).String() + " ago"
		}
		fmt.Fprintf(&b, "\n  %s: %s term %d leader %q log last %d commit %d applied %d fsm %d; last contact %s; batches local %d remote %d, queued %d",
			s.m.id, r.State(), term, lid, r.LastIndex(), r.CommitIndex(), r.AppliedIndex(), s.n.AppliedIndex(),
			contact, local, remote, queued)
	}
	return b.String()
}

// raftStacks returns the stacks of the goroutines running this package's
// code (batches, proposals, forwards, test goroutines), for a diagnosis.
func raftStacks() string {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "ovsdb-server/raft.") && !strings.Contains(g, "raft.raftStacks") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// within runs step on a new goroutine and fails the test with the members'
// states and the package's goroutine stacks if it does not return within
// limit (the step is left running). A step that fails the test (require)
// ends as it would on the test goroutine.
func (c *cluster) within(what string, limit time.Duration, step func()) {
	c.t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		step()
	}()
	select {
	case <-done:
	case <-time.After(limit):
		c.t.Fatalf("%s: not done after %v\n%s\ngoroutines:\n%s", what, limit, c.state(), raftStacks())
	}
}

// stepLimit bounds one client transaction of a cluster test.
const stepLimit = time.Minute

// transact runs ops on n, bounded by stepLimit. A transaction that does
// not finish in time is reported (t.Errorf, so any goroutine may call it)
// with the members' states, and answers nil.
func (c *cluster) transact(n *Node, ops []any) []any {
	ctx, cancel := context.WithTimeout(context.Background(), stepLimit)
	defer cancel()
	res := n.Transact(ctx, ops, ovsdb.TransactOptions{})
	if res == nil {
		c.t.Errorf("transaction through %s not answered within %v: %s\n%s", n.cfg.ID, stepLimit, cjson.Marshal(ops), c.state())
	}
	return res
}

// watchdogLimit bounds a whole cluster test: past it, the test binary
// panics with the members' states and the package's goroutines rather
// than wait for go test's own timeout (25 minutes under make test).
const watchdogLimit = 4 * time.Minute

// watchdog arms watchdogLimit for the cluster's test.
func (c *cluster) watchdog() {
	name := c.t.Name()
	timer := time.AfterFunc(watchdogLimit, func() {
		panic(fmt.Sprintf("%s: still running after %v (raft watchdog)\n%s\ngoroutines:\n%s",
			name, watchdogLimit, c.state(), raftStacks()))
	})
	c.t.Cleanup(func() { timer.Stop() })
}

// leader waits for a running leader and returns its member index.
func (c *cluster) leader() int {
	idx := -1
	c.eventually("a leader", func() bool {
		idx = c.leaderNow()
		return idx >= 0
	})
	return idx
}

// leaderNow returns the index of a running member that is leader now, or
// -1.
func (c *cluster) leaderNow() int {
	for i := range c.members {
		if n := c.node(i); n != nil && n.Raft().State() == hraft.Leader {
			return i
		}
	}
	return -1
}

// converge waits until every running member has applied the leader's
// last index and then requires identical contents.
func (c *cluster) converge() string {
	li := c.leader()
	ln := c.node(li)
	require.NoError(c.t, ln.Raft().Barrier(10*time.Second).Error(), "barrier on the leader\n%s", c.state())
	target := ln.AppliedIndex()
	nodes := c.running()
	for _, n := range nodes {
		c.eventually(fmt.Sprintf("catch-up of every member to index %d", target), func() bool { return n.AppliedIndex() >= target })
	}
	want := dumpDB(ln.Database())
	for _, n := range nodes {
		require.Equal(c.t, want, dumpDB(n.Database()), "member %s differs from the leader\n%s", n.cfg.ID, c.state())
	}
	return want
}

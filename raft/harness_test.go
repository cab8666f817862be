package raft

import (
	"context"
	"errors"
	"fmt"
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

// eventually polls cond for at most 20 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leader waits for a running leader and returns its member index.
func (c *cluster) leader() int {
	idx := -1
	eventually(c.t, "a leader", func() bool {
		for i := range c.members {
			if n := c.node(i); n != nil && n.Raft().State() == hraft.Leader {
				idx = i
				return true
			}
		}
		return false
	})
	return idx
}

// converge waits until every running member has applied the leader's
// last index and then requires identical contents.
func (c *cluster) converge() string {
	li := c.leader()
	ln := c.node(li)
	require.NoError(c.t, ln.Raft().Barrier(10*time.Second).Error())
	target := ln.AppliedIndex()
	nodes := c.running()
	for _, n := range nodes {
		eventually(c.t, "catch-up", func() bool { return n.AppliedIndex() >= target })
	}
	want := dumpDB(ln.Database())
	for _, n := range nodes {
		require.Equal(c.t, want, dumpDB(n.Database()))
	}
	return want
}

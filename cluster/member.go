package cluster

// The clustered database member as a server.Mode: opening it (and, for a
// member created by join-cluster, learning its cluster and asking to be
// added), its accessors, transactions and closing it. The member-level
// cluster RPC handler is in rpc.go, cluster/status and the _Server facts
// in status.go, kick/leave/election timer in ops.go, ovs-appctl commands,
// memory/show and the opener in control.go.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/internal/standalone"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/raft"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

func clusterLog() *slog.Logger { return slog.Default().With("module", "raft") }

// Member is a clustered database member: its bbolt file, its cluster
// listener (Raft and forwarding), and its raft.Node. It implements
// server.Mode (the clustered replication mode).
type Member struct {
	store  *raftstore.Store
	mux    *raft.Mux
	trans  *raft.TrackedTransport
	client *raft.Client
	node   *raft.Node
	obs    *hraft.Observer
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once

	// arbiter is meta.Arbiter, which never changes: read without mu
	// while join rewrites meta.
	arbiter bool

	mu       sync.Mutex
	meta     raftstore.Meta
	leaving  bool
	left     bool
	timer    time.Duration
	elStart  time.Time
	elReason string
	elWon    time.Time
	failed   map[hraft.ServerID]bool // followers whose heartbeats fail (leader)
	lastMsg  map[hraft.ServerID]time.Time
	nDisconn int
	// everLeader: a leader has been known since the member started (C's
	// ever_had_leader).
	everLeader bool
	// peers: what the other servers answered when last asked (peers.go).
	peers map[hraft.ServerID]peerState
}

// IsClusteredFile reports whether path is one of our clustered (bbolt)
// database files.
func IsClusteredFile(path string) bool {
	f, err := raftstore.Sniff(path)
	return err == nil && f == raftstore.FormatBolt
}

// Open opens the clustered database file at path: it listens on the
// member's cluster address and starts its Raft member. A member created by
// join-cluster first learns the schema and cluster id from one of its
// remotes (retrying until one answers, at most joinHelloTimeout), then asks
// the leader to add it, in the background, until it is added.
func Open(path string) (*Member, error) { return OpenWith(path, Options{}) }

// Options configure the members a program opens (Options.Opener,
// OpenWith); the zero value gives the defaults.
type Options struct {
	// NoLeaderWriteTimeout is raft.Config.NoLeaderWriteTimeout: how long
	// a write waits for a leader when there is none before it fails
	// (zero: raft.DefaultNoLeaderWriteTimeout; negative: forever, as C;
	// ovsdb-server's --no-leader-write-timeout).
	NoLeaderWriteTimeout time.Duration
	// ReleaseMemory, when set, is called by an arbiter member when idle
	// (cluster/arbiter.go) after it has dropped the pages of its file it
	// read: the program's process-wide release (ovsdb-server passes
	// debug.FreeOSMemory). The library itself changes nothing
	// process-wide.
	ReleaseMemory func()
	// TLS is the TLS configuration of the member's cluster connections
	// on "ssl:IP:PORT" addresses (raft.TLS; ovsdb-server passes the
	// internal/tlsconf.Config of its --private-key, --certificate and
	// --ca-cert, the one its ssl:/pssl: remotes use): the member's
	// listener on an ssl: address, and its connections to members at
	// ssl: addresses, are TLS with mutual authentication against its CA.
	// A member whose own or remote addresses are ssl: fails to open when
	// TLS is nil or not ready (key, certificate or CA missing).
	TLS raft.TLS
}

// OpenWith is Open with options.
func OpenWith(path string, o Options) (*Member, error) {
	st, err := raftstore.Open(path)
	if err != nil {
		return nil, err
	}
	if err := checkTLS(st.Meta(), o.TLS); err != nil {
		st.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := &Member{store: st, meta: st.Meta(), arbiter: st.Meta().Arbiter, stop: make(chan struct{}), client: raft.NewClientTLS(o.TLS),
		failed: map[hraft.ServerID]bool{}, lastMsg: map[hraft.ServerID]time.Time{},
		peers: map[hraft.ServerID]peerState{}}
	fail := func(err error) (*Member, error) {
		c.client.Close()
		if c.mux != nil {
			c.mux.Close()
		}
		st.Close()
		return nil, err
	}
	// Raft RPCs meant for another server id (this address's member in the
	// leader's configuration, when this file was made afresh) are refused,
	// from the first connection on.
	c.mux, err = raft.ListenTLS(c.meta.LocalAddress, c.meta.ServerID.String(), o.TLS)
	if err != nil {
		return fail(err)
	}
	if c.meta.Joining() && len(c.meta.Schema) == 0 {
		if err := c.hello(); err != nil {
			return fail(err)
		}
	}
	c.timer = time.Duration(c.meta.ElectionTimerMS) * time.Millisecond
	if c.timer <= 0 {
		c.timer = raftstore.DefaultElectionTimerMS * time.Millisecond
	}
	c.trans = c.mux.NewTrackedTransport(0)
	opening := time.Now()
	c.node, err = openNode(st, c.trans, c.client, c.schemaChanged, o)
	if err != nil {
		c.trans.Close()
		return fail(err)
	}
	c.mux.SetHandler(&clusterHandler{NodeHandler: raft.NodeHandler{Node: c.node, Meta: c.handlerMeta}, c: c})
	ch := make(chan hraft.Observation, 64)
	c.obs = hraft.NewObserver(ch, false, nil)
	c.node.Raft().RegisterObserver(c.obs)
	c.wg.Add(1)
	go c.observe(ch)
	if c.IsLeader() {
		// The only voter of its configuration elected itself while
		// raft.Open ran, before the observer existed: record that
		// election for cluster/status, as C shows it.
		c.mu.Lock()
		c.elStart, c.elReason, c.elWon, c.everLeader = opening, "timeout", time.Now(), true
		c.mu.Unlock()
	}
	if c.meta.Left {
		// A member that left stays out: its Raft member is stopped
		// at once, before it could stand for election.
		c.left = true
		clusterLog().Info(fmt.Sprintf("%s: this server left the cluster; not rejoining", c.meta.Name))
		if err := c.node.Close(); err != nil {
			clusterLog().Info("stopping raft of a departed member", "db", c.meta.Name, "err", err)
		}
		return c, nil
	}
	// Read before join starts: it rewrites c.meta (under c.mu).
	joining, name := c.meta.Joining(), c.meta.Name
	if c.arbiter {
		clusterLog().Info(fmt.Sprintf("%s: this server is an arbiter: it stores the log and votes, holds no data and serves no clients", name))
	}
	if joining {
		c.wg.Add(1)
		go c.join()
	}
	c.wg.Add(2)
	go c.checkMembership()
	go c.probePeers()
	return c, nil
}

// openNode starts the Raft member stored in st on transport trans, with
// client forwarding writes and sending commit notices, converting with
// C's rules (standalone.ConvertDatabaseWith) and telling schemaChanged of
// each new schema. The stores are passed to raft.Open, as hashicorp's
// NewRaft takes them: the caller keeps st and closes it after the node.
func openNode(st *raftstore.Store, trans hraft.Transport, client *raft.Client,
	schemaChanged func(*schema.DatabaseSchema), o Options) (*raft.Node, error) {
	m := st.Meta()
	s, err := schema.ParseSchemaBytes(m.Schema)
	if err != nil {
		return nil, err
	}
	return raft.Open(raft.Config{
		ID: hraft.ServerID(m.ServerID.String()), Address: hraft.ServerAddress(m.LocalAddress),
		ClusterID: m.ClusterID, Schema: s, ElectionTimer: time.Duration(m.ElectionTimerMS) * time.Millisecond,
		LogStore: st.LogStore(), StableStore: st.StableStore(), SnapshotStore: st.SnapshotStore(),
		Transport: trans, Forwarder: client, AppliedLog: st, Notifier: client,
		Convert: standalone.ConvertDatabaseWith, SchemaChanged: schemaChanged,
		NoLeaderWriteTimeout: o.NoLeaderWriteTimeout, Arbiter: m.Arbiter, OnIdle: arbiterIdle(st, o),
	})
}

// checkTLS fails when the member's address, or one of the addresses it
// joins through, is ssl: and t cannot make TLS connections (raft.CheckTLS).
func checkTLS(m raftstore.Meta, t raft.TLS) error {
	for _, a := range append([]string{m.LocalAddress}, m.RemoteAddresses...) {
		if err := raft.CheckTLS(a, t); err != nil {
			return err
		}
	}
	return nil
}

const joinHelloTimeout = 5 * time.Minute

// hello fetches the schema and cluster id of the cluster being joined.
func (c *Member) hello() error {
	ctx, cancel := context.WithTimeout(context.Background(), joinHelloTimeout)
	defer cancel()
	resp, err := c.client.Hello(ctx, c.meta.RemoteAddresses)
	if err != nil {
		return fmt.Errorf("%s: cannot reach the cluster to join: %w", c.store.Path(), err)
	}
	cid, err := schema.ParseUUID(resp.ClusterID)
	if err != nil {
		return fmt.Errorf("%s: bad cluster id from remote: %w", c.store.Path(), err)
	}
	if !c.meta.ClusterID.IsZero() && c.meta.ClusterID != cid {
		return fmt.Errorf("%s: remote cluster has cluster ID %s but joining with --cid %s", c.store.Path(), cid, c.meta.ClusterID)
	}
	if resp.Name != c.meta.Name {
		return fmt.Errorf("%s: remote cluster is for database %s, not %s", c.store.Path(), resp.Name, c.meta.Name)
	}
	m := c.meta
	m.ClusterID, m.Schema = cid, []byte(resp.Schema)
	if err := c.store.SetMeta(m); err != nil {
		return err
	}
	c.meta = m
	return nil
}

// join asks the leader to add this member until it is added.
func (c *Member) join() {
	defer c.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.cancelOnStop(ctx, cancel)
	c.mu.Lock()
	m := c.meta
	c.mu.Unlock()
	resp, err := c.client.Join(ctx, m.RemoteAddresses, m.ServerID.String(), m.LocalAddress)
	if err != nil {
		clusterLog().Info("join abandoned", "db", m.Name, "err", err)
		return
	}
	// The metadata is read again: a conversion applied meanwhile may
	// have changed the schema in it (schemaChanged).
	c.mu.Lock()
	m = c.meta
	m.RemoteAddresses = nil
	if err := c.store.SetMeta(m); err != nil {
		c.mu.Unlock()
		clusterLog().Error("cannot record having joined", "db", m.Name, "err", err)
		return
	}
	c.meta = m
	c.mu.Unlock()
	clusterLog().Info(fmt.Sprintf("%s: joined cluster %s (leader %s)", m.Name, raft.Nickname(m.ClusterID.String()), raft.Nickname(resp.LeaderID)))
}

// handlerMeta gives the cluster RPC handler the cluster id, database name
// and schema it announces; a member still joining knows no cluster yet.
func (c *Member) handlerMeta() (schema.UUID, string, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.meta.Joining() {
		return schema.UUID{}, c.meta.Name, nil
	}
	return c.meta.ClusterID, c.meta.Name, c.meta.Schema
}

// cancelOnStop calls cancel if the member closes before ctx is done.
func (c *Member) cancelOnStop(ctx context.Context, cancel context.CancelFunc) {
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
}

// tick calls f every d until the member closes or f returns false.
func (c *Member) tick(d time.Duration, f func() bool) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if !f() {
				return
			}
		}
	}
}

// Node returns the Raft member.
func (c *Member) Node() *raft.Node { return c.node }

// Meta returns the member's current metadata.
func (c *Member) Meta() raftstore.Meta {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.meta
}

// Address returns the member's cluster address ("tcp:IP:PORT").
func (c *Member) Address() string { return string(c.mux.Address()) }

// IsLeader reports whether this member leads the cluster.
func (c *Member) IsLeader() bool { return c.node.Raft().State() == hraft.Leader }

// Left reports whether this member has left (or was removed from) its
// cluster.
func (c *Member) Left() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.left
}

// Connected is C's raft_is_connected: a member that has joined, is not
// leaving, has heard from a leader since it started (a restarted member
// is not connected until then, whatever state it serves) and is not
// retrying an election: losing the leader keeps the member connected
// through one election timer as a candidate, as C's candidate_retrying
// does through one election.
func (c *Member) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.meta.Joining() || c.leaving || c.left {
		return false
	}
	if addr, _ := c.node.Raft().LeaderWithID(); addr != "" {
		c.everLeader = true
		return true
	}
	if !c.everLeader {
		return false
	}
	return c.node.Raft().State() != hraft.Candidate || c.elStart.IsZero() || time.Since(c.elStart) <= c.timer
}

// Database implements server.Mode: the member's applied state. A
// conversion applied on this member (proposed by any member) replaces it;
// Info's channel is then closed at once.
func (c *Member) Database() *ovsdb.Database { return c.node.Database() }

// Transact runs a client transaction through the cluster. A member that
// left refuses writes as C's Raft does for a server that is no longer a
// cluster member (RAFT_CMD_SHUTDOWN: "cluster error" / "server
// shutdown"); reads still see its last applied state.
func (c *Member) Transact(ctx context.Context, ops []any, opts ovsdb.TransactOptions) []any {
	if c.arbiter {
		return []any{ovsdberr.ToJSON(c.refusal())}
	}
	if c.Left() && !opts.ReadOnly && !ovsdb.ClassifyOps(ops).ReadOnly {
		return []any{ovsdberr.ToJSON(ovsdberr.New("cluster error", "server shutdown"))}
	}
	return c.node.Transact(ctx, ops, opts)
}

// Compact implements server.Mode: it takes a Raft snapshot (the log is
// truncated behind it). Errors are C's storage errors: a member with
// nothing applied since its last snapshot answers "not storing a duplicate
// snapshot" (C's rule, checked here: applied index not past the last
// snapshot's), and a member joining, leaving or gone from its cluster
// stores none.
func (c *Member) Compact() error {
	c.mu.Lock()
	joining, leaving, left := c.meta.Joining(), c.leaving, c.left
	c.mu.Unlock()
	switch {
	case joining:
		return ovsdberr.New(ovsdberr.TagOVSDB, "cannot store a snapshot while joining cluster")
	case leaving:
		return ovsdberr.New(ovsdberr.TagOVSDB, "cannot store a snapshot while leaving cluster")
	case left:
		return ovsdberr.New(ovsdberr.TagOVSDB, "cannot store a snapshot after leaving cluster")
	}
	// C's rule: nothing applied since the last snapshot. (hashicorp/raft
	// refuses only when its FSM goroutine has seen no entry since start,
	// and otherwise stores a second snapshot at the same index.)
	r := c.node.Raft()
	applied := max(r.AppliedIndex(), c.node.AppliedIndex())
	if last, err := strconv.ParseUint(r.Stats()["last_snapshot_index"], 10, 64); err == nil && applied <= last {
		return ovsdberr.New(ovsdberr.TagOVSDB, "not storing a duplicate snapshot")
	}
	err := r.Snapshot().Error()
	if errors.Is(err, hraft.ErrNothingNewToSnapshot) && r.State() == hraft.Leader {
		// Only entries hashicorp/raft keeps from the FSM were applied
		// since the start (the new leader's no-op, which C's snapshot
		// would cover too): a barrier gives the snapshot an index.
		if r.Barrier(compactBarrierTimeout).Error() == nil {
			err = r.Snapshot().Error()
		}
	}
	if errors.Is(err, hraft.ErrNothingNewToSnapshot) {
		// A follower in the same case: the state is its last
		// snapshot's; nothing to store.
		return nil
	}
	return err
}

// compactBarrierTimeout bounds the barrier of Compact.
const compactBarrierTimeout = 10 * time.Second

// Close implements server.Mode: leadership is transferred if this member
// leads, then the member, its listener and its file are closed.
func (c *Member) Close() error {
	var err error
	c.once.Do(func() {
		close(c.stop)
		err = c.node.Close()
		c.node.Raft().DeregisterObserver(c.obs)
		c.wg.Wait()
		c.client.Close()
		c.trans.Close()
		c.mux.Close()
		if cerr := c.store.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

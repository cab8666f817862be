package raft

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

// logger is looked up at each use so that a handler installed later
// (cmd/ovsdb-server's vlog) receives this package's lines.
func logger() *slog.Logger { return slog.Default().With("module", "raft") }

// Forwarder sends an encoded Entry or batch of Entries to the leader at
// address leader, which proposes it (Node.ApplyForwarded on the leader) and
// answers with the FSM's replies, one per transaction in order, and the
// entry's Position. A nil reply means that transaction's "wait" ops were
// unsatisfied at index (ApplyResult Blocked). Any error makes the caller
// retry with the same data.
type Forwarder interface {
	Forward(ctx context.Context, leader hraft.ServerAddress, data []byte) (replies [][]any, pos Position, err error)
}

// Position identifies a committed log entry: its index and the term in
// which it was appended. A member that holds an entry with the same index
// and term holds the same log up to it (Raft's log matching property).
type Position struct {
	Index, Term uint64
}

// Config configures a Node.
type Config struct {
	// ID and Address identify this member (ID: the server id UUID text).
	ID      hraft.ServerID
	Address hraft.ServerAddress
	// ClusterID is shown by Status (zero while joining).
	ClusterID schema.UUID
	// Schema is the database schema.
	Schema *schema.DatabaseSchema
	// ElectionTimer is C's election timer (default 1 s).
	ElectionTimer time.Duration
	// Stores and transport.
	LogStore      hraft.LogStore
	StableStore   hraft.StableStore
	SnapshotStore hraft.SnapshotStore
	Transport     hraft.Transport
	// Forwarder forwards follower writes to the leader (nil: followers
	// answer writes only once they become leader).
	Forwarder Forwarder
	// SnapshotThreshold / SnapshotInterval / TrailingLogs override
	// hashicorp/raft's defaults when non-zero.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// DedupeSize bounds the dedupe table (DefaultDedupeSize if <= 0).
	DedupeSize int
	// MaxInFlight bounds the batches of client transactions the member
	// has proposed as leader and not yet seen committed
	// (DefaultMaxInFlight if <= 0); transactions arriving meanwhile wait
	// and go into the next batch (batch.go). MaxForwardInFlight is the
	// same bound while following (DefaultMaxForwardInFlight if <= 0).
	MaxInFlight, MaxForwardInFlight int
	// Notifier, when set, sends the leader's commit notices to followers
	// (notify.go); a Client Forwarder is one.
	Notifier CommitNotifier
	// CommitTimeout overrides hashicorp/raft's commit timeout (tests).
	CommitTimeout time.Duration
	// Convert converts the state when a conversion entry is applied
	// (online conversion, Node.Convert): the clustered mode passes
	// internal/standalone.ConvertDatabaseWith, C's conversion rules. Nil:
	// conversions fail on this member.
	Convert ConvertFunc
	// SchemaChanged, when set, is called with the new schema each time
	// the member's database is replaced by one of another schema: a
	// conversion applied, or a snapshot taken after a conversion restored
	// (also while Open runs). It runs on the FSM's apply path and must not
	// call into the Node. The clustered mode records the schema in its
	// file's metadata.
	SchemaChanged func(*schema.DatabaseSchema)
	// AppliedLog, when set, records the position of every entry before
	// the FSM applies it, and at Open the member applies its own log up to
	// the position recorded last (before it serves anything), so that a
	// restarted member does not serve an older state than it did before
	// (raftstore.Store implements it).
	AppliedLog AppliedLog
	// Faults holds the cluster/failure-test faults of the member (nil:
	// ProcessFaults, shared by the process's members as in C).
	Faults *Faults
	// NoLeaderWriteTimeout bounds how long a write waits for a leader
	// when this member knows none (no quorum): once a proposal has waited
	// that long without ever having been sent to any leader (proposed here
	// or forwarded), it fails with ErrNoLeader (DESIGN.md, "Quorum loss").
	// Zero: DefaultNoLeaderWriteTimeout; negative: wait forever, as C.
	NoLeaderWriteTimeout time.Duration
	// Arbiter makes the member an arbiter (arbiter.go): it stores the log
	// and votes but executes nothing and holds no database; forwarded
	// writes fail with ErrArbiter and leadership it wins is handed over.
	Arbiter bool
	// OnIdle, for an arbiter, is called once entries stop arriving and
	// every 10 s while they keep arriving (trimWhenIdle): the owner's
	// chance to release memory. Nil: nothing is done.
	OnIdle func()
}

// defaultConvert is the converter of a new FSM (NewFSM; a Node's when
// Config.Convert is nil): nil in the program (the clustered mode always
// passes one); this package's tests set it, since raft cannot import the
// file store that implements C's conversion rules.
var defaultConvert ConvertFunc

// AppliedLog keeps the position of the last entry applied, across
// restarts.
type AppliedLog interface {
	// RecordApplied is called before the entry at a is applied.
	RecordApplied(a raftstore.Applied) error
	// AppliedHints returns recorded positions, highest first.
	AppliedHints() []raftstore.Applied
}

// logCacheSize is the number of latest log entries kept in memory.
const logCacheSize = 64

// Node is one member of a clustered database.
type Node struct {
	cfg  Config
	fsm  *FSM
	raft *hraft.Raft
	// raftp is raft for what hashicorp/raft may call before NewRaft has
	// returned (FSM.Apply of entries committed at start-up): nil until then.
	raftp  atomic.Pointer[hraft.Raft]
	closed chan struct{}
	// ctx is canceled when the node closes: batches in flight (which
	// outlive their clients' contexts) stop retrying and forwarding.
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
	batch  *batcher
	logs   *signalLogs // the log store hashicorp/raft writes through
	faults *nodeFaults // failure tests (failure_node.go)

	// noticeApplies counts the commit notices that made this member
	// apply entries (notify.go).
	noticeApplies atomic.Uint64

	obs      *hraft.Observer
	leaderMu sync.Mutex
	leaderCh chan struct{} // closed and replaced at each leader change
}

// HraftConfig returns the hashicorp/raft configuration for a member with
// the given id and C election timer: a follower starts an election after
// between one and two timers without a leader, a leader steps down after a
// timer without a quorum, as C does.
func HraftConfig(id hraft.ServerID, timer time.Duration) *hraft.Config {
	if timer <= 0 {
		timer = time.Second
	}
	c := hraft.DefaultConfig()
	c.LocalID = id
	// hashicorp/raft waits HeartbeatTimeout..2*HeartbeatTimeout without
	// contact before a follower stands for election; half the timer gives
	// C's failover time (C: a follower starts an election after the timer
	// plus up to one timer of jitter, measured in benchmarks/RESULTS.md).
	// The lease must not exceed the heartbeat timeout.
	c.HeartbeatTimeout = timer / 2
	c.ElectionTimeout = timer
	c.LeaderLeaseTimeout = timer / 2
	// Followers learn the commit index from the next AppendEntries; a
	// short commit timeout bounds how long a forwarded write waits for it.
	c.CommitTimeout = min(10*time.Millisecond, timer/10)
	// Group commit: proposals queue in a buffered channel and the leader
	// takes up to MaxAppendEntries of them per StoreLogs (one bbolt commit)
	// and per AppendEntries RPC.
	c.BatchApplyCh = true
	c.MaxAppendEntries = 256
	c.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Error, Output: slogWriter{}})
	return c
}

// slogWriter passes hashicorp/raft's log lines to slog.
type slogWriter struct{}

func (slogWriter) Write(p []byte) (int, error) {
	logger().Debug(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Open starts the member described by cfg.
func Open(cfg Config) (*Node, error) {
	if cfg.Schema == nil || cfg.LogStore == nil || cfg.StableStore == nil || cfg.SnapshotStore == nil ||
		cfg.Transport == nil || cfg.ID == "" {
		return nil, errors.New("raft: incomplete config")
	}
	if cfg.ElectionTimer <= 0 {
		cfg.ElectionTimer = time.Second
	}
	hc := HraftConfig(cfg.ID, cfg.ElectionTimer)
	if cfg.SnapshotThreshold > 0 {
		hc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.SnapshotInterval > 0 {
		hc.SnapshotInterval = cfg.SnapshotInterval
	}
	if cfg.TrailingLogs > 0 {
		hc.TrailingLogs = cfg.TrailingLogs
	}
	n := &Node{cfg: cfg, fsm: NewFSM(cfg.Schema, cfg.DedupeSize), closed: make(chan struct{})}
	n.fsm.schemaChanged = cfg.SchemaChanged
	snaps := cfg.SnapshotStore
	if cfg.Arbiter {
		n.fsm.arbiter = true
		snaps = arbiterSnapshots{snaps}
		hc.NoSnapshotRestoreOnStart = true
		hc.TrailingLogs = max(hc.TrailingLogs, arbiterTrailingLogs)
		cfg.AppliedLog = nil // nothing to replay
	}
	if cfg.Convert != nil {
		n.fsm.convert = cfg.Convert
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.batch = newBatcher(n, cfg.MaxInFlight, cfg.MaxForwardInFlight)
	// The leader reads back every entry it sends to followers: keep the
	// latest in memory rather than in a bbolt read transaction each.
	var err error
	cache, err := hraft.NewLogCache(logCacheSize, cfg.LogStore)
	if err != nil {
		return nil, err
	}
	n.logs = newSignalLogs(cache)
	if cfg.CommitTimeout > 0 {
		hc.CommitTimeout = cfg.CommitTimeout
	}
	var nt *notifier
	if cfg.Notifier != nil {
		nt = newNotifier(n, cfg.Notifier)
		n.fsm.onApply = nt.applied
	}
	if al := cfg.AppliedLog; al != nil {
		var failed bool
		n.fsm.record = func(p Position) {
			if err := al.RecordApplied(raftstore.Applied{Index: p.Index, Term: p.Term}); err != nil && !failed {
				failed = true // once: it is only a hint for restarts
				logger().Warn("cannot record the applied position", "err", err)
			}
		}
	}
	n.faults = newNodeFaults(cfg.Faults, cfg.ID, cfg.Transport)
	n.logs.faults = n.faults
	r, err := hraft.NewRaft(hc, n.fsm, n.logs, cfg.StableStore, snaps, n.faults.trans)
	if err != nil {
		n.faults.abandon()
		n.cancel()
		return nil, err
	}
	n.raft = r
	n.raftp.Store(r)
	n.faults.started(r)
	// The restored snapshot may end with entries the FSM never sees
	// (configuration, no-op: create-cluster's initial snapshot is index 1
	// while its FSM index is 0); the log after a snapshot starts after its
	// Raft index. The snapshot's index, not r.AppliedIndex(): hashicorp/raft
	// advances that as soon as it has queued committed entries for the
	// FSM, before they are applied, and a leader's AppendEntries may have
	// been processed since NewRaft started; raising the FSM's index to it
	// made the FSM skip those entries as applied already (a restarted
	// member then served a state without writes it had acknowledged:
	// TestQuorumLossWriteFails, TestClusterRestartServesAppliedState).
	if snap, err := strconv.ParseUint(r.Stats()["last_snapshot_index"], 10, 64); err == nil {
		n.fsm.raiseApplied(snap)
	}
	if cfg.AppliedLog != nil {
		n.replayApplied(cfg.AppliedLog)
	}
	n.leaderCh = make(chan struct{})
	obsCh := make(chan hraft.Observation, 16)
	n.obs = hraft.NewObserver(obsCh, false, func(o *hraft.Observation) bool {
		_, ok := o.Data.(hraft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(n.obs)
	go n.watchLeader(obsCh)
	if nt != nil {
		go nt.run()
	}
	n.electAloneAtOnce()
	if cfg.Arbiter {
		go n.handOver()
	}
	return n, nil
}

// replayApplied applies the local log up to the last applied position
// recorded by the previous run: hashicorp/raft has restored the latest
// snapshot and would apply the entries after it only once a leader tells
// it they are committed. Entries up to a recorded position were applied,
// so committed; a position is used only if the local log holds an entry
// with its index and term (FSM.replay). hashicorp/raft later offers the
// same entries to Apply, which skips them.
func (n *Node) replayApplied(al AppliedLog) {
	start := time.Now()
	from := n.fsm.AppliedIndex()
	hints := al.AppliedHints()
	if len(hints) == 0 {
		logger().Info(fmt.Sprintf("no applied position recorded; serving the state at index %d until a leader is heard", from))
		return
	}
	for _, a := range hints {
		cnt, ok := n.fsm.replay(n.logs, Position{Index: a.Index, Term: a.Term})
		if !ok {
			logger().Info("recorded applied position not in the log, ignored", "index", a.Index, "term", a.Term)
			continue
		}
		// One line per start, also when nothing was applied: after a
		// crash it tells what a restarted member served first.
		logger().Info(fmt.Sprintf("applied %d committed log entries up to index %d at start-up "+
			"(state restored at index %d, applied position recorded at index %d term %d)",
			cnt, n.fsm.AppliedIndex(), from, a.Index, a.Term), "elapsed", time.Since(start).String())
		return
	}
}

// watchLeader wakes the proposals waiting to retry (leaderChanged) and
// starts the queued batches the new role allows on every leader change,
// until the node closes.
func (n *Node) watchLeader(ch <-chan hraft.Observation) {
	for {
		select {
		case <-ch:
			n.leaderMu.Lock()
			close(n.leaderCh)
			n.leaderCh = make(chan struct{})
			n.leaderMu.Unlock()
			n.batch.startQueued()
		case <-n.closed:
			return
		}
	}
}

// leaderChanged returns a channel closed at the next leader change.
func (n *Node) leaderChanged() <-chan struct{} {
	n.leaderMu.Lock()
	defer n.leaderMu.Unlock()
	return n.leaderCh
}

// Database returns the member's applied state, for reads and monitors.
// It is the same object until a conversion replaces it (EngineChanged).
func (n *Node) Database() *ovsdb.Database { return n.fsm.Database() }

// EngineChanged returns a channel closed when Database next returns
// another database: a conversion applied on this member (proposed by any
// member), or a snapshot of the converted database restored.
func (n *Node) EngineChanged() <-chan struct{} { return n.fsm.EngineChanged() }

// Raft returns the underlying hashicorp/raft instance.
func (n *Node) Raft() *hraft.Raft { return n.raft }

// AppliedIndex returns the index of the last applied entry.
func (n *Node) AppliedIndex() uint64 { return n.fsm.AppliedIndex() }

// Bootstrap makes this member the first of a new cluster whose voters are
// servers (nil: this member alone), as create-cluster does.
func (n *Node) Bootstrap(servers []hraft.Server) error {
	if servers == nil {
		servers = []hraft.Server{{Suffrage: hraft.Voter, ID: n.cfg.ID, Address: n.cfg.Address}}
	}
	return n.raft.BootstrapCluster(hraft.Configuration{Servers: servers}).Error()
}

// AddVoter adds a member (join-cluster); leader only.
func (n *Node) AddVoter(id hraft.ServerID, addr hraft.ServerAddress, timeout time.Duration) error {
	return n.raft.AddVoter(id, addr, 0, timeout).Error()
}

// RemoveServer removes a member (cluster/kick, cluster/leave); leader only.
func (n *Node) RemoveServer(id hraft.ServerID, timeout time.Duration) error {
	return n.raft.RemoveServer(id, 0, timeout).Error()
}

// LeadershipTransfer hands leadership to another voter.
func (n *Node) LeadershipTransfer() error { return n.raft.LeadershipTransfer().Error() }

// Close transfers leadership if this member leads a multi-member cluster,
// then stops the member. Stores stay open (the caller owns them).
func (n *Node) Close() error {
	var err error
	n.once.Do(func() {
		if n.raft.State() == hraft.Leader && n.voters() > 1 {
			if terr := n.raft.LeadershipTransfer().Error(); terr != nil {
				logger().Info("leadership transfer on close failed", "err", terr)
			}
		}
		close(n.closed)
		n.cancel()
		n.faults.stop()
		n.batch.shutdown()
		n.raft.DeregisterObserver(n.obs)
		err = n.raft.Shutdown().Error()
	})
	return err
}

func (n *Node) voters() int {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return 0
	}
	c := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == hraft.Voter {
			c++
		}
	}
	return c
}

// ErrShutdown is returned once the node is closed.
var ErrShutdown = errors.New("raft: member is shut down")

// ApplyForwarded proposes an encoded entry or batch received from another
// member; the forwarding server calls it on the leader. It answers one
// reply per transaction, in order (nil: that transaction's "wait" ops were
// unsatisfied), and fails with hraft.ErrNotLeader when this member is not
// the leader.
func (n *Node) ApplyForwarded(ctx context.Context, data []byte) (replies [][]any, pos Position, err error) {
	if n.cfg.Arbiter {
		return nil, Position{}, ErrArbiter
	}
	if n.raft.State() != hraft.Leader {
		return nil, Position{}, hraft.ErrNotLeader
	}
	parts, err := splitBatch(data)
	if err != nil {
		return nil, Position{}, &decodeError{err}
	}
	// Through the leader's own batcher: everything proposed while earlier
	// batches are in flight, from every member, goes into one log entry.
	return n.batch.submitAll(ctx, parts)
}

// applyLocal proposes data on this member (the leader) and waits until it
// is committed and applied here.
func (n *Node) applyLocal(ctx context.Context, data []byte) ([][]any, Position, error) {
	timeout := 4 * n.cfg.ElectionTimer
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	f := n.raft.Apply(data, timeout)
	if err := f.Error(); err != nil {
		return nil, Position{}, err
	}
	var results []*ApplyResult
	switch r := f.Response().(type) {
	case *ApplyResult:
		results = []*ApplyResult{r}
	case []*ApplyResult:
		results = r
	}
	if results == nil {
		return nil, Position{}, errors.New("raft: FSM returned no result")
	}
	replies := make([][]any, len(results))
	for i, res := range results {
		if res.Err != nil {
			return nil, Position{}, &decodeError{res.Err}
		}
		if !res.Blocked {
			replies[i] = res.Reply
		}
	}
	pos := Position{Index: f.Index()}
	var l hraft.Log
	if n.logs.GetLog(pos.Index, &l) == nil { // from the log cache
		pos.Term = l.Term
	}
	return replies, pos, nil
}

// propose gets data (an encoded Entry or batch) committed, on the leader
// directly or through the Forwarder, retrying (with the same data) across
// leader changes until ctx is done or the node closes. It answers one reply
// per transaction (nil: blocked in "wait") and the entry's position.
func (n *Node) propose(ctx context.Context, data []byte) (replies [][]any, pos Position, err error) {
	return n.proposeAs(ctx, data, nil)
}

// proposeAs is propose calling attempt (when not nil) before each attempt
// with whether it proposes to this member's own log (leading) or not
// (forwarding, or waiting for a leader): the batcher's accounting.
func (n *Node) proposeAs(ctx context.Context, data []byte, attempt func(local bool)) (replies [][]any, pos Position, err error) {
	backoff := minRetryBackoff
	start := time.Now()
	// sent: data has been given to a leader (proposed here or forwarded):
	// from then on it may commit, so its failure after the no-leader
	// bound says the outcome is unknown. noLeader: since when no leader
	// has been seen (zero: one was seen at the last attempt).
	sent := false
	var noLeader time.Time
	for {
		changed := n.leaderChanged()
		var perr error
		leading := n.raft.State() == hraft.Leader
		if attempt != nil {
			attempt(leading)
		}
		if leading {
			sent, noLeader = true, time.Time{}
			r, p, e := n.applyLocal(ctx, data)
			if e == nil {
				return r, p, nil
			}
			perr = e
		} else if addr, _ := n.raft.LeaderWithID(); addr != "" && n.cfg.Forwarder != nil {
			sent, noLeader = true, time.Time{}
			r, p, e := n.cfg.Forwarder.Forward(ctx, addr, data)
			if e == nil {
				return r, p, nil
			}
			perr = e
		} else if to := n.noLeaderTimeout(); to >= 0 {
			// No leader known: a proposal never sent fails once it has
			// waited the bound; one sent once fails once no leader has
			// been seen for the whole bound (it stops retrying; if it is
			// in a log that a future leader commits, it is applied then,
			// once, like any committed entry).
			if noLeader.IsZero() {
				noLeader = time.Now()
			}
			if !sent && time.Since(start) >= to || sent && time.Since(noLeader) >= to {
				return nil, Position{}, &noLeaderError{waited: time.Since(start), sent: sent}
			}
		}
		if isClosed(n.closed) {
			return nil, Position{}, ErrShutdown
		}
		if perr != nil {
			var de *decodeError
			if errors.As(perr, &de) {
				return nil, Position{}, perr
			}
			logger().Debug("proposal failed, retrying", "err", perr)
		}
		// Retry after a backoff, or at once when the leader changes: the
		// batch being retried holds back every transaction queued behind
		// it (batch.go), so it must not sleep through a new leader.
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			if isClosed(n.closed) {
				return nil, Position{}, ErrShutdown
			}
			return nil, Position{}, ctx.Err()
		case <-n.closed:
			t.Stop()
			return nil, Position{}, ErrShutdown
		case <-changed:
			t.Stop()
			backoff = minRetryBackoff
			continue
		case <-t.C:
		}
		backoff = min(2*backoff, maxRetryBackoff, n.cfg.ElectionTimer/2)
	}
}

// Bounds of the wait between two attempts of a proposal that failed with
// the same leader (or none) known.
const (
	minRetryBackoff = 5 * time.Millisecond
	maxRetryBackoff = 100 * time.Millisecond
)

type decodeError struct{ error }

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Transact executes a client transaction on the cluster and returns the
// result array as ovsdb.Database.Transact does (nil when ctx is canceled).
// Read-only transactions run on the member's own applied state. Others
// are proposed (forwarded to the leader from a follower); the reply is
// given once this member has applied the entry, so a following read on
// the same member sees the write.
func (n *Node) Transact(ctx context.Context, ops []any, opts ovsdb.TransactOptions) []any {
	class := ovsdb.ClassifyOps(ops)
	if class.ReadOnly || opts.ReadOnly {
		return n.fsm.Database().Transact(ctx, ops, opts)
	}
	e := &Entry{TxnID: schema.NewUUID(), DB: n.fsm.Database().Name(), Ops: ops, TimeMS: time.Now().UnixMilli()}
	// The entry carries the session's RBAC role and id: every member
	// checks the writes against its own RBAC tables (ovsdb/rbac.go).
	if opts.Role != "" {
		e.Role, e.ClientID, e.HasClientID = opts.Role, opts.ClientID, opts.HasClientID
	}
	_, _ = rand.Read(e.Seed[:])
	// The entry carries the asserted locks the session holds: every member
	// checks the asserts against them.
	for _, name := range class.Locks {
		if opts.HasLock != nil && opts.HasLock(name) {
			e.Locks = append(e.Locks, name)
		}
	}
	// A blocked attempt waits (ovsdb.RetryBlocked) until this member has
	// applied an entry after the one that found the wait unsatisfied, or
	// the wait's timeout expires (the FSM then reports "timed out"), and is
	// proposed again.
	release := func() {} // ends the previous attempt's wait for the applied index
	defer func() { release() }()
	retry := false
	return ovsdb.RetryBlocked(ctx, func(elapsed int64) ([]any, bool, <-chan struct{}, int64) {
		release()
		if retry && isClosed(n.closed) {
			return clusterError(ErrShutdown), false, nil, 0
		}
		retry = true
		e.ElapsedMS = elapsed
		data, err := e.MarshalBinary()
		if err != nil {
			return clusterError(err), false, nil, 0
		}
		// C reads the session on while the commit is under way.
		ovsdb.NotifyWaiting(ctx)
		reply, blocked, pos, err := n.batch.submit(ctx, data)
		if err != nil {
			if ctx.Err() != nil {
				return nil, false, nil, 0
			}
			return clusterError(err), false, nil, 0
		}
		idx := pos.Index
		if n.raft.State() != hraft.Leader {
			// Apply the committed entry here now rather than after the
			// leader's next AppendEntries (see FSM.catchUp).
			n.fsm.catchUp(n.logs, pos)
		}
		if !n.fsm.waitApplied(ctx, n.closed, idx) {
			if ctx.Err() != nil {
				return nil, false, nil, 0
			}
			return clusterError(ErrShutdown), false, nil, 0
		}
		if !blocked {
			return reply, false, nil, 0
		}
		// Closed also when the node closes: the next attempt answers
		// ErrShutdown.
		var past <-chan struct{}
		past, release = n.fsm.appliedPast(ctx, n.closed, idx)
		return nil, true, past, class.WaitTimeoutMS
	})
}

// Convert converts the database online to schema ns on every member, as
// C's clustered "convert" does. It first converts this member's current
// state, so that a schema the data does not fit fails at once with C's
// error and nothing is proposed; then it proposes a conversion entry
// (Entry.Schema; forwarded to the leader from a follower, retried across
// leader changes like a transaction), which every member's FSM applies by
// converting its own state at that place in the log. It returns once
// this member has applied the entry, with the conversion's error if it
// failed there (writes committed in between made the data unfit); then
// Database returns the converted database. ctx bounds the wait.
func (n *Node) Convert(ctx context.Context, ns *schema.DatabaseSchema) error {
	db := n.fsm.Database()
	if err := checkConvert(db, ns); err != nil {
		return err
	}
	if n.fsm.convert == nil {
		return ovsdberr.New(ovsdberr.TagOVSDB, "%s: this member cannot convert databases", db.Name())
	}
	var err error
	db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
		_, err = n.fsm.convert(tables, db.Schema(), ns, ovsdb.TransactOptions{})
	})
	if err != nil {
		return err
	}
	e := &Entry{TxnID: schema.NewUUID(), DB: db.Name(), Schema: cjson.Marshal(ns.CJSON()), TimeMS: time.Now().UnixMilli()}
	_, _ = rand.Read(e.Seed[:])
	data, err := e.MarshalBinary()
	if err != nil {
		return err
	}
	reply, _, pos, err := n.batch.submit(ctx, data)
	if err != nil {
		return err
	}
	if n.raft.State() != hraft.Leader {
		n.fsm.catchUp(n.logs, pos)
	}
	if !n.fsm.waitApplied(ctx, n.closed, pos.Index) {
		if err := ctx.Err(); err != nil {
			return err
		}
		return ErrShutdown
	}
	return convertResult(reply)
}

func clusterError(err error) []any {
	return []any{ovsdberr.ToJSON(ovsdberr.New(ovsdberr.TagOVSDB, "%s", err.Error()))}
}

// Status is the member's view of the cluster, for cluster/status.
type Status struct {
	Name          string
	ClusterID     schema.UUID
	ServerID      hraft.ServerID
	Address       hraft.ServerAddress
	Role          string // "leader", "follower", "candidate", "shutdown"
	Term          uint64
	LeaderID      hraft.ServerID // empty: unknown
	LeaderAddress hraft.ServerAddress
	Vote          hraft.ServerID // candidate voted for in Term (empty: none)
	ElectionTimer time.Duration
	LogFirst      uint64
	LogLast       uint64
	CommitIndex   uint64
	AppliedIndex  uint64    // last entry applied, any kind
	LastContact   time.Time // last contact with the leader (followers)
	Servers       []hraft.Server
}

// Status returns the member's current status.
func (n *Node) Status() (Status, error) {
	st := Status{Name: n.fsm.Database().Name(), ClusterID: n.cfg.ClusterID, ServerID: n.cfg.ID, Address: n.cfg.Address,
		ElectionTimer: n.cfg.ElectionTimer, AppliedIndex: n.fsm.AppliedIndex(), CommitIndex: n.raft.CommitIndex(),
		LastContact: n.raft.LastContact()}
	// Configuration and no-op entries never reach the FSM: hashicorp's
	// applied index counts them.
	st.AppliedIndex = max(st.AppliedIndex, n.raft.AppliedIndex())
	// Applied entries are committed (a restarted member applies its log up
	// to its recorded position before hashicorp/raft hears of commits).
	st.CommitIndex = max(st.CommitIndex, st.AppliedIndex)
	st.Role = strings.ToLower(n.raft.State().String())
	st.LeaderAddress, st.LeaderID = n.raft.LeaderWithID()
	if t, err := strconv.ParseUint(n.raft.Stats()["term"], 10, 64); err == nil {
		st.Term = t
	}
	// hashicorp/raft records the vote as the candidate's address (or,
	// for old peers, its id): shown as the id of the matching server.
	var vote []byte
	if vt, err := n.cfg.StableStore.GetUint64([]byte("LastVoteTerm")); err == nil && vt == st.Term {
		vote, _ = n.cfg.StableStore.Get([]byte("LastVoteCand"))
	}
	var err error
	if st.LogFirst, err = n.cfg.LogStore.FirstIndex(); err != nil {
		return st, fmt.Errorf("raft: log first index: %w", err)
	}
	if st.LogLast, err = n.cfg.LogStore.LastIndex(); err != nil {
		return st, fmt.Errorf("raft: log last index: %w", err)
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return st, err
	}
	st.Servers = f.Configuration().Servers
	if len(vote) > 0 {
		st.Vote = hraft.ServerID(vote)
		for _, s := range st.Servers {
			if string(s.Address) == string(vote) {
				st.Vote = s.ID
			}
		}
	}
	return st, nil
}

var _ io.Closer = (*Node)(nil)

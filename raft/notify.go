package raft

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	hraft "github.com/hashicorp/raft"
)

// Commit notices: the leader tells each follower the position of every
// entry it has applied, as soon as it applies it, and a follower that holds
// that entry applies its log up to it at once (FSM.catchUp, the log
// matching rule).
//
// Why: hashicorp/raft tells followers the commit index only with its next
// AppendEntries, which on an idle leader comes from the commit-timeout
// probe (10-20 ms later). A client that wrote through the leader and then
// reads on a follower, or a follower's monitor, saw the write that much
// later; C's followers see it within a fraction of a millisecond
// (benchmarks/RESULTS.md, read freshness). Under load the notice costs one
// small frame per applied entry and follower; notices to one follower are
// coalesced (only the latest position is sent), so a slow follower delays
// nothing but its own notices.
//
// Safety: an entry the leader applied is committed, whoever sends the
// notice (even a deposed leader): the follower applies only entries its
// own log holds with the notice's index and term.

// CommitNotifier sends commit notices to followers.
type CommitNotifier interface {
	// NotifyCommit tells the member server that the entry at pos is
	// committed; the member refuses a notice meant for another server id.
	NotifyCommit(ctx context.Context, server hraft.Server, pos Position) error
}

// noticeTimeout bounds one notice; configRefresh is how often the leader
// re-reads the configuration to learn its followers.
const (
	noticeTimeout = time.Second
	configRefresh = time.Second
)

// notifier sends the leader's commit notices, one goroutine per follower.
type notifier struct {
	n  *Node
	cn CommitNotifier

	mu     sync.Mutex
	latest Position
	peers  map[hraft.ServerID]*peerNotice
	// woken is the followers to wake on each applied entry: empty while
	// this member does not lead.
	woken atomic.Pointer[[]*peerNotice]
	// refresh asks run to read the configuration now (capacity 1).
	refresh chan struct{}
}

// peerNotice is the latest-value mailbox of one follower.
type peerNotice struct {
	server hraft.Server
	wake   chan struct{} // capacity 1
	stop   chan struct{}
}

func newNotifier(n *Node, cn CommitNotifier) *notifier {
	nt := &notifier{n: n, cn: cn, peers: map[hraft.ServerID]*peerNotice{}, refresh: make(chan struct{}, 1)}
	nt.woken.Store(&[]*peerNotice{})
	return nt
}

// applied records pos, about to be applied by hashicorp/raft's FSM
// goroutine (so committed), and wakes the followers' senders; it does not
// block.
func (nt *notifier) applied(pos Position) {
	nt.mu.Lock()
	nt.latest = pos
	nt.mu.Unlock()
	ps := *nt.woken.Load()
	if len(ps) == 0 {
		// raftp: this can run before NewRaft has returned (entries
		// committed at start-up), when n.raft is not set yet.
		if r := nt.n.raftp.Load(); r != nil && r.State() == hraft.Leader {
			// Leading, but run has not read the configuration yet
			// (the leader observation can precede the state change).
			select {
			case nt.refresh <- struct{}{}:
			default:
			}
		}
		return
	}
	for _, p := range ps {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// run keeps one sender per follower while this member leads (the
// configuration is read again every configRefresh and at each leader
// change), until the node closes.
func (nt *notifier) run() {
	tick := time.NewTicker(configRefresh)
	defer tick.Stop()
	for {
		nt.refreshPeers(nt.n.raft.State() == hraft.Leader)
		select {
		case <-nt.n.closed:
			nt.refreshPeers(false)
			return
		case <-tick.C:
		case <-nt.refresh:
		case <-nt.n.leaderChanged():
		}
	}
}

// refreshPeers starts a sender for each follower in the configuration and
// stops those of members that left (all of them when !leading).
func (nt *notifier) refreshPeers(leading bool) {
	var servers []hraft.Server
	if leading {
		f := nt.n.raft.GetConfiguration()
		if f.Error() != nil {
			return
		}
		servers = f.Configuration().Servers
	}
	nt.mu.Lock()
	defer nt.mu.Unlock()
	seen := map[hraft.ServerID]bool{}
	for _, s := range servers {
		if s.ID == nt.n.cfg.ID {
			continue
		}
		seen[s.ID] = true
		if p, ok := nt.peers[s.ID]; ok && p.server.Address == s.Address {
			continue
		} else if ok {
			close(p.stop)
		}
		p := &peerNotice{server: s, wake: make(chan struct{}, 1), stop: make(chan struct{})}
		p.wake <- struct{}{} // send the latest position at once
		nt.peers[s.ID] = p
		go nt.send(p)
	}
	for id, p := range nt.peers {
		if !seen[id] {
			close(p.stop)
			delete(nt.peers, id)
		}
	}
	ps := make([]*peerNotice, 0, len(nt.peers))
	for _, p := range nt.peers {
		ps = append(ps, p)
	}
	nt.woken.Store(&ps)
}

// send delivers the latest position to one follower whenever woken,
// skipping positions it has sent already.
func (nt *notifier) send(p *peerNotice) {
	var sent Position
	for {
		select {
		case <-p.stop:
			return
		case <-p.wake:
		}
		nt.mu.Lock()
		pos := nt.latest
		nt.mu.Unlock()
		if pos.Index <= sent.Index {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), noticeTimeout)
		err := nt.cn.NotifyCommit(ctx, p.server, pos)
		cancel()
		if err != nil {
			// The follower is down or slow: hashicorp/raft's own
			// replication tells it later. Back off a little.
			select {
			case <-p.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		sent = pos
	}
}

// HandleCommitNotice applies, on a follower, the local log up to pos, an
// entry the leader reports committed. The entry may not be stored here yet
// (the notice can overtake the AppendEntries that carries it): the member
// then waits for its log to grow, at most maxNoticeWait.
func (n *Node) HandleCommitNotice(ctx context.Context, pos Position) {
	if n.raft.State() == hraft.Leader {
		return
	}
	deadline := time.NewTimer(maxNoticeWait)
	defer deadline.Stop()
	for {
		stored := n.logs.stored()
		before := n.fsm.AppliedIndex()
		n.fsm.catchUp(n.logs, pos)
		if after := n.fsm.AppliedIndex(); after >= pos.Index {
			if after > before {
				n.noticeApplies.Add(1)
			}
			return
		}
		select {
		case <-stored:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		case <-n.closed:
			return
		}
	}
}

// maxNoticeWait bounds how long a follower waits for the entry of a
// commit notice to be stored.
const maxNoticeWait = 200 * time.Millisecond

// The commit notice stream (protocol byte protoNotice): the leader opens
// it with the same preamble as a Raft connection (the target's server id;
// the member accepts only its own), then writes one noticeFrameLen frame
// per position (index and term, 8 bytes big-endian each) and never reads
// an answer. The member hands each frame to its Handler as a "commit"
// request. One-way frames save a JSON round trip per notice.
const noticeFrameLen = 16

// dialNotices opens a commit notice stream to the member id at address
// (TLS with t when it is ssl:).
func dialNotices(ctx context.Context, t TLS, address, id string) (net.Conn, error) {
	timeout := noticeTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	return dialTarget(t, protoNotice, address, id, timeout)
}

// serveNotices reads the frames of a commit notice stream accepted for
// server id and hands each to the handler, until the stream fails.
// Notices are dropped while the member's stop-raft-rpc failure test is
// engaged.
func serveNotices(c net.Conn, id string, handler func() Handler, faults func() *Faults) {
	defer c.Close()
	r := bufio.NewReader(c)
	var frame [noticeFrameLen]byte
	for {
		if _, err := io.ReadFull(r, frame[:]); err != nil {
			return
		}
		h := handler()
		if h == nil || faults().stopped() {
			continue
		}
		req := &Request{Op: OpCommit, ServerID: id, Index: binary.BigEndian.Uint64(frame[:8]), Term: binary.BigEndian.Uint64(frame[8:])}
		h.HandleCluster(context.Background(), req)
	}
}

// signalLogs is the member's log store (hashicorp's LogCache over the
// file) with a signal after each write, for HandleCommitNotice.
type signalLogs struct {
	*hraft.LogCache
	mu     sync.Mutex
	notify chan struct{} // closed and replaced after each StoreLogs
	// faults: the failure tests' hooks around writes (set before
	// hashicorp/raft starts; nil-safe).
	faults *nodeFaults
}

func newSignalLogs(c *hraft.LogCache) *signalLogs {
	return &signalLogs{LogCache: c, notify: make(chan struct{})}
}

// stored returns a channel closed after the next write.
func (s *signalLogs) stored() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify
}

func (s *signalLogs) signal() {
	s.mu.Lock()
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
}

// StoreLog implements hraft.LogStore.
func (s *signalLogs) StoreLog(l *hraft.Log) error {
	err := s.LogCache.StoreLog(l)
	s.signal()
	return err
}

// StoreLogs implements hraft.LogStore.
func (s *signalLogs) StoreLogs(ls []*hraft.Log) error {
	if err := s.faults.beforeStore(); err != nil {
		return err
	}
	err := s.LogCache.StoreLogs(ls)
	s.signal()
	if err == nil {
		s.faults.afterStore(ls)
	}
	return err
}

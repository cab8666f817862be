package raft

// The failure tests' hooks in one member: its transport (Raft RPCs sent
// and received), its log store (entries written by the leader or received
// by a follower) and its leadership. raft/DESIGN.md, "Failure tests".

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	hraft "github.com/hashicorp/raft"
)

// nodeFaults applies a Faults to one Node.
type nodeFaults struct {
	f     *Faults
	id    hraft.ServerID
	r     atomic.Pointer[hraft.Raft] // nil until hashicorp/raft runs
	start time.Time
	trans hraft.Transport // the member's transport, wrapped
	ft    *faultTransport

	// watch is the new entry a crash-after or transfer-after test waits
	// to see sent to the followers (nil: none).
	watch        atomic.Pointer[sendWatch]
	mu           sync.Mutex // guards the watch's fields
	transferring atomic.Bool
}

// sendWatch follows a new leader entry to the followers.
type sendWatch struct {
	index uint64
	test  FailureTest
	sent  map[hraft.ServerID]bool
	peers map[hraft.ServerID]bool // the followers; nil until known
	done  bool
	timer *time.Timer
	// over is closed once the test has run (or the member stops): the
	// answers of the followers sent the entry wait for it, so that the
	// leader learns of no commit before it crashes, as in C.
	over chan struct{}
}

// sendGrace bounds how long a crash-after or transfer-after test waits for
// every follower to be sent the new entry: a follower that is down or
// being sent a snapshot is not sent it (C sends a new entry only to the
// followers that are up to date, and crashes or transfers right after).
const sendGrace = 500 * time.Millisecond

// newNodeFaults wraps trans with the hooks of f (nil: ProcessFaults) for
// member id.
func newNodeFaults(f *Faults, id hraft.ServerID, trans hraft.Transport) *nodeFaults {
	if f == nil {
		f = ProcessFaults()
	}
	nf := &nodeFaults{f: f, id: id, start: time.Now()}
	ft := &faultTransport{Transport: trans, nf: nf, out: make(chan hraft.RPC), done: make(chan struct{})}
	nf.ft = ft
	if _, ok := trans.(hraft.WithPreVote); ok {
		nf.trans = &faultTransportPreVote{ft}
	} else {
		nf.trans = ft
	}
	go ft.filter()
	return nf
}

// started is called once hashicorp/raft runs the member.
func (nf *nodeFaults) started(r *hraft.Raft) {
	nf.r.Store(r)
	nf.f.subscribe(nf)
}

// stop ends the hooks' own work (the transport's is ended by its Close).
func (nf *nodeFaults) stop() {
	nf.f.unsubscribe(nf)
	if w := nf.watch.Swap(nil); w != nil {
		nf.mu.Lock()
		if !w.done {
			w.done = true
			close(w.over)
		}
		if w.timer != nil {
			w.timer.Stop()
		}
		nf.mu.Unlock()
	}
}

// abandon stops the transport's filter when hashicorp/raft could not be
// started (the wrapped transport stays open: the caller owns it).
func (nf *nodeFaults) abandon() { nf.ft.once.Do(func() { close(nf.ft.done) }) }

// state returns the member's Raft role, and false before it runs.
func (nf *nodeFaults) state() (hraft.RaftState, bool) {
	r := nf.r.Load()
	if r == nil {
		return hraft.Shutdown, false
	}
	return r.State(), true
}

// beforeStore runs before entries are written to the member's log: a
// follower is about to write entries it was sent and did not have.
// A crash that returns (a test's) fails the write.
func (nf *nodeFaults) beforeStore() error {
	if nf == nil || nf.f.Test() != FailCrashAfterRecvAppendReqUpdate {
		return nil
	}
	if st, ok := nf.state(); ok && st != hraft.Leader {
		nf.f.crash(FailCrashAfterRecvAppendReqUpdate)
		return errCrashed
	}
	return nil
}

// afterStore runs after entries were written to the member's log: on a
// leader, entries it appends (client writes, its no-op on election,
// configuration changes), not yet sent to any follower.
func (nf *nodeFaults) afterStore(ls []*hraft.Log) {
	if nf == nil || len(ls) == 0 {
		return
	}
	t := nf.f.Test()
	switch t {
	case FailCrashBeforeSendAppendReq, FailCrashAfterSendAppendReq, FailTransferLeadershipAfterSendAppendReq:
	default:
		return
	}
	if st, ok := nf.state(); !ok || st != hraft.Leader {
		return
	}
	if t == FailCrashBeforeSendAppendReq {
		nf.f.crash(t)
		return
	}
	nf.arm(ls[len(ls)-1].Index, t)
}

// arm starts following the entry at index to the followers (one at a
// time: a second new entry while one is followed changes nothing).
func (nf *nodeFaults) arm(index uint64, t FailureTest) {
	w := &sendWatch{index: index, test: t, sent: map[hraft.ServerID]bool{}, over: make(chan struct{})}
	if !nf.watch.CompareAndSwap(nil, w) {
		return
	}
	nf.mu.Lock()
	w.timer = time.AfterFunc(sendGrace, func() { nf.fire(w) })
	nf.mu.Unlock()
	// The configuration is asked of hashicorp/raft's main loop, which is
	// the caller here (it is writing the entry): not on this goroutine.
	go func() {
		f := nf.r.Load().GetConfiguration()
		if f.Error() != nil {
			return // shutting down; the grace timer ends the watch
		}
		peers := map[hraft.ServerID]bool{}
		for _, s := range f.Configuration().Servers {
			if s.ID != nf.id {
				peers[s.ID] = true
			}
		}
		nf.mu.Lock()
		w.peers = peers
		all := nf.allSent(w)
		nf.mu.Unlock()
		if all {
			nf.fire(w)
		}
	}()
}

// allSent reports whether every follower was sent the watched entry
// (nf.mu held).
func (nf *nodeFaults) allSent(w *sendWatch) bool {
	if w.peers == nil {
		return false
	}
	for id := range w.peers {
		if !w.sent[id] {
			return false
		}
	}
	return true
}

// sent records that follower id was sent the entries up to last.
func (nf *nodeFaults) sent(id hraft.ServerID, last uint64) {
	w := nf.watch.Load()
	if w == nil || last < w.index {
		return
	}
	nf.mu.Lock()
	w.sent[id] = true
	all := nf.allSent(w)
	nf.mu.Unlock()
	if all {
		nf.fire(w)
	}
}

// hold waits, when the entries sent up to last include the watched one,
// until its test has run: a follower's answer is not handed to
// hashicorp/raft before (at most sendGrace).
func (nf *nodeFaults) hold(last uint64) {
	if w := nf.watch.Load(); w != nil && last >= w.index {
		<-w.over
	}
}

// fire runs the watched test once: the followers were sent the entry (or
// the grace is over). A test cleared or replaced meanwhile does nothing.
func (nf *nodeFaults) fire(w *sendWatch) {
	nf.mu.Lock()
	if w.done {
		nf.mu.Unlock()
		return
	}
	w.done = true
	w.timer.Stop()
	nf.mu.Unlock()
	nf.watch.CompareAndSwap(w, nil)
	defer close(w.over)
	switch w.test {
	case FailCrashAfterSendAppendReq:
		if nf.f.Test() == w.test {
			nf.f.crash(w.test)
		}
	case FailTransferLeadershipAfterSendAppendReq:
		if nf.f.clearIf(w.test) {
			nf.transfer(w.test)
		}
	}
}

// transfer hands leadership over if the member leads and is not already
// doing so for a failure test; the line logged names the test (C's tests
// look for "Transferring leadership" in the log).
func (nf *nodeFaults) transfer(t FailureTest) {
	r := nf.r.Load()
	if r == nil || r.State() != hraft.Leader || !nf.transferring.CompareAndSwap(false, true) {
		return
	}
	logger().Info(fmt.Sprintf("Transferring leadership (cluster/failure-test %s)", t))
	go func() {
		defer nf.transferring.Store(false)
		if err := r.LeadershipTransfer().Error(); err != nil {
			logger().Info("leadership transfer of the failure test failed", "err", err)
		}
	}()
}

// delayFactor: with delay-election, a member asks for no (pre-)votes
// until this many election timers have passed since it last heard from a
// leader, since it started and since the test was engaged. A member
// without the delay stands for election 1/2 to 1 timer after it last heard
// from the leader and tries again every 1 to 2 timers: it has made two
// attempts within 3 timers, and the second finds the delayed member
// without a leader, so ready to grant its pre-vote. (C adds one timer to each of the delayed member's
// election timeouts; hashicorp/raft's followers refuse pre-votes while they
// still have a leader, so a member that merely waited longer would hold
// the others' first attempts back.)
const delayFactor = 4

// voteHeld reports whether a vote request (pre-vote: prevote) must not
// be sent, and why.
func (nf *nodeFaults) voteHeld(prevote, transfer bool) error {
	switch nf.f.Test() {
	case FailStopRaftRPC:
		return ErrRPCStopped
	case FailDontSendVoteRequest:
		if !prevote {
			return errVoteNotSent
		}
	case FailDelayElection:
		if transfer {
			return nil
		}
		r := nf.r.Load()
		if r == nil {
			return errVoteDelayed
		}
		base := nf.start
		for _, t := range []time.Time{r.LastContact(), nf.f.engagedAt()} {
			if t.After(base) {
				base = t
			}
		}
		if time.Since(base) < delayFactor*r.ReloadableConfig().ElectionTimeout {
			return errVoteDelayed
		}
	}
	return nil
}

var (
	errVoteNotSent = errors.New("vote request not sent (cluster/failure-test dont-send-vote-request)")
	errVoteDelayed = errors.New("election delayed (cluster/failure-test delay-election)")
)

// faultTransport is a member's transport with the failure tests' hooks.
// Received RPCs pass through filter (one channel hop), which refuses them
// while stop-raft-rpc is engaged and crashes on a snapshot for
// crash-before-sending-install-snapshot-reply.
type faultTransport struct {
	hraft.Transport
	nf   *nodeFaults
	out  chan hraft.RPC
	done chan struct{}
	once sync.Once
}

// faultTransportPreVote is a faultTransport over a transport with
// pre-vote (hashicorp/raft uses pre-vote only if the transport has it).
type faultTransportPreVote struct{ *faultTransport }

// RequestPreVote implements hraft.WithPreVote.
func (t *faultTransportPreVote) RequestPreVote(id hraft.ServerID, target hraft.ServerAddress, args *hraft.RequestPreVoteRequest,
	resp *hraft.RequestPreVoteResponse) error {
	if err := t.nf.voteHeld(true, false); err != nil {
		return err
	}
	return t.Transport.(hraft.WithPreVote).RequestPreVote(id, target, args, resp)
}

// filter passes the received RPCs on to hashicorp/raft until Close.
func (t *faultTransport) filter() {
	in := t.Transport.Consumer()
	for {
		select {
		case <-t.done:
			return
		case rpc := <-in:
			if t.refuse(rpc) {
				continue
			}
			select {
			case t.out <- rpc:
			case <-t.done:
				rpc.Respond(nil, hraft.ErrTransportShutdown)
				return
			}
		}
	}
}

// refuse answers rpc itself when a failure test says so.
func (t *faultTransport) refuse(rpc hraft.RPC) bool {
	switch t.nf.f.Test() {
	case FailStopRaftRPC:
		rpc.Respond(emptyResponse(rpc), ErrRPCStopped)
		return true
	case FailCrashBeforeSendSnapshotRep:
		if _, ok := rpc.Command.(*hraft.InstallSnapshotRequest); ok {
			t.nf.f.crash(FailCrashBeforeSendSnapshotRep)
			// Only a test's crash returns: the snapshot is refused.
			rpc.Respond(emptyResponse(rpc), errCrashed)
			return true
		}
	}
	return false
}

// emptyResponse is a response of the type rpc's command expects (some
// transports read it even with an error).
func emptyResponse(rpc hraft.RPC) any {
	switch rpc.Command.(type) {
	case *hraft.AppendEntriesRequest:
		return &hraft.AppendEntriesResponse{}
	case *hraft.RequestVoteRequest:
		return &hraft.RequestVoteResponse{}
	case *hraft.RequestPreVoteRequest:
		return &hraft.RequestPreVoteResponse{}
	case *hraft.InstallSnapshotRequest:
		return &hraft.InstallSnapshotResponse{}
	case *hraft.TimeoutNowRequest:
		return &hraft.TimeoutNowResponse{}
	}
	return nil
}

// Consumer implements hraft.Transport.
func (t *faultTransport) Consumer() <-chan hraft.RPC { return t.out }

// SetHeartbeatHandler implements hraft.Transport: heartbeats are refused
// while stop-raft-rpc is engaged.
func (t *faultTransport) SetHeartbeatHandler(cb func(rpc hraft.RPC)) {
	if cb == nil {
		t.Transport.SetHeartbeatHandler(nil)
		return
	}
	t.Transport.SetHeartbeatHandler(func(rpc hraft.RPC) {
		if t.nf.f.stopped() {
			rpc.Respond(emptyResponse(rpc), ErrRPCStopped)
			return
		}
		cb(rpc)
	})
}

// AppendEntries implements hraft.Transport.
func (t *faultTransport) AppendEntries(id hraft.ServerID, target hraft.ServerAddress, args *hraft.AppendEntriesRequest,
	resp *hraft.AppendEntriesResponse) error {
	if t.nf.f.stopped() {
		return ErrRPCStopped
	}
	err := t.Transport.AppendEntries(id, target, args, resp)
	if n := len(args.Entries); err == nil && n > 0 {
		last := args.Entries[n-1].Index
		t.nf.sent(id, last)
		t.nf.hold(last)
	}
	return err
}

// AppendEntriesPipeline implements hraft.Transport.
func (t *faultTransport) AppendEntriesPipeline(id hraft.ServerID, target hraft.ServerAddress) (hraft.AppendPipeline, error) {
	if t.nf.f.stopped() {
		return nil, ErrRPCStopped
	}
	p, err := t.Transport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	fp := &faultPipeline{AppendPipeline: p, nf: t.nf, id: id, out: make(chan hraft.AppendFuture), closed: make(chan struct{})}
	go fp.relay()
	return fp, nil
}

// RequestVote implements hraft.Transport.
func (t *faultTransport) RequestVote(id hraft.ServerID, target hraft.ServerAddress, args *hraft.RequestVoteRequest,
	resp *hraft.RequestVoteResponse) error {
	if err := t.nf.voteHeld(false, args.LeadershipTransfer); err != nil {
		return err
	}
	return t.Transport.RequestVote(id, target, args, resp)
}

// InstallSnapshot implements hraft.Transport.
func (t *faultTransport) InstallSnapshot(id hraft.ServerID, target hraft.ServerAddress, args *hraft.InstallSnapshotRequest,
	resp *hraft.InstallSnapshotResponse, data io.Reader) error {
	if t.nf.f.stopped() {
		return ErrRPCStopped
	}
	return t.Transport.InstallSnapshot(id, target, args, resp, data)
}

// TimeoutNow implements hraft.Transport.
func (t *faultTransport) TimeoutNow(id hraft.ServerID, target hraft.ServerAddress, args *hraft.TimeoutNowRequest,
	resp *hraft.TimeoutNowResponse) error {
	if t.nf.f.stopped() {
		return ErrRPCStopped
	}
	return t.Transport.TimeoutNow(id, target, args, resp)
}

// Close implements hraft.WithClose: it stops filter and closes the
// wrapped transport if it can be closed.
func (t *faultTransport) Close() error {
	t.once.Do(func() { close(t.done) })
	if c, ok := t.Transport.(hraft.WithClose); ok {
		return c.Close()
	}
	return nil
}

// faultPipeline is an AppendEntries pipeline with the hooks. Its answers
// pass through relay, which holds those of a watched entry (hold).
type faultPipeline struct {
	hraft.AppendPipeline
	nf     *nodeFaults
	id     hraft.ServerID
	out    chan hraft.AppendFuture
	closed chan struct{}
	once   sync.Once
}

// relay passes the pipeline's answers on until Close.
func (p *faultPipeline) relay() {
	in := p.AppendPipeline.Consumer()
	for {
		select {
		case <-p.closed:
			return
		case fut := <-in:
			if req := fut.Request(); req != nil {
				if n := len(req.Entries); n > 0 {
					p.nf.hold(req.Entries[n-1].Index)
				}
			}
			select {
			case p.out <- fut:
			case <-p.closed:
				return
			}
		}
	}
}

// Consumer implements hraft.AppendPipeline.
func (p *faultPipeline) Consumer() <-chan hraft.AppendFuture { return p.out }

// Close implements hraft.AppendPipeline.
func (p *faultPipeline) Close() error {
	p.once.Do(func() { close(p.closed) })
	return p.AppendPipeline.Close()
}

// AppendEntries implements hraft.AppendPipeline: the request has been
// written when it returns.
func (p *faultPipeline) AppendEntries(args *hraft.AppendEntriesRequest, resp *hraft.AppendEntriesResponse) (hraft.AppendFuture, error) {
	if p.nf.f.stopped() {
		return nil, ErrRPCStopped
	}
	fut, err := p.AppendPipeline.AppendEntries(args, resp)
	if n := len(args.Entries); err == nil && n > 0 {
		p.nf.sent(p.id, args.Entries[n-1].Index)
	}
	return fut, err
}

var (
	_ hraft.Transport   = (*faultTransport)(nil)
	_ hraft.WithClose   = (*faultTransport)(nil)
	_ hraft.WithPreVote = (*faultTransportPreVote)(nil)
)

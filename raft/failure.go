package raft

// Fault injection for tests of the cluster: ovs-appctl's
// cluster/failure-test. The C server's own test suite and the failover
// testbed use it to make a member crash, stall or give up leadership at one
// chosen point of the Raft protocol. What each test means here, and how it
// maps onto hashicorp/raft, is in raft/DESIGN.md ("Failure tests").

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// FailureTest is one of the faults cluster/failure-test engages.
type FailureTest int32

// The failure tests, by the names cluster/failure-test takes.
const (
	// FailNone: no fault (cluster/failure-test clear).
	FailNone FailureTest = iota
	// FailCrashBeforeSendAppendReq: a leader exits as soon as it has
	// written a new entry to its own log, before any follower is sent it.
	FailCrashBeforeSendAppendReq
	// FailCrashAfterSendAppendReq: a leader exits once its followers have
	// been sent a new entry (or a short grace after it wrote the entry).
	FailCrashAfterSendAppendReq
	// FailCrashBeforeSendExecRep: a leader exits instead of answering a
	// write forwarded by a follower.
	FailCrashBeforeSendExecRep
	// FailCrashAfterSendExecRep: a leader exits right after answering a
	// write forwarded by a follower.
	FailCrashAfterSendExecRep
	// FailCrashBeforeSendExecReq: a follower exits instead of forwarding
	// a client's write to the leader.
	FailCrashBeforeSendExecReq
	// FailCrashAfterSendExecReq: a follower exits right after forwarding
	// a client's write to the leader, before its answer.
	FailCrashAfterSendExecReq
	// FailCrashAfterRecvAppendReqUpdate: a follower exits when it is sent
	// entries it does not have, before writing them.
	FailCrashAfterRecvAppendReqUpdate
	// FailCrashBeforeSendSnapshotRep: a member exits when it is sent a
	// snapshot, before installing it or answering.
	FailCrashBeforeSendSnapshotRep
	// FailDelayElection: the member stands for election later than the
	// others, so that it does not win the next election.
	FailDelayElection
	// FailDontSendVoteRequest: the member stands for election but never
	// asks for votes.
	FailDontSendVoteRequest
	// FailStopRaftRPC: the member neither sends nor answers cluster RPCs.
	FailStopRaftRPC
	// FailTransferLeadership: a leader hands leadership over, once.
	FailTransferLeadership
	// FailTransferLeadershipAfterSendAppendReq: a leader hands leadership
	// over once its followers have been sent a new entry, once.
	FailTransferLeadershipAfterSendAppendReq
)

// failureNames are the cluster/failure-test names of the tests.
var failureNames = map[FailureTest]string{
	FailNone:                                 "clear",
	FailCrashBeforeSendAppendReq:             "crash-before-sending-append-request",
	FailCrashAfterSendAppendReq:              "crash-after-sending-append-request",
	FailCrashBeforeSendExecRep:               "crash-before-sending-execute-command-reply",
	FailCrashAfterSendExecRep:                "crash-after-sending-execute-command-reply",
	FailCrashBeforeSendExecReq:               "crash-before-sending-execute-command-request",
	FailCrashAfterSendExecReq:                "crash-after-sending-execute-command-request",
	FailCrashAfterRecvAppendReqUpdate:        "crash-after-receiving-append-request-update",
	FailCrashBeforeSendSnapshotRep:           "crash-before-sending-install-snapshot-reply",
	FailDelayElection:                        "delay-election",
	FailDontSendVoteRequest:                  "dont-send-vote-request",
	FailStopRaftRPC:                          "stop-raft-rpc",
	FailTransferLeadership:                   "transfer-leadership",
	FailTransferLeadershipAfterSendAppendReq: "transfer-leadership-after-sending-append-request",
}

// String returns the test's cluster/failure-test name ("clear" for
// FailNone).
func (t FailureTest) String() string {
	if s, ok := failureNames[t]; ok {
		return s
	}
	return fmt.Sprintf("FailureTest(%d)", int32(t))
}

// ParseFailureTest returns the test named name ("clear" is FailNone).
func ParseFailureTest(name string) (FailureTest, bool) {
	for t, s := range failureNames {
		if s == name {
			return t, true
		}
	}
	return FailNone, false
}

// The lines a crashing member writes on its standard error before it
// exits with status 1, one per crash point. They are the C server's, word
// for word: its test scripts and operators' tools may look for them.
var crashMessages = map[FailureTest]string{
	FailCrashBeforeSendAppendReq:      "Raft test: crash before sending append_request.",
	FailCrashAfterSendAppendReq:       "Raft test: crash after sending append_request.",
	FailCrashBeforeSendExecRep:        "Raft test: crash before sending execute_command_reply",
	FailCrashAfterSendExecRep:         "Raft test: crash after sending execute_command_reply.",
	FailCrashBeforeSendExecReq:        "Raft test: crash before sending execute_command_request",
	FailCrashAfterSendExecReq:         "Raft test: crash after sending execute_command_request",
	FailCrashAfterRecvAppendReqUpdate: "Raft test: crash after receiving append_request with update.",
	FailCrashBeforeSendSnapshotRep:    "Raft test: crash before sending install_snapshot_reply",
}

// errCrashed is the error of an operation that reached a crash point of a
// test whose crash function returned (Faults.SetCrash): the member carries
// on as if the message had never been sent or the write never made.
var errCrashed = errors.New("member crashed (cluster/failure-test)")

// ErrRPCStopped is the error of every cluster RPC a member sends or is sent
// while the stop-raft-rpc failure test is engaged.
var ErrRPCStopped = errors.New("cluster RPCs stopped by cluster/failure-test stop-raft-rpc")

// Faults holds the engaged failure test of the members that share it and
// what a crash does. The program has one for the whole process
// (ProcessFaults), as C has one test for all its databases; tests of this
// package give members their own (Config.Faults, Mux.SetFaults,
// Client.SetFaults).
type Faults struct {
	test    atomic.Int32
	engaged atomic.Int64 // UnixNano of the last Set

	mu      sync.Mutex
	crashFn func(msg string)
	subs    map[*nodeFaults]struct{}
}

// NewFaults returns a Faults with no test engaged whose crashes end the
// process as the default does (see SetCrash).
func NewFaults() *Faults { return &Faults{subs: map[*nodeFaults]struct{}{}} }

var processFaults = NewFaults()

// ProcessFaults returns the process-wide Faults: that of every Node, Mux
// and Client not given one of their own.
func ProcessFaults() *Faults { return processFaults }

// Test returns the engaged failure test.
func (f *Faults) Test() FailureTest { return FailureTest(f.test.Load()) }

// engagedAt returns when the last test was engaged (zero: never).
func (f *Faults) engagedAt() time.Time {
	if ns := f.engaged.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Set engages t (FailNone: clears), replacing the test engaged before, as
// cluster/failure-test does. FailTransferLeadership acts at once: every
// member sharing f that leads hands leadership over, and no test stays
// engaged (C runs it once and clears it).
func (f *Faults) Set(t FailureTest) {
	f.engaged.Store(time.Now().UnixNano())
	if t != FailTransferLeadership {
		f.test.Store(int32(t))
		return
	}
	f.test.Store(int32(FailNone))
	f.mu.Lock()
	nodes := make([]*nodeFaults, 0, len(f.subs))
	for nf := range f.subs {
		nodes = append(nodes, nf)
	}
	f.mu.Unlock()
	for _, nf := range nodes {
		nf.transfer(t)
	}
}

// clearIf clears the engaged test if it is t (a one-shot test that has
// run) and reports whether it did.
func (f *Faults) clearIf(t FailureTest) bool {
	return f.test.CompareAndSwap(int32(t), int32(FailNone))
}

// SetCrash sets what a crash does: fn is called with the crash line and
// must not return in the program (it ends the process with status 1, as the
// default does: the raft unix sockets removed, "PROGRAM: LINE" on standard
// error, exit status 1). A test may pass a function that returns: the
// member then carries on past the crash point. nil restores the default.
func (f *Faults) SetCrash(fn func(msg string)) {
	f.mu.Lock()
	f.crashFn = fn
	f.mu.Unlock()
}

// crashMu is held for ever by the first crash that ends the process, so
// that no other goroutine goes past a crash point meanwhile.
var crashMu sync.Mutex

// crash makes the member crash at the point of test t (see crashMessages).
func (f *Faults) crash(t FailureTest) {
	msg := crashMessages[t]
	f.mu.Lock()
	fn := f.crashFn
	f.mu.Unlock()
	if fn != nil {
		fn(msg)
		return
	}
	crashMu.Lock() // never unlocked: the process ends
	defaultCrash(msg)
}

// defaultCrash ends the process as the C server's crash points do
// (ovs_fatal): its raft unix sockets are removed (C removes the files of
// its listeners on exit), "PROGRAM: MSG" goes to standard error (not to
// the log file) and the process exits with status 1 (EXIT_FAILURE), which
// a --monitor process does not restart.
func defaultCrash(msg string) {
	RemoveSocketFiles()
	fmt.Fprintf(os.Stderr, "%s: %s\n", filepath.Base(os.Args[0]), msg)
	os.Exit(1)
}

// subscribe makes nf act on the one-shot tests Set runs at once.
func (f *Faults) subscribe(nf *nodeFaults) {
	f.mu.Lock()
	f.subs[nf] = struct{}{}
	f.mu.Unlock()
}

func (f *Faults) unsubscribe(nf *nodeFaults) {
	f.mu.Lock()
	delete(f.subs, nf)
	f.mu.Unlock()
}

// stopped reports whether stop-raft-rpc is engaged.
func (f *Faults) stopped() bool { return f.Test() == FailStopRaftRPC }

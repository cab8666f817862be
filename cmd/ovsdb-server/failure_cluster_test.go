package main

// cluster/failure-test between processes: the scenarios of C's
// tests/ovsdb-cluster.at that use it ("cluster failure with pending
// transaction", "competing candidates", "follower crash while joining"),
// and the other tests the failover testbed relies on, each on a 3-member
// cluster of our binary and, where C's behaviour is the reference, on one of
// C's ovsdb-server and ovsdb-tool with the same checks.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// failureImpl is the pair of binaries a scenario runs on.
type failureImpl struct {
	name, server, tool string
}

// failureImpls runs fn as a subtest on our binaries and, with fn's
// checks unchanged, on C's (skipped if they are missing; C's
// ovsdb-server and ovsdb-tool are found by testutil.RequireTool).
func failureImpls(t *testing.T, withC bool, fn func(t *testing.T, impl failureImpl)) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	ours := failureImpl{name: "ours", server: buildBinary(t), tool: buildTool(t, "../ovsdb-tool", "ovsdb-tool")}
	t.Run("ours", func(t *testing.T) { fn(t, ours) })
	if withC {
		t.Run("C", func(t *testing.T) {
			fn(t, failureImpl{name: "C", server: testutil.RequireTool(t, "ovsdb-server"), tool: testutil.RequireTool(t, "ovsdb-tool")})
		})
	}
}

// newFailureCluster starts a 3-member cluster of impl's binaries (database
// "C" with robustSchema: no index, so a transaction applied twice leaves
// two rows) and waits until every member has joined and knows the leader.
func newFailureCluster(t *testing.T, impl failureImpl) *testCluster {
	dir := t.TempDir()
	tc := &testCluster{t: t, dir: dir, server: impl.server, tool: impl.tool}
	schemaPath := filepath.Join(dir, "c.ovsschema")
	require.NoError(t, os.WriteFile(schemaPath, []byte(robustSchema), 0o644))
	tc.createMembers(3, "m", schemaPath, "C")
	tc.waitMembers(tc.members, 3)
	return tc
}

// failureTest engages test on member m (cluster/failure-test) and checks
// C's reply.
func (tc *testCluster) failureTest(m *member, test string) {
	tc.t.Helper()
	r, err := tc.appctl(m, "cluster/failure-test", test)
	require.NoError(tc.t, err, "cluster/failure-test %s on %s", test, m.db)
	want := "test engaged"
	if test == "clear" {
		want = "test dismissed"
	}
	require.Equal(tc.t, want, strings.TrimSpace(r))
}

// requireNextLeader requires that want, the follower without
// delay-election, leads the survivors ms. For C's binaries it is only
// logged: C's delayed member stands one election timer later than the
// other, a margin a loaded machine can eat (C's own tests do not check who
// leads); ours waits four timers, well past the other's two attempts.
func (tc *testCluster) requireNextLeader(impl failureImpl, ms []*member, want *member) {
	tc.t.Helper()
	got := tc.waitLeader(ms)
	if impl.name == "C" {
		if got != want {
			tc.t.Logf("C: the delayed follower %s leads", got.db)
		}
		return
	}
	require.Equal(tc.t, want.db, got.db, "the follower without delay-election leads")
}

// waitCrash waits (bounded) for member m's process to end and requires
// C's crash: exit status 1 and "ovsdb-server: LINE" on its standard error
// (the member's log file here).
func (tc *testCluster) waitCrash(m *member, line string) {
	tc.t.Helper()
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		tc.t.Fatalf("member %s did not crash\n%s", m.db, tc.diagnose())
	}
	require.Equal(tc.t, 1, m.cmd.ProcessState.ExitCode(), "exit status of %s", m.db)
	m.cmd = nil
	data, err := os.ReadFile(m.log)
	require.NoError(tc.t, err)
	require.Contains(tc.t, string(data), "ovsdb-server: "+line+"\n")
}

// others returns the members of tc other than m, in order.
func (tc *testCluster) others(m *member) []*member { return without(tc.members, m) }

// keyCount returns how many rows of member m hold key k (-1: m did not
// answer).
func keyCount(m *member, k string) int {
	got, err := keys(m)
	if err != nil {
		return -1
	}
	return got[k]
}

// waitKeys waits (bounded) until every member of ms holds each key of
// want the given number of times (0: absent).
func (tc *testCluster) waitKeys(ms []*member, want map[string]int) {
	tc.t.Helper()
	for _, m := range ms {
		tc.waitFor(fmt.Sprintf("keys %v on %s", want, filepath.Base(m.db)), 30*time.Second, func() bool {
			for k, n := range want {
				if keyCount(m, k) != n {
					return false
				}
			}
			return true
		})
	}
}

// add adds key k exactly once through the members of via (addKey: a plain
// insert, then guarded retries), bounded.
func (tc *testCluster) add(via []*member, k string) {
	tc.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := addKey(ctx, via, 0, k); err != nil {
		tc.t.Fatalf("adding %s: %v\n%s", k, err, tc.diagnose())
	}
}

// TestFailureTestPendingTransaction is C's "cluster failure with pending
// transaction" group: a member crashes at one point of a write's way
// through the cluster, and the write is done exactly once (or, if it never
// left the crashed member, not at all). As in C's tests, delay-election on
// one follower makes the other one the next leader. Each case runs on our
// binaries and on C's with the same checks: the crash line on standard
// error, exit status 1, the next leader and the rows.
func TestFailureTestPendingTransaction(t *testing.T) {
	failureImpls(t, true, func(t *testing.T, impl failureImpl) {
		// txn on the leader, leader crash before sending appendReq.
		t.Run("leader-crash-before-append-request", func(t *testing.T) {
			tc := newFailureCluster(t, impl)
			ldr := tc.waitLeader(tc.members)
			next, delayed := tc.others(ldr)[0], tc.others(ldr)[1]
			tc.failureTest(delayed, "delay-election")
			tc.add([]*member{ldr}, "init")
			tc.failureTest(ldr, "crash-before-sending-append-request")
			_ = insertErr(ldr, "lost") // the leader dies: no answer
			tc.waitCrash(ldr, "Raft test: crash before sending append_request.")
			tc.add([]*member{next, delayed}, "after")
			tc.requireNextLeader(impl, tc.others(ldr), next)
			// The entry never left the crashed leader: never committed,
			// and dropped from its log when it comes back.
			tc.waitKeys(tc.others(ldr), map[string]int{"init": 1, "after": 1, "lost": 0})
			tc.start(ldr)
			tc.waitKeys(tc.members, map[string]int{"init": 1, "after": 1, "lost": 0})
		})
		// txn on the leader (or on follower-2), follower-2 (or
		// follower-3) crash after receiving appendReq for the update.
		for _, viaLeader := range []bool{true, false} {
			name := "txn-on-leader"
			if !viaLeader {
				name = "txn-on-other-follower"
			}
			t.Run("follower-crash-after-receiving-append-request-update/"+name, func(t *testing.T) {
				tc := newFailureCluster(t, impl)
				ldr := tc.waitLeader(tc.members)
				fol, via := tc.others(ldr)[0], ldr
				if !viaLeader {
					via = tc.others(ldr)[1]
				}
				tc.add([]*member{ldr}, "init")
				tc.waitKeys(tc.members, map[string]int{"init": 1})
				tc.failureTest(fol, "crash-after-receiving-append-request-update")
				require.NoError(t, insertErr(via, "x"), "the leader and the other follower commit")
				tc.waitCrash(fol, "Raft test: crash after receiving append_request with update.")
				tc.waitKeys(tc.others(fol), map[string]int{"init": 1, "x": 1})
				tc.start(fol)
				tc.waitKeys(tc.members, map[string]int{"init": 1, "x": 1})
			})
		}
		// txn on the leader, leader crash after sending appendReq (C
		// skips it for its own client's retries; the write here is not
		// retried): the followers hold the entry and the next leader
		// commits it.
		t.Run("leader-crash-after-append-request", func(t *testing.T) {
			tc := newFailureCluster(t, impl)
			ldr := tc.waitLeader(tc.members)
			next, delayed := tc.others(ldr)[0], tc.others(ldr)[1]
			tc.failureTest(delayed, "delay-election")
			tc.add([]*member{ldr}, "init")
			tc.failureTest(ldr, "crash-after-sending-append-request")
			_ = insertErr(ldr, "x")
			tc.waitCrash(ldr, "Raft test: crash after sending append_request.")
			tc.add([]*member{next, delayed}, "after")
			tc.requireNextLeader(impl, tc.others(ldr), next)
			tc.waitKeys(tc.others(ldr), map[string]int{"init": 1, "x": 1, "after": 1})
		})
		// txn on follower-2, leader crash before or after sending execRep,
		// follower-2 becomes leader: the entry was committed before the
		// crash; the follower's transaction completes once.
		for _, tt := range []struct{ test, line string }{
			{"crash-before-sending-execute-command-reply", "Raft test: crash before sending execute_command_reply"},
			{"crash-after-sending-execute-command-reply", "Raft test: crash after sending execute_command_reply."},
		} {
			t.Run("leader-"+tt.test, func(t *testing.T) {
				tc := newFailureCluster(t, impl)
				ldr := tc.waitLeader(tc.members)
				via, delayed := tc.others(ldr)[0], tc.others(ldr)[1]
				tc.failureTest(delayed, "delay-election")
				tc.add([]*member{via}, "init")
				tc.failureTest(ldr, tt.test)
				err := insertErr(via, "x")
				tc.waitCrash(ldr, tt.line)
				if impl.name == "ours" {
					// Before the reply: the follower retries with the same
					// transaction id and the new leader answers from its
					// dedupe table.
					require.NoError(t, err, "the follower's transaction completes")
				} else if err != nil {
					t.Logf("C: the follower's transaction failed: %v", err)
				}
				tc.requireNextLeader(impl, tc.others(ldr), via)
				tc.waitKeys(tc.others(ldr), map[string]int{"init": 1, "x": 1})
				tc.start(ldr)
				tc.waitKeys(tc.members, map[string]int{"init": 1, "x": 1})
			})
		}
		// txn on follower-2, follower-2 crash before sending execReq,
		// reconnect to the leader.
		t.Run("follower-crash-before-execute-command-request", func(t *testing.T) {
			tc := newFailureCluster(t, impl)
			ldr := tc.waitLeader(tc.members)
			via := tc.others(ldr)[0]
			tc.add([]*member{ldr}, "init")
			tc.failureTest(via, "crash-before-sending-execute-command-request")
			_ = insertErr(via, "x")
			tc.waitCrash(via, "Raft test: crash before sending execute_command_request")
			require.Zero(t, keyCount(ldr, "x"), "the leader never saw the write")
			tc.add([]*member{ldr}, "x") // the client's retry elsewhere
			tc.waitKeys(tc.others(via), map[string]int{"init": 1, "x": 1})
		})
	})
}

// TestFailureTestLeadership: transfer-leadership moves the leader at
// once; transfer-leadership-after-sending-append-request at the leader's
// next write, logging "Transferring leadership" (C's test looks for it);
// both run once.
func TestFailureTestLeadership(t *testing.T) {
	failureImpls(t, true, func(t *testing.T, impl failureImpl) {
		tc := newFailureCluster(t, impl)
		ldr := tc.waitLeader(tc.members)
		tc.failureTest(ldr, "transfer-leadership")
		var next *member
		tc.waitFor("another leader", 30*time.Second, func() bool {
			next = tc.leader(tc.members)
			return next != nil && next != ldr
		})
		tc.add(tc.members, "a")

		tc.failureTest(next, "transfer-leadership-after-sending-append-request")
		tc.add([]*member{next}, "b")
		tc.waitFor("a third leader", 30*time.Second, func() bool {
			l := tc.leader(tc.members)
			return l != nil && l != next
		})
		data, err := os.ReadFile(next.log)
		require.NoError(t, err)
		require.Contains(t, string(data), "Transferring leadership")
		tc.add(tc.members, "c")
		tc.waitKeys(tc.members, map[string]int{"a": 1, "b": 1, "c": 1})
	})
}

// TestFailureTestStopRaftRPC: a follower under stop-raft-rpc falls behind
// (its reads show the state it had) while the two others commit; cleared,
// it catches up. (C's stopped follower keeps standing for election, and
// the term it reached makes the leader step down when it comes back: one
// more election, which these checks allow.)
func TestFailureTestStopRaftRPC(t *testing.T) {
	failureImpls(t, true, func(t *testing.T, impl failureImpl) {
		tc := newFailureCluster(t, impl)
		ldr := tc.waitLeader(tc.members)
		fol := tc.others(ldr)[0]
		var acked sync.Map
		tc.addKeys(tc.members, "init", 1, &acked)
		tc.waitKeys(tc.members, map[string]int{"init-0": 1})
		tc.failureTest(fol, "stop-raft-rpc")
		tc.addKeys([]*member{ldr}, "x", 5, &acked)
		got, err := keys(fol)
		require.NoError(t, err, "the stopped member serves reads")
		require.Equal(t, map[string]int{"init-0": 1}, got, "the stopped member fell behind")
		tc.failureTest(fol, "clear")
		tc.requireExactlyOnce(tc.members, &acked)
		tc.waitMembers(tc.members, 3)
	})
}

// TestFailureTestCompetingCandidates is C's "competing candidates": s2
// sends no vote requests, s3 and the restarted s1 delay their elections;
// after s1 (the leader) is killed and restarted the cluster settles on one
// leader with no candidate left, and s2 is not it.
func TestFailureTestCompetingCandidates(t *testing.T) {
	failureImpls(t, true, func(t *testing.T, impl failureImpl) {
		tc := newFailureCluster(t, impl)
		s1 := tc.waitLeader(tc.members)
		s2, s3 := tc.others(s1)[0], tc.others(s1)[1]
		tc.failureTest(s2, "dont-send-vote-request")
		tc.failureTest(s3, "delay-election")
		tc.kill(s1)
		tc.start(s1)
		tc.waitFor("s1 answers", 30*time.Second, func() bool { _, err := tc.appctl(s1, "cluster/sid", "C"); return err == nil })
		tc.failureTest(s1, "delay-election")
		var ldr *member
		tc.waitFor("one leader, no candidate", 60*time.Second, func() bool {
			leaders := 0
			for _, m := range tc.members {
				switch tc.role(m) {
				case "leader":
					leaders++
					ldr = m
				case "follower":
				default:
					return false
				}
			}
			return leaders == 1
		})
		require.NotEqual(t, s2, ldr, "the member that sends no vote requests leads")
		for _, m := range tc.members {
			tc.failureTest(m, "clear")
		}
		tc.add(tc.members, "k")
		tc.waitKeys(tc.members, map[string]int{"k": 1})
	})
}

// TestFailureTestFollowerCrashWhileJoining is C's "follower crash while
// joining": a member joining the cluster crashes when the leader sends it
// the database (crash-before-sending-install-snapshot-reply); restarted,
// it joins. To engage the test before the leader sends the snapshot, the
// joiner is started while the cluster has no leader (m0 is killed; our
// joining member needs an answer from a member to start, so m1 is up), and
// m0 is restarted once the test is engaged.
func TestFailureTestFollowerCrashWhileJoining(t *testing.T) {
	failureImpls(t, true, func(t *testing.T, impl failureImpl) {
		dir := t.TempDir()
		tc := &testCluster{t: t, dir: dir, server: impl.server, tool: impl.tool, dbName: "C"}
		schemaPath := filepath.Join(dir, "c.ovsschema")
		require.NoError(t, os.WriteFile(schemaPath, []byte(robustSchema), 0o644))
		var addrs []string
		for i := 0; i < 3; i++ {
			addrs = append(addrs, freeAddr(t))
			name := func(ext string) string { return filepath.Join(dir, fmt.Sprintf("m%d.%s", i, ext)) }
			tc.members = append(tc.members, &member{addr: addrs[i], db: name("db"), sock: name("sock"), ctl: name("ctl"), log: name("log")})
		}
		t.Cleanup(func() {
			for _, m := range tc.members {
				tc.kill(m)
			}
		})
		tc.watchdog()
		m0, m1, m2 := tc.members[0], tc.members[1], tc.members[2]
		tool := func(args ...string) {
			out, err := exec.Command(tc.tool, args...).CombinedOutput()
			require.NoError(t, err, string(out))
		}
		tool("create-cluster", m0.db, schemaPath, addrs[0])
		tool("join-cluster", m1.db, "C", addrs[1], addrs[0])
		tool("join-cluster", m2.db, "C", addrs[2], addrs[0], addrs[1])
		tc.start(m0)
		tc.start(m1)
		tc.waitMembers([]*member{m0, m1}, 2)
		tc.add([]*member{m0, m1}, "before")
		tc.kill(m0)
		tc.start(m2)
		tc.waitFor("m2 answers", 60*time.Second, func() bool { _, err := tc.appctl(m2, "cluster/sid", "C"); return err == nil })
		tc.failureTest(m2, "crash-before-sending-install-snapshot-reply")
		tc.start(m0)
		tc.waitCrash(m2, "Raft test: crash before sending install_snapshot_reply")
		tc.start(m2)
		tc.waitMembers(tc.members, 3)
		tc.waitKeys(tc.members, map[string]int{"before": 1})
	})
}

// TestFailureTestBacklogThreshold: cluster/set-backlog-threshold checks
// its arguments as C and replies nothing; cluster/failure-test refuses an
// unknown scenario. Ours only (the argument checks are compared with C's in
// control_test.go).
func TestFailureTestBacklogThreshold(t *testing.T) {
	failureImpls(t, false, func(t *testing.T, impl failureImpl) {
		tc := newFailureCluster(t, impl)
		m := tc.members[0]
		r, err := tc.appctl(m, "cluster/set-backlog-threshold", "C", "100", "1000000")
		require.NoError(t, err)
		require.Empty(t, r)
		_, err = tc.appctl(m, "cluster/set-backlog-threshold", "C", "10", "1000000")
		require.EqualError(t, err, "values out of range")
		_, err = tc.appctl(m, "cluster/failure-test", "crash-everywhere")
		require.EqualError(t, err, "unknown test scenario")
		tc.failureTest(m, "clear")
	})
}

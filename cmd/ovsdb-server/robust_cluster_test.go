package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// robustSchema has no index on k: duplicates are possible in the data,
// so the exactly-once checks below can fail if a transaction is applied
// twice.
const robustSchema = `{"name":"C","version":"1.0.0","tables":{"T":{"columns":{"k":{"type":"string"}}}}}`

// addKey inserts key k exactly once, trying the members of via in turn
// from via[start%len(via)]. The first attempt is a plain insert, so a
// member applying it twice would leave two rows. A retry (the reply was
// lost or the member died) is guarded, as in C's torture test: a "wait"
// that no row has key k, with timeout 0, before the insert. If the guard
// fails, an earlier attempt was committed and the key counts as added.
func addKey(ctx context.Context, via []*member, start int, k string) error {
	insertOp := map[string]any{"op": "insert", "table": "T", "row": map[string]any{"k": k}}
	guard := map[string]any{"op": "wait", "table": "T", "where": []any{[]any{"k", "==", k}},
		"columns": []any{"k"}, "until": "==", "rows": []any{}, "timeout": 0}
	var last string
	for try := 0; ; try++ {
		if ctx.Err() != nil {
			return fmt.Errorf("key %s not acknowledged: %s", k, last)
		}
		m := via[(start+try)%len(via)]
		ops := []any{insertOp}
		if try > 0 {
			ops = []any{guard, insertOp}
		}
		tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		r, err := call(tctx, m.sock, "transact", append([]any{"C"}, ops...)...)
		cancel()
		res, _ := r.([]any)
		switch {
		case err != nil:
			last = err.Error()
		case len(res) == 0:
			last = fmt.Sprintf("bad reply %v", r)
		default:
			first, _ := res[0].(map[string]any)
			lastRes, _ := res[len(res)-1].(map[string]any)
			if try > 0 && first["error"] == "timed out" {
				return nil // committed by an earlier attempt
			}
			if len(res) == len(ops) && lastRes["uuid"] != nil && first["error"] == nil {
				return nil
			}
			last = fmt.Sprintf("reply %v", r)
		}
		last = fmt.Sprintf("try %d through %s: %s", try, filepath.Base(m.db), last)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// addKeys adds prefix-0 .. prefix-(n-1) through via, recording each
// acknowledged key in acked; it fails with the members' states after 60 s.
func (tc *testCluster) addKeys(via []*member, prefix string, n int, acked *sync.Map) {
	t := tc.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("%s-%d", prefix, i)
		if err := addKey(ctx, via, i, k); err != nil {
			t.Fatalf("adding %s keys (60 s): %v\n%s", prefix, err, tc.diagnose())
		}
		acked.Store(k, true)
	}
}

// requireExactlyOnce waits (bounded) until every member holds exactly the
// acknowledged keys, each in exactly one row.
func (tc *testCluster) requireExactlyOnce(members []*member, acked *sync.Map) {
	t := tc.t
	t.Helper()
	want := map[string]int{}
	acked.Range(func(k, _ any) bool { want[k.(string)] = 1; return true })
	for _, m := range members {
		var got map[string]int
		deadline := time.Now().Add(30 * time.Second)
		for {
			var err error
			got, err = keys(m)
			if err == nil && len(got) == len(want) {
				break
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !assert.Equal(t, want, got, "keys on %s after 30 s", m.db) {
			t.Fatal(tc.diagnose())
		}
	}
}

// waitMembers waits until every member in ms reports itself a cluster
// member of an n-server configuration that knows its leader.
func (tc *testCluster) waitMembers(ms []*member, n int) {
	tc.t.Helper()
	tc.waitFor(fmt.Sprintf("%d members in an %d-server cluster with a leader", len(ms), n), 60*time.Second, func() bool {
		for _, m := range ms {
			s, err := tc.appctl(m, "cluster/status", "C")
			if err != nil || !strings.Contains(s, "Status: cluster member") || strings.Count(s, " at tcp:") != n ||
				strings.Contains(s, "Leader: unknown") {
				return false
			}
		}
		return true
	})
}

func (tc *testCluster) waitLeader(ms []*member) *member {
	tc.t.Helper()
	var ldr *member
	tc.waitFor("a leader", 30*time.Second, func() bool { ldr = tc.leader(ms); return ldr != nil })
	return ldr
}

// stop ends the member cleanly with SIGTERM (leadership transfer) and
// waits for it; it falls back to SIGKILL after a bounded wait.
func (tc *testCluster) stop(m *member) {
	tc.t.Helper()
	require.NoError(tc.t, m.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-m.done:
		m.cmd = nil
	case <-time.After(15 * time.Second):
		tc.t.Errorf("member %s ignored SIGTERM", m.db)
		tc.kill(m)
	}
}

func without(ms []*member, drop ...*member) []*member {
	var out []*member
	for _, m := range ms {
		keep := true
		for _, d := range drop {
			keep = keep && m != d
		}
		if keep {
			out = append(out, m)
		}
	}
	return out
}

// TestClusterScenarios runs issue 4's robustness scenarios on a 3- and a
// 5-member cluster made by our ovsdb-tool: leader kill -9 and restart,
// follower kills, a rolling restart, kill -9 of every member and a full
// restart, and kick + re-add of a member. After each, every acknowledged
// transaction must be on every member, exactly once.
func TestClusterScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("members=%d", n), func(t *testing.T) {
			tc := newTestClusterSchema(t, n, "C", robustSchema)
			all := tc.members
			tc.waitMembers(all, n)
			var acked sync.Map

			// Concurrent writes through every member.
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i, m := range all {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					defer cancel()
					for j := 0; j < 10; j++ {
						k := fmt.Sprintf("w%d-%d", i, j)
						if err := addKey(ctx, []*member{m}, 0, k); err != nil {
							errs <- err
							return
						}
						acked.Store(k, true)
					}
				}()
			}
			wg.Wait() // bounded: addKey gives up at its context's 60 s
			close(errs)
			for err := range errs {
				t.Fatalf("concurrent writes: %v\n%s", err, tc.diagnose())
			}
			tc.requireExactlyOnce(all, &acked)

			// Leader kill -9: the others elect a leader and take writes.
			ldr := tc.waitLeader(all)
			tc.kill(ldr)
			tc.addKeys(without(all, ldr), "leader-kill", 10, &acked)
			tc.start(ldr)
			tc.waitMembers(all, n)
			tc.addKeys(all, "leader-restart", 10, &acked)
			tc.requireExactlyOnce(all, &acked)

			// Follower kills: as many as the majority allows.
			ldr = tc.waitLeader(all)
			fols := without(all, ldr)[:(n-1)/2]
			for _, f := range fols {
				tc.kill(f)
			}
			tc.addKeys(without(all, fols...), "follower-kill", 10, &acked)
			for _, f := range fols {
				tc.start(f)
			}
			tc.waitMembers(all, n)
			tc.requireExactlyOnce(all, &acked)

			// Rolling restart (SIGTERM, restart, rejoin) of every member,
			// with writes through the others while each one is down.
			for i, m := range all {
				tc.stop(m)
				tc.addKeys(without(all, m), fmt.Sprintf("rolling-%d", i), 5, &acked)
				tc.start(m)
				tc.waitMembers(all, n)
			}
			tc.requireExactlyOnce(all, &acked)

			// kill -9 of every member, then a full restart.
			for _, m := range all {
				tc.kill(m)
			}
			for _, m := range all {
				tc.start(m)
			}
			tc.waitMembers(all, n)
			tc.requireExactlyOnce(all, &acked)
			tc.addKeys(all, "full-restart", 10, &acked)

			// Kick a follower, re-add a member at its address with a
			// fresh join-cluster file (a kicked server id cannot rejoin).
			ldr = tc.waitLeader(all)
			victim := without(all, ldr)[0]
			vsid, err := tc.appctl(victim, "cluster/sid", "C")
			require.NoError(t, err)
			r, err := tc.appctl(ldr, "cluster/kick", "C", strings.TrimSpace(vsid))
			require.NoError(t, err)
			require.Equal(t, "started removal\n", r)
			rest := without(all, victim)
			tc.waitMembers(rest, n-1)
			tc.kill(victim)
			tc.addKeys(rest, "after-kick", 10, &acked)
			tc.requireExactlyOnce(rest, &acked)

			require.NoError(t, os.Remove(victim.db))
			out, err := exec.Command(tc.tool, "join-cluster", victim.db, "C", victim.addr, ldr.addr).CombinedOutput()
			require.NoError(t, err, string(out))
			tc.start(victim)
			tc.waitMembers(all, n)
			nsid, err := tc.appctl(victim, "cluster/sid", "C")
			require.NoError(t, err)
			require.NotEqual(t, vsid, nsid)
			tc.addKeys(all, "after-readd", 10, &acked)
			tc.requireExactlyOnce(all, &acked)

			total := 0
			acked.Range(func(_, _ any) bool { total++; return true })
			require.Equal(t, n*10+10+10+10+n*5+10+10+10, total)
		})
	}
}

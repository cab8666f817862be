package main

import (
	"net"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// firstRead polls m's client socket until the restarted server accepts a
// connection, then reads table T at once: the first answer a client gets.
func (tc *testCluster) firstRead(m *member) map[string]int {
	t := tc.t
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("unix", m.sock)
		if err == nil {
			c.Close()
			got, err := keys(m)
			if err == nil {
				return got
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no answer after restart (30 s): %v\n%s", m.db, err, tc.diagnose())
		}
		time.Sleep(time.Millisecond)
	}
}

func rowKeyList(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k, n := range m {
		for i := 0; i < n; i++ {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// TestClusterRestartServesAppliedState (issue 8): a member restarted
// after kill -9 never serves an older state than it served before the
// kill: its first read answer holds every row it had. Two cases: a
// follower restarted while the others run (the race C wins: our member
// used to answer from its snapshot, 0 rows, until the leader reached it),
// and the same member restarted alone after all three were killed (it
// cannot hear from a leader at all). Alone, its _Server.Database row says
// connected=false (C: no leader since it started); once the others are
// back it turns true.
func TestClusterRestartServesAppliedState(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	tc := newTestCluster(t, 3)
	all := tc.members
	tc.waitMembers(all, 3)
	var acked sync.Map
	tc.writeAll(all, "r", 50, &acked)
	var want []string
	acked.Range(func(k, _ any) bool { want = append(want, k.(string)); return true })
	sort.Strings(want)

	ldr := tc.waitLeader(all)
	fol := without(all, ldr)[0]
	tc.waitFor("the follower serves every row", 20*time.Second, func() bool {
		got, err := keys(fol)
		return err == nil && len(got) == len(want)
	})
	served, err := keys(fol)
	require.NoError(t, err)
	require.Equal(t, want, rowKeyList(served))

	// 1. Follower kill -9 and restart, the others running.
	tc.kill(fol)
	tc.start(fol)
	first := tc.firstRead(fol)
	if len(first) != len(want) {
		b, _ := os.ReadFile(fol.log)
		t.Logf("log of %s:\n%s", fol.db, b)
		ents, _ := os.ReadDir(tc.dir)
		for _, e := range ents {
			t.Log(e.Name())
		}
	}
	require.Equal(t, want, rowKeyList(first), "first read after restart (others running)")
	tc.waitMembers(all, 3)

	// 2. kill -9 of every member; the follower restarts alone.
	for _, m := range all {
		tc.kill(m)
	}
	tc.start(fol)
	require.Equal(t, want, rowKeyList(tc.firstRead(fol)), "first read after restart (alone)")
	row := serverRow(t, fol)
	require.NotNil(t, row)
	require.Equal(t, false, row["connected"], "no leader heard since the restart: %v", row)
	require.Equal(t, false, row["leader"], "%v", row)

	// The others come back: connected, and the cluster takes writes.
	for _, m := range without(all, fol) {
		tc.start(m)
	}
	tc.waitMembers(all, 3)
	tc.waitFor("restarted member connected", 20*time.Second, func() bool {
		r := serverRow(t, fol)
		return r != nil && r["connected"] == true
	})
	tc.writeAll(all, "after", 5, &acked)
	tc.waitFor("every row on the restarted member", 20*time.Second, func() bool {
		got, err := keys(fol)
		return err == nil && len(got) == 55
	})
	got, err := keys(fol)
	require.NoError(t, err)
	for k, n := range got {
		require.Equal(t, 1, n, "key %s", k)
	}
}

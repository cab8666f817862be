package main

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// logContains reports whether member m's log file contains s.
func logContains(m *member, s string) bool {
	b, err := os.ReadFile(m.log)
	return err == nil && strings.Contains(string(b), s)
}

// TestClusterFreshMemberAtWipedAddress (issue 8): a member whose disk was
// wiped comes back with a fresh join-cluster file (a new server id) at its
// old address. The leader still has the old id at that address; the fresh
// member must refuse the Raft RPCs meant for the old id (a log line on
// both sides), store nothing, vote for nobody, and wait, joining (admitting
// it in place of the old member is not done). So the cluster counts the
// old member as missing: with the third member killed too, the leader has
// no quorum and steps down (before, the fresh member acknowledged entries
// and votes as the old one, and the leader kept leading with it).
func TestClusterFreshMemberAtWipedAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	tc := newTestCluster(t, 3)
	all := tc.members
	tc.waitMembers(all, 3)
	var acked sync.Map
	tc.writeAll(all, "before", 10, &acked)

	ldr := tc.waitLeader(all)
	victim, other := without(all, ldr)[0], without(all, ldr)[1]
	oldSID, err := tc.appctl(victim, "cluster/sid", "C")
	require.NoError(t, err)
	oldSID = strings.TrimSpace(oldSID)

	// Wipe: kill -9, remove the database, make a fresh one at the same
	// address and start it.
	tc.kill(victim)
	require.NoError(t, os.Remove(victim.db))
	out, err := exec.Command(tc.tool, "join-cluster", victim.db, "C", victim.addr, ldr.addr).CombinedOutput()
	require.NoError(t, err, string(out))
	require.NoError(t, os.Truncate(victim.log, 0))
	tc.start(victim)
	newSID := ""
	tc.waitFor("the fresh member answers", 20*time.Second, func() bool {
		s, err := tc.appctl(victim, "cluster/sid", "C")
		newSID = strings.TrimSpace(s)
		return err == nil
	})
	require.NotEqual(t, oldSID, newSID)

	// The leader's RPCs for the old id are refused, and both sides say so.
	tc.waitFor("the fresh member logs a refusal", 20*time.Second, func() bool {
		return logContains(victim, "refused Raft connection") && logContains(victim, "meant for server "+oldSID[:4])
	})
	tc.waitFor("the leader logs the refusal", 20*time.Second, func() bool {
		return logContains(ldr, "member refuses Raft RPCs for server "+oldSID[:4])
	})

	// 1 of 3 left when the other follower dies: the leader steps down.
	tc.kill(other)
	tc.waitFor("the leader steps down without a quorum", 30*time.Second, func() bool {
		r := tc.role(ldr)
		return r != "" && r != "leader"
	})

	// The fresh member stored nothing, voted for nobody, and still waits.
	s, err := tc.appctl(victim, "cluster/status", "C")
	require.NoError(t, err)
	if !strings.Contains(s, "Status: joining cluster") || !strings.Contains(s, "Term: 0\n") || !strings.Contains(s, "Log: [1, 1]\n") {
		t.Fatalf("the fresh member (%s) should be joining, at term 0 with an empty log:\n%s\nits log:\n%s\n%s",
			strings.TrimSpace(newSID), s, logTail(victim.log, 60), tc.diagnose())
	}
	got, err := keys(victim)
	require.NoError(t, err)
	require.Empty(t, got)

	// The other member back: 2 of 3, writes go through; the fresh member
	// keeps waiting, empty.
	tc.start(other)
	tc.waitMembers([]*member{ldr, other}, 3)
	tc.writeAll([]*member{ldr, other}, "after", 5, &acked)
	s, err = tc.appctl(victim, "cluster/status", "C")
	require.NoError(t, err)
	if !strings.Contains(s, "Status: joining cluster") || !strings.Contains(s, "Log: [1, 1]\n") {
		t.Fatalf("the fresh member (%s) should still be joining with an empty log:\n%s\nits log:\n%s\n%s",
			strings.TrimSpace(newSID), s, logTail(victim.log, 60), tc.diagnose())
	}
	got, err = keys(victim)
	require.NoError(t, err)
	require.Empty(t, got)
}

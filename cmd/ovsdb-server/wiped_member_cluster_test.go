package main

import (
	"fmt"
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

// TestClusterFreshMemberAtWipedAddress (issues 8 and 13): a member whose
// disk was wiped comes back with a fresh join-cluster file (a new server
// id) at its old address. The fresh member refuses the Raft RPCs meant
// for the old id (issue 8; raft's TestRaftConnectionNamesTarget and
// TestFreshMemberAtWipedAddressRefused); once the old id has not answered
// the leader for two election timers, the leader replaces it with the new
// id (issue 13): the rejoined member is a member again, on the leader's
// cluster/status and its own, with its new id, the old id gone, and holds
// every write acknowledged before, without any cluster/kick.
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
	victim := without(all, ldr)[0]
	others := without(all, victim)
	oldSID, err := tc.appctl(victim, "cluster/sid", "C")
	require.NoError(t, err)
	oldSID = strings.TrimSpace(oldSID)

	// Wipe: kill -9, remove the database, make a fresh one at the same
	// address and start it.
	tc.kill(victim)
	require.NoError(t, os.Remove(victim.db))
	out, err := exec.Command(tc.tool, "join-cluster", victim.db, "C", victim.addr, others[0].addr, others[1].addr).CombinedOutput()
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

	// Back as a member with its new id, on itself and on the leader; the
	// old id gone from both (nicknames: the first 4 characters).
	oldNick, newNick := oldSID[:4], newSID[:4]
	newLine := fmt.Sprintf("    %s (%s at %s)", newNick, newNick, victim.addr)
	tc.waitMembers(all, 3)
	tc.waitFor("the rejoined member is a voter on the leader and on itself", 60*time.Second, func() bool {
		l := tc.leader(all)
		if l == nil {
			return false
		}
		for _, m := range []*member{l, victim} {
			s, err := tc.appctl(m, "cluster/status", "C")
			if err != nil || !strings.Contains(s, newLine) || strings.Contains(s, "(catchup)") {
				return false
			}
			servers := s[strings.Index(s, "Servers:"):]
			if oldNick != newNick && strings.Contains(servers, oldNick+" at ") {
				return false
			}
		}
		return true
	})
	s, err := tc.appctl(victim, "cluster/status", "C")
	require.NoError(t, err)
	require.Contains(t, s, fmt.Sprintf("Server ID: %s (%s)\n", newNick, newSID))
	require.Contains(t, s, "Status: cluster member\n")

	// The leader of the moment said it replaced the old id.
	tc.waitFor("a log line of the replacement", 10*time.Second, func() bool {
		for _, m := range others {
			if logContains(m, fmt.Sprintf("replacing server %s at %s, which has not answered for ", oldSID, victim.addr)) &&
				logContains(m, "with new server "+newSID) {
				return true
			}
		}
		return false
	})

	// Every write acknowledged before, read on the rejoined member once
	// it has caught up; and new writes through every member.
	want := func() []string {
		var ks []string
		acked.Range(func(k, _ any) bool { ks = append(ks, k.(string)); return true })
		return ks
	}
	hasAll := func(m *member) bool {
		got, err := keys(m)
		if err != nil {
			return false
		}
		for _, k := range want() {
			if got[k] != 1 {
				return false
			}
		}
		return true
	}
	tc.waitFor("the rejoined member holds every acknowledged write", 30*time.Second, func() bool { return hasAll(victim) })
	tc.writeAll(all, "after", 5, &acked)
	tc.waitFor("every member holds every acknowledged write", 30*time.Second, func() bool {
		return hasAll(victim) && hasAll(others[0]) && hasAll(others[1])
	})
}

package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRecoverCluster (issue 13, scope 2): two of three members are lost
// (kill -9), the survivor cannot write; it is stopped and its file
// recovered with "ovsdb-tool --force cluster-recover" (refused without
// --force); started again it leads alone and accepts writes, a new member
// made with join-cluster joins it, and every write acknowledged before the
// loss is on both.
func TestRecoverCluster(t *testing.T) {
	recoverScenario(t, func(tc *testCluster, survivor *member) {
		tc.kill(survivor)
		out, err := exec.Command(tc.tool, "cluster-recover", survivor.db).CombinedOutput()
		require.Error(t, err, "cluster-recover without --force: %s", out)
		require.Equal(t, 1, err.(*exec.ExitError).ExitCode())
		require.Contains(t, string(out), "--force")
		out, err = exec.Command(tc.tool, "--force", "cluster-recover", survivor.db).CombinedOutput()
		require.NoError(t, err, string(out))
		tc.start(survivor)
	})
}

// TestRecoverClusterAppctl is TestRecoverCluster with the running
// survivor recovered by "ovs-appctl cluster/recover C --force".
func TestRecoverClusterAppctl(t *testing.T) {
	recoverScenario(t, func(tc *testCluster, survivor *member) {
		_, err := tc.appctl(survivor, "cluster/recover", "C")
		require.ErrorContains(t, err, "--force")
		out, err := tc.appctl(survivor, "cluster/recover", "C", "--force")
		require.NoError(t, err)
		require.Contains(t, out, "recovered")
	})
}

// recoverScenario runs the scenario of TestRecoverCluster with recover
// making the survivor (its Raft peers killed) a one-member cluster; the
// survivor is running when recover returns.
func recoverScenario(t *testing.T, recover func(tc *testCluster, survivor *member)) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	tc := newTestCluster(t, 3)
	all := tc.members
	tc.waitMembers(all, 3)
	var acked sync.Map
	tc.addKeys(all, "before", 30, &acked)
	// Every member holds every acknowledged write (the survivor's log is
	// what recovery keeps: raft/DESIGN.md, "Survivor recovery").
	tc.requireExactlyOnce(all, &acked)
	// A member that hears a leader is not recovered, even with --force.
	_, err := tc.appctl(all[0], "cluster/recover", "C", "--force")
	require.ErrorContains(t, err, "has a leader")

	survivor := all[0]
	tc.kill(all[1])
	tc.kill(all[2])
	tc.waitFor("the survivor to lose its leader", 30*time.Second, func() bool {
		return tc.role(survivor) != "leader"
	})
	require.Error(t, insertErr(survivor, "lost"), "a member without a majority accepted a write")

	recover(tc, survivor)
	tc.waitMembers([]*member{survivor}, 1)
	require.Equal(t, "leader", tc.role(survivor))
	tc.addKeys([]*member{survivor}, "alone", 5, &acked)

	// A new member joins the recovered cluster.
	dir := tc.dir
	nm := &member{addr: freeAddr(t), db: filepath.Join(dir, "new.db"), sock: filepath.Join(dir, "new.sock"),
		ctl: filepath.Join(dir, "new.ctl"), log: filepath.Join(dir, "new.log")}
	out, err := exec.Command(tc.tool, "join-cluster", nm.db, "C", nm.addr, survivor.addr).CombinedOutput()
	require.NoError(t, err, string(out))
	tc.members = append(tc.members, nm) // stopped by the cleanup
	tc.start(nm)
	live := []*member{survivor, nm}
	tc.waitMembers(live, 2)
	s, err := tc.appctl(survivor, "cluster/status", "C")
	require.NoError(t, err)
	require.False(t, strings.Contains(s, all[1].addr) || strings.Contains(s, all[2].addr),
		"the lost members are still in the configuration:\n%s", s)
	tc.addKeys(live, "after", 10, &acked)
	tc.requireExactlyOnce(live, &acked)
}

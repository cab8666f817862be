package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestQuorumLossWriteFails: on a member whose two peers were killed (no
// quorum), a write fails within --no-leader-write-timeout with the
// documented error (cluster/DESIGN.md, "Quorum loss") instead of hanging,
// _Server shows the database disconnected, and the write is not applied
// once the others return.
func TestQuorumLossWriteFails(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	tc := newTestCluster(t, 3)
	all := tc.members
	tc.waitMembers(all, 3)
	require.True(t, insert(all[0], "before"))

	// Restart the survivor with a short bound (by PID: ours).
	surv := all[2]
	tc.kill(surv)
	logf, err := os.OpenFile(surv.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	surv.cmd = exec.Command(tc.server, "--remote=punix:"+surv.sock, "--unixctl="+surv.ctl,
		"--no-leader-write-timeout=2000", surv.db)
	surv.cmd.Stdout, surv.cmd.Stderr = logf, logf
	require.NoError(t, surv.cmd.Start())
	surv.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}, f *os.File) {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}(surv.cmd, surv.done, logf)
	tc.waitFor("survivor back with a leader", 30*time.Second, func() bool {
		row := serverRow(t, surv)
		return row != nil && row["connected"] == true && insert(surv, "rejoined")
	})

	tc.kill(all[0])
	tc.kill(all[1])
	tc.waitFor("survivor disconnected in _Server", 30*time.Second, func() bool {
		row := serverRow(t, surv)
		return row != nil && row["connected"] == false
	})

	st, err := tc.appctl(surv, "cluster/status", "C")
	require.NoError(t, err)
	require.Contains(t, st, "Leader: unknown")
	// cluster/status says why: the two members that do not answer.
	tc.waitFor("cluster/status names the unreachable members", 30*time.Second, func() bool {
		st, err = tc.appctl(surv, "cluster/status", "C")
		return err == nil && strings.Contains(st, "Unreachable: ") &&
			strings.Contains(st, " at "+all[0].addr+" (") && strings.Contains(st, " at "+all[1].addr+" (")
	})
	require.Contains(t, st, "connection refused", "why they are unreachable:\n%s", st)
	t.Logf("survivor's cluster/status:\n%s", st)

	start := time.Now()
	err = insertErr(surv, "lost") // its context: 15 s
	elapsed := time.Since(start)
	require.Error(t, err)
	require.Contains(t, err.Error(), "ovsdb error")
	require.Contains(t, err.Error(), "cluster has no leader (no quorum)")
	require.Less(t, elapsed, 14*time.Second, "the write must fail within the bound, not at the client's timeout")
	t.Logf("after %v: %v", elapsed, err)

	// The others return; the failed write is never applied.
	tc.start(all[0])
	tc.start(all[1])
	tc.waitFor("a write commits again", 60*time.Second, func() bool { return insert(surv, "after") })
	for _, m := range all {
		tc.waitFor("member has the later write", 30*time.Second, func() bool {
			k, err := keys(m)
			return err == nil && k["after"] == 1
		})
		k, err := keys(m)
		require.NoError(t, err)
		require.Zero(t, k["lost"], "the failed write was applied on %s", m.db)
		require.Equal(t, 1, k["before"])
	}
}

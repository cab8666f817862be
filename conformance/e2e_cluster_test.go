package conformance

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// TestE2EClusterOVN is the OVN acceptance test of clustering: NB and SB each
// served by a 3-member Raft cluster of our binaries (ovsdb-tool
// create-cluster / join-cluster, one ovsdb-server per member), the real
// ovn-northd and ovn-nbctl / ovn-sbctl given the comma-separated member
// sockets (C clients in their default leader-only mode find the leader
// through _Server), and the Python IDL on the NB cluster. After the ovn-nbctl
// script, `ovn-nbctl --wait=sb sync` must return and logical flows must be in
// SB. Then the NB leader and the SB leader are killed with SIGKILL: a new
// leader must be elected in each, ovn-nbctl writes must succeed through the
// survivors, ovn-northd must propagate them (sync returns again, new flows
// appear) and the Python IDL must reconnect to the new leader, see the
// changes and commit its own. With CONFORMANCE_IMPL=c the same runs on C
// clusters, which validates the test itself.
func TestE2EClusterOVN(t *testing.T) {
	t.Parallel()
	server, tool := clusterTools(t)
	requirePythonIDL(t)
	nb := startOVNCluster(t, server, tool, "nb", 3)
	sb := startOVNCluster(t, server, tool, "sb", 3)
	rundir := t.TempDir()
	nbctl := &ovnCtl{bin: testutil.RequireTool(t, "ovn-nbctl"), db: nb.remotes(), rundir: rundir}
	sbctl := &ovnCtl{bin: testutil.RequireTool(t, "ovn-sbctl"), db: sb.remotes(), rundir: rundir}
	sb.ctlRun(sbctl, "init")
	nd := startNorthdRemotes(t, nb.remotes(), sb.remotes())

	for _, args := range ovnScript {
		nb.ctlRun(nbctl, args...)
	}
	sync := func(step string) {
		t.Helper()
		_, errOut, err := nbctl.exec("--wait=sb", "sync")
		require.NoError(t, err, "%s: ovn-nbctl --wait=sb sync: %s\nnorthd log:\n%s\n%s\n%s",
			step, errOut, nd.logTail(), nb.diagnose(), sb.diagnose())
	}
	sync("after script")
	require.Equal(t, "Status: active\n", nd.status(t), "ovn-northd holds the SB lock")
	flows := logicalFlows(t, sbctl)
	for _, s := range []string{"30.0.0.10", "tcp.dst == 22", "ip4.src == 10.0.0.12 && udp", "50:54:00:00:00:02"} {
		require.Contains(t, flows, s, "logical flows lack %q", s)
	}
	require.Contains(t, nb.ctlRun(nbctl, "show"), "(lr0)")

	// The Python IDL follows the NB cluster.
	idl := startIDLClient(t, nb.remotes(), rundir)
	require.Equal(t, "seen sw0", idl.do("wait sw0"))
	nb.ctlRun(nbctl, "ls-add", "before-kill")
	require.Equal(t, "seen before-kill", idl.do("wait before-kill"))
	require.Equal(t, "insert py-before: success", idl.do("insert py-before"))

	// kill -9 of both leaders.
	nbLeader := nb.waitLeader(nb.members)
	sbLeader := sb.waitLeader(sb.members)
	nb.kill(nbLeader)
	sb.kill(sbLeader)
	newNB := nb.waitLeader(nb.live())
	newSB := sb.waitLeader(sb.live())
	require.NotSame(t, nbLeader, newNB)
	require.NotSame(t, sbLeader, newSB)

	// ovn-nbctl writes go through the survivors; northd propagates them.
	nb.ctlRun(nbctl, "ls-add", "sw-after")
	nb.ctlRun(nbctl, "lsp-add", "sw-after", "sw-after-p1")
	nb.ctlRun(nbctl, "lsp-set-addresses", "sw-after-p1", "50:54:00:00:09:01 10.0.9.11")
	nb.ctlRun(nbctl, "lsp-set-port-security", "sw-after-p1", "50:54:00:00:09:01 10.0.9.11")
	nb.ctlRun(nbctl, "acl-add", "sw-after", "from-lport", "1003", "ip4.src == 10.0.9.11 && tcp.dst == 8080", "drop")
	nb.ctlRun(nbctl, "lrp-add", "lr0", "lr0-sw-after", "00:00:00:00:ff:09", "10.0.9.1/24")
	sync("after leader kill")
	require.Equal(t, "Status: active\n", nd.status(t), "ovn-northd holds the SB lock after the SB leader kill")
	after := logicalFlows(t, sbctl)
	for _, s := range []string{"ip4.src == 10.0.9.11 && tcp.dst == 8080", "50:54:00:00:09:01", "10.0.9.1"} {
		require.NotContains(t, flows, s, "flow %q existed before the kill", s)
		require.Contains(t, after, s, "logical flows after the leader kill lack %q", s)
	}
	require.Greater(t, len(strings.Split(after, "\n")), len(strings.Split(flows, "\n")), "new datapath adds flows")
	require.Contains(t, sb.ctlRun(sbctl, "--bare", "--columns=logical_port", "list", "Port_Binding"), "sw-after-p1")

	// The Python IDL reconnected to the new leader, sees the changes and
	// commits.
	require.Equal(t, "seen sw-after", idl.do("wait sw-after"))
	require.Equal(t, "remote unix:"+newNB.sock, idl.do("remote"))
	require.Equal(t, "insert py-after: success", idl.do("insert py-after"))
	require.Equal(t, "bye", idl.do("quit"))

	// Every switch exactly once, as seen through the surviving members.
	names := sortedLines(nb.ctlRun(nbctl, "--bare", "--columns=name", "list", "Logical_Switch"))
	require.Equal(t, []string{"before-kill", "py-after", "py-before", "sw-after", "sw0", "sw1"}, names)
	// and on each surviving NB member's own replica (followers included).
	for _, m := range nb.live() {
		waitForCond(t, "NB member "+m.db+" replicated every switch", func() bool {
			got, err := nb.switchNames(m)
			return err == nil && equalStrings(got, names)
		}, nb.diagnose)
	}
}

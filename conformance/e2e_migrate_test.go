package conformance

// Migration between C clusters and ours, with the real tools, as an
// operator does it (the runbook of docs/operations.md, "Migrating from
// C"):
//
//   - C → ours: a 3-member C NB cluster holding data written by
//     ovn-nbctl is stopped; the member file with the highest recorded
//     commit index (ovsdb-tool show-log: its last commit_index record) is
//     imported by our ovsdb-tool create-cluster on member 1; our member 1
//     is started, members 2 and 3 join it with fresh files (our
//     join-cluster). ovn-nbctl show must be byte-identical before and
//     after, and our cluster must take writes.
//   - ours → C: a 3-member cluster of ours is turned into a standalone
//     file (ovsdb-client backup from a running member, or
//     cluster-to-standalone on a stopped member's file), from which C's
//     ovsdb-tool create-cluster makes a C cluster serving the same data.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// migrateTools returns C's ovsdb-server and ovsdb-tool, ours, and C's
// ovs-appctl and ovsdb-client. With CONFORMANCE_IMPL=c there is no
// implementation of ours to migrate to: the test is skipped.
func migrateTools(t *testing.T) (cServer, cTool, ourServer, ourTool, appctl, client string) {
	t.Helper()
	cServer, test := implementations(t)
	if test == cServer {
		t.Skip("CONFORMANCE_IMPL=c: migration needs our ovsdb-server and ovsdb-tool")
	}
	cTool = testutil.RequireTool(t, "ovsdb-tool")
	appctl = testutil.RequireTool(t, "ovs-appctl")
	client = testutil.RequireTool(t, "ovsdb-client")
	testutil.RequireTool(t, "ovn-nbctl")
	ourServer, ourTool = clusterTools(t)
	return
}

// runOK runs bin with args (bounded by e2eWait) and fails the test unless
// it exits 0; it returns stdout.
func runOK(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	require.NoError(t, err, "%s %s\nstderr: %s", filepath.Base(bin), strings.Join(args, " "), e.String())
	return o.String()
}

// populateNB writes a small OVN topology through ctl: two switches with
// ports and addresses, a router with two ports attached to the switches,
// ACLs, a load balancer and a NAT rule; a few more switches make the log
// longer.
func populateNB(c *ovnCluster, ctl *ovnCtl) {
	cmds := [][]string{
		{"init"},
		{"ls-add", "sw0"}, {"ls-add", "sw1"},
		{"lsp-add", "sw0", "sw0-p1"}, {"lsp-set-addresses", "sw0-p1", "00:00:00:00:00:01 10.0.0.11"},
		{"lsp-add", "sw0", "sw0-p2"}, {"lsp-set-addresses", "sw0-p2", "00:00:00:00:00:02 10.0.0.12"},
		{"lsp-add", "sw1", "sw1-p1"}, {"lsp-set-addresses", "sw1-p1", "00:00:00:00:01:01 10.0.1.11"},
		{"lr-add", "lr0"},
		{"lrp-add", "lr0", "lrp0", "00:00:00:00:ff:01", "10.0.0.1/24"},
		{"lrp-add", "lr0", "lrp1", "00:00:00:00:ff:02", "10.0.1.1/24"},
		{"lsp-add", "sw0", "sw0-lr0", "--", "lsp-set-type", "sw0-lr0", "router", "--",
			"lsp-set-addresses", "sw0-lr0", "router", "--", "lsp-set-options", "sw0-lr0", "router-port=lrp0"},
		{"lsp-add", "sw1", "sw1-lr0", "--", "lsp-set-type", "sw1-lr0", "router", "--",
			"lsp-set-addresses", "sw1-lr0", "router", "--", "lsp-set-options", "sw1-lr0", "router-port=lrp1"},
		{"acl-add", "sw0", "from-lport", "1000", "ip4.src == 10.0.0.11", "drop"},
		{"acl-add", "sw1", "to-lport", "900", "tcp.dst == 22", "allow-related"},
		{"lb-add", "lb0", "10.0.0.100:80", "10.0.0.11:8080,10.0.0.12:8080", "tcp"},
		{"ls-lb-add", "sw0", "lb0"},
		{"lr-nat-add", "lr0", "snat", "172.16.0.1", "10.0.0.0/24"},
	}
	for i := 0; i < 8; i++ {
		cmds = append(cmds, []string{"ls-add", fmt.Sprintf("extra%d", i), "--", "set", "Logical_Switch",
			fmt.Sprintf("extra%d", i), fmt.Sprintf("external_ids:n=%d", i)})
	}
	for _, a := range cmds {
		c.ctlRun(ctl, a...)
	}
}

// dumpLines is `ovsdb-client dump` of the NB database at sock, its lines
// sorted (row order is not part of the state).
func dumpLines(t *testing.T, client, sock string) []string {
	t.Helper()
	return sortedLines(runOK(t, client, "dump", "unix:"+sock, "OVN_Northbound"))
}

// exitMember stops m with `ovs-appctl -t CTL exit` and waits (bounded)
// for its process to end.
func exitMember(c *ovnCluster, appctl string, m *clusterMember) {
	c.t.Helper()
	if !m.alive() {
		return
	}
	runOK(c.t, appctl, "-t", m.ctl, "exit")
	select {
	case <-m.done:
	case <-time.After(e2eWait):
		c.t.Fatalf("%s did not exit within %v", m.db, e2eWait)
	}
}

// commitIndexRE matches a commit_index record of show-log's output.
var commitIndexRE = regexp.MustCompile(`(?m)^ commit_index: ([0-9]+)$`)

// lastCommitIndex is what an operator reads from a stopped C member's
// file: its last commit_index record (`ovsdb-tool show-log FILE`).
func lastCommitIndex(t *testing.T, tool, file string) uint64 {
	t.Helper()
	ms := commitIndexRE.FindAllStringSubmatch(runOK(t, tool, "show-log", file), -1)
	if len(ms) == 0 {
		return 0
	}
	n, err := strconv.ParseUint(ms[len(ms)-1][1], 10, 64)
	require.NoError(t, err)
	return n
}

// newOurCluster returns an empty 3-member cluster description (files,
// sockets and Raft addresses on 127.0.0.1), stopped when the test ends.
func newOurCluster(t *testing.T) *ovnCluster {
	c := &ovnCluster{t: t, dbName: "OVN_Northbound", dir: t.TempDir()}
	for i := 0; i < 3; i++ {
		base := filepath.Join(c.dir, fmt.Sprintf("nb%d", i))
		c.members = append(c.members, &clusterMember{db: base + ".db", sock: base + ".sock", ctl: base + ".ctl",
			log: base + ".log", addr: freeTCPAddr(t)})
	}
	t.Cleanup(c.stopAll)
	return c
}

// serverCount is the number of servers in member m's cluster/status.
func serverCount(appctl string, m *clusterMember) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, appctl, "-t", m.ctl, "cluster/status", "OVN_Northbound").Output()
	if err != nil {
		return -1
	}
	_, servers, ok := strings.Cut(string(out), "Servers:\n")
	if !ok {
		return -1
	}
	n := 0
	for _, l := range strings.Split(servers, "\n") {
		if strings.HasPrefix(l, "    ") {
			n++
		}
	}
	return n
}

// TestE2EMigrateCClusterToOurs migrates a 3-member C NB cluster to ours
// with the documented procedure and measures the write outage: from the
// first C member being told to exit to the first write our cluster
// accepts (logged, not asserted).
func TestE2EMigrateCClusterToOurs(t *testing.T) {
	cServer, cTool, ourServer, ourTool, appctl, client := migrateTools(t)

	cc := startOVNCluster(t, cServer, cTool, "nb", 3)
	cctl := &ovnCtl{bin: testutil.RequireTool(t, "ovn-nbctl"), db: cc.remotes(), rundir: cc.dir}
	populateNB(cc, cctl)
	before := cc.ctlRun(cctl, "show")
	require.Contains(t, before, "router-port: lrp0")
	leader := cc.waitLeader(cc.members)
	beforeDump := dumpLines(t, client, leader.sock)

	// Importing a file a C server still runs on is refused.
	early := exec.Command(ourTool, "create-cluster", filepath.Join(t.TempDir(), "early.db"), leader.db, freeTCPAddr(t))
	out, err := early.CombinedOutput()
	require.Error(t, err, "import of a running member's file: %s", out)
	require.Contains(t, string(out), "(stop the C ovsdb-server serving it first)")

	// Stop every C member; from here on the database takes no writes.
	stopped := time.Now()
	for _, m := range cc.members {
		exitMember(cc, appctl, m)
	}

	// Pick the member file with the highest recorded commit index.
	var picked string
	var best uint64
	for _, m := range cc.members {
		n := lastCommitIndex(t, cTool, m.db)
		t.Logf("%s: last commit_index %d", filepath.Base(m.db), n)
		if picked == "" || n > best {
			picked, best = m.db, n
		}
	}
	require.NotZero(t, best)

	oc := newOurCluster(t)
	m0 := oc.members[0]
	runOK(t, ourTool, "create-cluster", m0.db, picked, m0.addr)
	oc.start(ourServer, m0)
	oc.waitLeader(oc.members[:1])
	octl := &ovnCtl{bin: cctl.bin, db: "unix:" + m0.sock, rundir: oc.dir}
	oc.ctlRun(octl, "set", "NB_Global", ".", "external_ids:migrated=true")
	outage := time.Since(stopped)
	t.Logf("write outage C -> ours: %v (first C member told to exit -> first write accepted by our member 1)", outage)

	for _, m := range oc.members[1:] {
		runOK(t, ourTool, "join-cluster", m.db, "OVN_Northbound", m.addr, m0.addr)
		oc.start(ourServer, m)
	}
	waitForCond(t, "our cluster/status shows 3 servers", func() bool { return serverCount(appctl, m0) == 3 }, oc.diagnose)
	oc.waitLeader(oc.members)

	octl.db = oc.remotes()
	after := oc.ctlRun(octl, "show")
	require.Equal(t, before, after, "ovn-nbctl show before (C) and after (ours) the migration")
	// The first write, undone through the 3-member cluster, leaves the
	// database as C left it.
	require.Equal(t, "\"true\"\n", oc.ctlRun(octl, "get", "NB_Global", ".", "external_ids:migrated"))
	oc.ctlRun(octl, "remove", "NB_Global", ".", "external_ids", "migrated")
	afterDump := dumpLines(t, client, m0.sock)
	require.Equal(t, beforeDump, afterDump, "ovsdb-client dump before and after (rows sorted)")

	// A write through the new cluster reaches every member.
	oc.ctlRun(octl, "ls-add", "after-migration")
	for _, m := range oc.members {
		waitForCond(t, filepath.Base(m.db)+" has the new switch", func() bool {
			names, err := oc.switchNames(m)
			return err == nil && contains(names, "after-migration") && contains(names, "sw0")
		}, oc.diagnose)
	}

	// Our server refuses the C file with a message naming the import.
	dir := t.TempDir()
	cmd := exec.Command(ourServer, "--no-chdir", "--remote=punix:"+filepath.Join(dir, "x.sock"),
		"--unixctl="+filepath.Join(dir, "x.ctl"), picked)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(e2eWait):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		t.Fatalf("our ovsdb-server kept running on a C clustered file")
	}
	require.Contains(t, stderr.String(), picked+`: this is a clustered database file of the C ovsdb-server; it cannot be served by this server: `+
		`import it with "ovsdb-tool create-cluster NEW.db `+picked+` LOCAL-ADDRESS" (docs/operations.md, "Migrating a running C cluster")`)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestE2EMigrateOursToC turns a 3-member cluster of ours back into a C
// cluster: (a) `ovsdb-client backup` from a running member, then C's
// create-cluster and join-cluster make a 3-member C cluster; (b)
// cluster-to-standalone on a stopped member's file, then C's
// create-cluster makes a one-member C cluster. Both must serve what ours
// served (ovn-nbctl show byte-identical, dump equal up to row order).
func TestE2EMigrateOursToC(t *testing.T) {
	cServer, cTool, ourServer, ourTool, appctl, client := migrateTools(t)

	oc := startOVNCluster(t, ourServer, ourTool, "nb", 3)
	octl := &ovnCtl{bin: testutil.RequireTool(t, "ovn-nbctl"), db: oc.remotes(), rundir: oc.dir}
	populateNB(oc, octl)
	before := oc.ctlRun(octl, "show")
	require.Contains(t, before, "router-port: lrp1")
	leader := oc.waitLeader(oc.members)
	beforeDump := dumpLines(t, client, leader.sock)
	for _, m := range oc.members {
		waitForCond(t, filepath.Base(m.db)+" has every switch", func() bool {
			names, err := oc.switchNames(m)
			return err == nil && contains(names, "extra7")
		}, oc.diagnose)
	}

	// (a) Backup from a running member.
	backup := filepath.Join(t.TempDir(), "backup.db")
	require.NoError(t, os.WriteFile(backup, []byte(runOK(t, client, "backup", "unix:"+leader.sock, "OVN_Northbound")), 0o640))

	// (b) cluster-to-standalone on a stopped member's file.
	for _, m := range oc.members {
		exitMember(oc, appctl, m)
	}
	standalone := filepath.Join(t.TempDir(), "standalone.db")
	runOK(t, ourTool, "cluster-to-standalone", standalone, leader.db)

	t.Run("backup to 3-member C cluster", func(t *testing.T) {
		cc := &ovnCluster{t: t, dbName: "OVN_Northbound", dir: t.TempDir()}
		for i := 0; i < 3; i++ {
			base := filepath.Join(cc.dir, fmt.Sprintf("c%d", i))
			m := &clusterMember{db: base + ".db", sock: base + ".sock", ctl: base + ".ctl", log: base + ".log", addr: freeTCPAddr(t)}
			if i == 0 {
				runOK(t, cTool, "create-cluster", m.db, backup, m.addr)
			} else {
				runOK(t, cTool, "join-cluster", m.db, "OVN_Northbound", m.addr, cc.members[0].addr)
			}
			cc.members = append(cc.members, m)
		}
		t.Cleanup(cc.stopAll)
		for _, m := range cc.members {
			cc.start(cServer, m)
		}
		cl := cc.waitLeader(cc.members)
		cctl := &ovnCtl{bin: octl.bin, db: cc.remotes(), rundir: cc.dir}
		require.Equal(t, before, cc.ctlRun(cctl, "show"))
		require.Equal(t, beforeDump, dumpLines(t, client, cl.sock))
		cc.ctlRun(cctl, "ls-add", "on-c")
		for _, m := range cc.members {
			waitForCond(t, filepath.Base(m.db)+" has the new switch", func() bool {
				names, err := cc.switchNames(m)
				return err == nil && contains(names, "on-c")
			}, cc.diagnose)
		}
	})

	t.Run("cluster-to-standalone to C cluster", func(t *testing.T) {
		cc := &ovnCluster{t: t, dbName: "OVN_Northbound", dir: t.TempDir()}
		base := filepath.Join(cc.dir, "c0")
		m := &clusterMember{db: base + ".db", sock: base + ".sock", ctl: base + ".ctl", log: base + ".log", addr: freeTCPAddr(t)}
		runOK(t, cTool, "create-cluster", m.db, standalone, m.addr)
		cc.members = append(cc.members, m)
		t.Cleanup(cc.stopAll)
		cc.start(cServer, m)
		cc.waitLeader(cc.members)
		cctl := &ovnCtl{bin: octl.bin, db: cc.remotes(), rundir: cc.dir}
		require.Equal(t, before, cc.ctlRun(cctl, "show"))
		require.Equal(t, beforeDump, dumpLines(t, client, m.sock))
	})
}

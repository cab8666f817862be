package main

import (
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/stretchr/testify/require"
)

const nbSchemaPath = "/usr/share/ovn/ovn-nb.ovsschema"

// newCCluster builds a 3-member OVN_Northbound cluster with the C tools
// (ovsdb-tool create-cluster / join-cluster, three C ovsdb-servers).
// Members are started in the foreground, so the test owns their PIDs.
func newCCluster(t *testing.T, server, tool string) *testCluster {
	dir := t.TempDir()
	tc := &testCluster{t: t, dir: dir, server: server, tool: tool}
	tc.createMembers(3, "c", nbSchemaPath, "OVN_Northbound")
	return tc
}

// nbStatus returns cluster/status OVN_Northbound of m through ovs-appctl.
func nbStatus(appctl string, m *member) (string, error) {
	out, err := exec.Command(appctl, "-t", m.ctl, "cluster/status", "OVN_Northbound").CombinedOutput()
	return string(out), err
}

// waitNBStatus waits until every member is a cluster member of a
// 3-server cluster that knows its leader, and (on the leader) has heard
// from both followers; it returns the leader's and a follower's status.
func waitNBStatus(t *testing.T, appctl string, tc *testCluster) (leader, follower string) {
	t.Helper()
	tc.waitFor("3-member OVN_Northbound cluster settled", 60*time.Second, func() bool {
		leader, follower = "", ""
		for _, m := range tc.members {
			s, err := nbStatus(appctl, m)
			if err != nil || !strings.Contains(s, "Status: cluster member") || strings.Count(s, " at tcp:") != 3 ||
				strings.Contains(s, "Leader: unknown") {
				return false
			}
			switch {
			case strings.Contains(s, "Role: leader"):
				leader = s
			case strings.Contains(s, "Role: follower"):
				follower = s
			}
		}
		return leader != "" && follower != "" && strings.Count(leader, "last msg") == 2
	})
	return leader, follower
}

var (
	uuidRE    = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	numRE     = regexp.MustCompile(`\d+`)
	addrRE    = regexp.MustCompile(`tcp:127\.0\.0\.1:\d+`)
	serverRE  = regexp.MustCompile(`^    ([0-9a-f]{4}) \(([0-9a-f]{4}) at (tcp:127\.0\.0\.1:\d+)\)(.*)$`)
	connTokRE = regexp.MustCompile(`^\(?(<-|->)[0-9a-f]{4}\)?$`)
)

// statusShape reduces a cluster/status text to its layout: the sequence
// of lines with every per-run value masked (ids and nicknames to SID and
// UUID, addresses to ADDR, numbers to N). Deliberate masks, each because
// C's value depends on the run or on C's connection mesh:
//   - "Last Election ..." lines are kept only on the leader (a follower
//     shows them only if it once stood for election);
//   - Connections: each token must be C's "->SID"/"<-SID" (parenthesised
//     when down); their number depends on the transport: C members all
//     connect to each other, hashicorp/raft connects leader to followers;
//   - server lines are sorted (C prints them in hash order), and on a
//     follower "last msg" is dropped from the lines of other followers
//     (C hears from them over its mesh, our followers only from the
//     leader; C itself omits it for a server never heard from).
func statusShape(t *testing.T, s string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	require.NotEmpty(t, lines)
	leader := strings.Contains(s, "\nRole: leader\n")
	ldrNick := ""
	if m := regexp.MustCompile(`(?m)^Leader: ([0-9a-f]{4})$`).FindStringSubmatch(s); m != nil {
		ldrNick = m[1]
	}
	var out, servers []string
	inServers := false
	for i, l := range lines {
		switch {
		case i == 0:
			require.Regexp(t, `^[0-9a-f]{4}$`, l, s)
			out = append(out, "SID")
		case inServers:
			m := serverRE.FindStringSubmatch(l)
			require.NotNil(t, m, "server line %q\n%s", l, s)
			require.Equal(t, m[1], m[2], l)
			rest := m[4]
			if !leader && m[1] != ldrNick {
				rest = regexp.MustCompile(` last msg \d+ ms ago$`).ReplaceAllString(rest, "")
			}
			servers = append(servers, "    SID (SID at ADDR)"+numRE.ReplaceAllString(rest, "N"))
		case strings.HasPrefix(l, "Last Election"):
			if leader {
				out = append(out, numRE.ReplaceAllString(l, "N"))
			}
		case strings.HasPrefix(l, "Connections:"):
			for _, tok := range strings.Fields(strings.TrimPrefix(l, "Connections:")) {
				require.Regexp(t, connTokRE, tok, s)
			}
			out = append(out, "Connections: TOKENS")
		case l == "Servers:":
			inServers = true
			out = append(out, l)
		case !leader && strings.HasPrefix(l, "Vote: "):
			// A follower's vote depends on the elections it saw (a C
			// member that timed out under load votes for itself and
			// shows "self"), as its Last Election line does: the shape
			// only.
			out = append(out, "Vote: V")
		default:
			l = uuidRE.ReplaceAllString(l, "UUID")
			l = addrRE.ReplaceAllString(l, "ADDR")
			l = regexp.MustCompile(`^(Cluster ID|Server ID|Leader|Vote): [0-9a-f]{4}\b`).ReplaceAllString(l, "$1: SID")
			out = append(out, numRE.ReplaceAllString(l, "N"))
		}
	}
	sort.Strings(servers)
	return append(out, servers...)
}

// TestClusterStatusMatchesC compares `ovs-appctl -t CTL cluster/status
// OVN_Northbound` of our leader and follower with a C 3-member cluster's,
// line by line, on the shapes computed by statusShape.
func TestClusterStatusMatchesC(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	server := testutil.RequireTool(t, "ovsdb-server")
	tool := testutil.RequireTool(t, "ovsdb-tool")
	appctl := testutil.RequireTool(t, "ovs-appctl")
	nb, err := os.ReadFile(nbSchemaPath)
	if err != nil && !testutil.InCI() {
		testutil.MissingPrerequisite(t, "OVN schema not installed: %v", err)
	}
	require.NoError(t, err)

	c := newCCluster(t, server, tool)
	ours := newTestClusterSchema(t, 3, "OVN_Northbound", string(nb))
	cLeader, cFollower := waitNBStatus(t, appctl, c)
	oLeader, oFollower := waitNBStatus(t, appctl, ours)

	require.Equal(t, statusShape(t, cLeader), statusShape(t, oLeader), "C leader:\n%s\nours:\n%s", cLeader, oLeader)
	require.Equal(t, statusShape(t, cFollower), statusShape(t, oFollower), "C follower:\n%s\nours:\n%s", cFollower, oFollower)

	// The mesh-independent parts of Connections: a leader sends to each
	// follower, a follower receives from its leader, in both servers.
	for _, tt := range []struct{ name, s string }{{"C leader", cLeader}, {"our leader", oLeader},
		{"C follower", cFollower}, {"our follower", oFollower}} {
		checkStatusConnections(t, tt.name, tt.s)
	}
}

// checkStatusConnections checks that s's Connections line has "->F" for
// every follower F on a leader, "<-L" for the leader L on a follower.
func checkStatusConnections(t *testing.T, name, s string) {
	t.Helper()
	conns := strings.Fields(regexp.MustCompile(`(?m)^Connections:(.*)$`).FindStringSubmatch(s)[1])
	self := strings.SplitN(s, "\n", 2)[0]
	if strings.Contains(s, "\nRole: leader\n") {
		for _, m := range regexp.MustCompile(`(?m)^    ([0-9a-f]{4}) `).FindAllStringSubmatch(s, -1) {
			if m[1] != self {
				require.Contains(t, conns, "->"+m[1], "%s:\n%s", name, s)
			}
		}
		return
	}
	ldr := regexp.MustCompile(`(?m)^Leader: ([0-9a-f]{4})$`).FindStringSubmatch(s)
	require.NotNil(t, ldr, "%s:\n%s", name, s)
	require.Contains(t, conns, "<-"+ldr[1], "%s:\n%s", name, s)
}

// TestClusterMemberCommandsDifferential compares, on a one-member
// OVN_Northbound cluster of C's and one of ours (each its own leader):
// list-commands (nothing of C's missing but the active-backup commands),
// the argument checks of cluster/failure-test and
// cluster/set-backlog-threshold, memory/show's keys, sync-status and
// get-db-storage-status.
func TestClusterMemberCommandsDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	server := testutil.RequireTool(t, "ovsdb-server")
	tool := testutil.RequireTool(t, "ovsdb-tool")
	appctl := testutil.RequireTool(t, "ovs-appctl")
	nb, err := os.ReadFile(nbSchemaPath)
	if err != nil && !testutil.InCI() {
		testutil.MissingPrerequisite(t, "OVN schema not installed: %v", err)
	}
	require.NoError(t, err)

	c := &testCluster{t: t, dir: t.TempDir(), server: server, tool: tool}
	c.createMembers(1, "c", nbSchemaPath, "OVN_Northbound")
	ours := newTestClusterSchema(t, 1, "OVN_Northbound", string(nb))
	for _, tc := range []*testCluster{c, ours} {
		m := tc.members[0]
		tc.waitFor("one-member cluster leads", 60*time.Second, func() bool {
			s, err := nbStatus(appctl, m)
			return err == nil && strings.Contains(s, "Role: leader") && strings.Contains(s, "Status: cluster member")
		})
	}
	cctl, gctl := c.members[0].ctl, ours.members[0].ctl
	ask := func(ctl string, args ...string) result {
		r := runCmd(t, appctl, append([]string{"-t", ctl}, args...)...)
		r.stderr = strings.ReplaceAll(r.stderr, ctl, "CTL")
		return r
	}

	cl, gl := ask(cctl, "list-commands"), ask(gctl, "list-commands")
	compareListCommands(t, cl.stdout, gl.stdout)
	require.Contains(t, gl.stdout, "  cluster/failure-test    FAILURE SCENARIO\n")
	require.Contains(t, gl.stdout, "  cluster/set-backlog-threshold DB N_MSGS N_BYTES\n")

	for _, args := range [][]string{
		{"ovsdb-server/sync-status"},
		{"ovsdb-server/get-db-storage-status", "OVN_Northbound"},
		{"ovsdb-server/get-db-storage-status", "_Server"},
		{"ovsdb-server/get-db-storage-status", "nope"},
		{"cluster/failure-test"},
		{"cluster/failure-test", "a", "b"},
		{"cluster/failure-test", "bogus"},
		{"cluster/failure-test", "clear"},
		{"cluster/set-backlog-threshold", "OVN_Northbound", "100"},
		{"cluster/set-backlog-threshold", "nope", "100", "100"},
		{"cluster/set-backlog-threshold", "_Server", "100", "100"},
		{"cluster/set-backlog-threshold", "OVN_Northbound", "x", "100"},
		{"cluster/set-backlog-threshold", "OVN_Northbound", "100", "1k"},
		{"cluster/set-backlog-threshold", "OVN_Northbound", "", "100"},
		{"cluster/set-backlog-threshold", "OVN_Northbound", "99999999999999999999", "100"},
		{"cluster/set-backlog-threshold", "OVN_Northbound", "49", "100"},
		{"cluster/set-backlog-threshold", "OVN_Northbound", "0", "0"},
		{"ovsdb-server/tlog-set", "OVN_Northbound:NB_Global", "on"},
		{"ovsdb-server/tlog-list"},
	} {
		require.Equal(t, ask(cctl, args...), ask(gctl, args...), strings.Join(args, " "))
	}

	// Accepted by C: ours gives C's reply once the member implements the
	// command, a clear error until then (cluster.go).
	for _, args := range [][]string{
		{"cluster/set-backlog-threshold", "OVN_Northbound", "50", "0"},
		{"cluster/set-backlog-threshold", "OVN_Northbound", "-1", "+5"},
		{"cluster/failure-test", "delay-election"},
		{"cluster/failure-test", "clear"},
	} {
		cr, gr := ask(cctl, args...), ask(gctl, args...)
		require.Equal(t, 0, cr.status, cr.stderr)
		if gr.status != 0 {
			require.Regexp(t, `^\S+ .*not supported yet by the Raft implementation of OVN_Northbound\novs-appctl: CTL: server returned an error\n$`, gr.stderr)
			continue
		}
		require.Equal(t, cr, gr, strings.Join(args, " "))
	}

	// memory/show: C's keys (values are per server), but txn-history and
	// txn-history-atoms, which ours does not measure.
	keys := func(ctl string) []string {
		r := ask(ctl, "memory/show")
		require.Equal(t, 0, r.status, r.stderr)
		var out []string
		for _, f := range strings.Fields(r.stdout) {
			k, v, ok := strings.Cut(f, ":")
			require.True(t, ok, r.stdout)
			require.Regexp(t, `^\d+$`, v)
			if k != "txn-history" && k != "txn-history-atoms" {
				out = append(out, k)
			}
		}
		return out
	}
	require.Equal(t, keys(cctl), keys(gctl))
}

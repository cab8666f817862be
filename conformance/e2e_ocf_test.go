package conformance

// OVN's Pacemaker resource agent (ovndb-servers.ocf, ocf:ovn:ovndb-servers)
// driven directly through its actions, the way Pacemaker runs it for a
// promotable clone of two nodes with a virtual IP: the exit status of
// every action with C's servers and with ours must be the same.
//
// What stands in for the cluster:
//   - The agent sources the OCF shell functions of Debian's resource-agents
//     package (OCF_ROOT=/usr/lib/ocf; `make deps` installs it).
//   - Pacemaker's crm_attribute and crm_master are not installed: the
//     stand-ins in testdata/ocf (HA_SBIN_DIR) record every call and keep
//     the attributes in files shared by the two nodes.
//   - Each node is a network namespace of its own (a `sleep` started in a
//     new one holds it; the agent runs in it through nsenter), with its own
//     directories; a veth pair joins the two namespaces. The virtual IP
//     (master_ip) is an address the test adds to the master's side of the
//     pair and removes, as Pacemaker's IPaddr2 resource colocated with the
//     master does: a backup's listener on that address fails until it
//     moves there, and a backup follows the master through it. The agent's
//     "unreachable" address (192.0.2.254) has no route in a namespace, so
//     nothing leaves the machine. Unix sockets are paths: the test reads
//     both nodes' databases from outside with ovn-nbctl.

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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

const (
	ocfAgent = "/usr/share/ovn/scripts/ovndb-servers.ocf"
	ocfRoot  = "/usr/lib/ocf"
	// ocfVIP is the master's virtual IP; ocfNet the link between the
	// nodes' namespaces (link-local, in namespaces of the test only).
	ocfVIP = "169.254.77.100"
	ocfNet = "169.254.77."
)

// OCF exit statuses.
const (
	ocfSuccess       = 0
	ocfNotRunning    = 7
	ocfRunningMaster = 8
)

// ocfNode is one node of the test cluster.
type ocfNode struct {
	name   string // Pacemaker's node name: node1, node2
	env    *ovnCtlEnv
	ns     string // /proc/PID/ns/net of the namespace's holder
	ifname string // its end of the veth pair
	stubs  string // the stand-ins' call log of this node
	halog  string // the agent's log (HA_LOGFILE)
	// halogRead is how much of halog agentLog has returned.
	halogRead int
}

// requireOCF skips (locally) or fails (CI) when something the agent or the
// namespaces need is missing.
func requireOCF(t *testing.T) {
	t.Helper()
	requireOVNCtl(t)
	for _, f := range []string{ocfAgent, filepath.Join(ocfRoot, "lib/heartbeat/ocf-shellfuncs")} {
		if _, err := os.Stat(f); err != nil {
			testutil.MissingPrerequisite(t, "%s missing (the agent comes with ovn-central, its shell functions with resource-agents); run `make deps`", f)
		}
	}
	testutil.RequireTool(t, "nsenter")
	testutil.RequireTool(t, "ip")
}

// newNetns starts a process in a new network namespace and returns the
// namespace's path; the process (and so the namespace, once the daemons
// in it are gone) ends with the test.
func newNetns(t *testing.T) (string, int) {
	t.Helper()
	cmd := exec.Command("sleep", "3600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := cmd.Start(); err != nil {
		testutil.MissingPrerequisite(t, "cannot create a network namespace (root needed): %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid), cmd.Process.Pid
}

// inNS runs a command in the namespace ns and fails the test unless it
// succeeds.
func inNS(t *testing.T, ns string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + ns, "--"}, args...)...).CombinedOutput()
	require.NoError(t, err, "%s: %s", strings.Join(args, " "), out)
}

// ocfCluster is two nodes, the stand-ins' shared state and the base
// environment of the agent.
type ocfCluster struct {
	t      *testing.T
	nodes  []*ocfNode
	state  string
	stubs  string // testdata/ocf, absolute
	master *ocfNode
	// listenOnMasterIPOnly is the resource's listen_on_master_ip_only:
	// "yes" (the default: listeners on the virtual IP) or "no" (on
	// 0.0.0.0, for a load balancer's address; the agent's promote then
	// restarts the servers).
	listenOnMasterIPOnly string
}

// newOCFCluster makes two nodes, node1 running the server bins[0] and
// node2 bins[1].
func newOCFCluster(t *testing.T, bins [2]string, listenOnMasterIPOnly string) *ocfCluster {
	t.Helper()
	stubs, err := filepath.Abs("testdata/ocf")
	require.NoError(t, err)
	c := &ocfCluster{t: t, state: t.TempDir(), stubs: stubs, listenOnMasterIPOnly: listenOnMasterIPOnly}
	var pids []int
	for i := 1; i <= 2; i++ {
		bin := bins[i-1]
		ns, pid := newNetns(t)
		n := &ocfNode{name: fmt.Sprintf("node%d", i), env: newOVNCtlEnv(t, bin), ns: ns, ifname: fmt.Sprintf("ocf%d", i)}
		n.stubs = filepath.Join(n.env.root, "stubs.log")
		n.halog = filepath.Join(n.env.root, "ha.log")
		c.nodes = append(c.nodes, n)
		pids = append(pids, pid)
		inNS(t, ns, "ip", "link", "set", "lo", "up")
		for _, db := range []string{"nb", "sb"} {
			pidfile := n.env.pidfile(db)
			t.Cleanup(func() { killDaemon(pidfile, bin) })
		}
	}
	n1, n2 := c.nodes[0], c.nodes[1]
	inNS(t, n1.ns, "ip", "link", "add", n1.ifname, "type", "veth", "peer", "name", n2.ifname, "netns", strconv.Itoa(pids[1]))
	for i, n := range c.nodes {
		inNS(t, n.ns, "ip", "addr", "add", fmt.Sprintf("%s%d/24", ocfNet, i+1), "dev", n.ifname)
		inNS(t, n.ns, "ip", "link", "set", n.ifname, "up")
	}
	return c
}

// moveVIP puts the virtual IP on node to (nil: nowhere), as IPaddr2.
func (c *ocfCluster) moveVIP(to *ocfNode) {
	c.t.Helper()
	if c.master != nil {
		inNS(c.t, c.master.ns, "ip", "addr", "del", ocfVIP+"/32", "dev", c.master.ifname)
	}
	c.master = to
	if to != nil {
		inNS(c.t, to.ns, "ip", "addr", "add", ocfVIP+"/32", "dev", to.ifname)
	}
}

// agent runs one action of the agent on node n with the resource's
// parameters and Pacemaker's meta variables (extra: notification
// variables), and returns its exit status and output.
func (c *ocfCluster) agent(n *ocfNode, action string, extra ...string) (int, string) {
	c.t.Helper()
	env := append([]string{}, n.env.env...)
	env = append(env,
		"OCF_ROOT="+ocfRoot,
		"OCF_FUNCTIONS_DIR="+filepath.Join(ocfRoot, "lib/heartbeat"),
		"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=0",
		"OCF_RESOURCE_INSTANCE=ovndb_servers:"+strings.TrimPrefix(n.name, "node"),
		"OCF_RESOURCE_TYPE=ovndb-servers", "OCF_RESOURCE_PROVIDER=ovn",
		"OCF_RESKEY_crm_feature_set=3.16.2",
		"OCF_RESKEY_CRM_meta_on_node="+n.name,
		"OCF_RESKEY_CRM_meta_on_node_uuid="+strings.TrimPrefix(n.name, "node"),
		"OCF_RESKEY_CRM_meta_clone_max=2", "OCF_RESKEY_CRM_meta_clone_node_max=1",
		"OCF_RESKEY_CRM_meta_master_max=1", "OCF_RESKEY_CRM_meta_master_node_max=1",
		"OCF_RESKEY_CRM_meta_promoted_max=1", "OCF_RESKEY_CRM_meta_promoted_node_max=1",
		"OCF_RESKEY_CRM_meta_notify=true", "OCF_RESKEY_CRM_meta_globally_unique=false",
		"OCF_RESKEY_CRM_meta_timeout=60000",
		// The resource's parameters (pcs resource create ... ovndb-servers
		// master_ip=... manage_northd=no ...).
		"OCF_RESKEY_master_ip="+ocfVIP,
		"OCF_RESKEY_nb_master_port=6641", "OCF_RESKEY_sb_master_port=6642",
		"OCF_RESKEY_manage_northd=no",
		"OCF_RESKEY_listen_on_master_ip_only="+c.listenOnMasterIPOnly,
		"OCF_RESKEY_inactive_probe_interval=0",
		"OCF_RESKEY_inactive_probe_interval_to_master=5000",
		// The stand-ins of Pacemaker's tools, and logs.
		"HA_SBIN_DIR="+c.stubs, "OCF_STUB_STATE="+c.state, "OCF_STUB_LOG="+n.stubs,
		"HA_LOGFACILITY=none", "HA_LOGFILE="+n.halog, "HA_DEBUGLOG="+n.halog, "HA_debug=1", "HA_LOGD=no",
	)
	if action == "monitor" {
		env = append(env, "OCF_RESKEY_CRM_meta_interval=10000")
	} else {
		env = append(env, "OCF_RESKEY_CRM_meta_interval=0")
	}
	env = append(env, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*e2eWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", "--net="+n.ns, "--", ocfAgent, action)
	cmd.Env = env
	cmd.Dir = n.env.root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	require.NoError(c.t, ctx.Err(), "node %s: the agent's %s did not return: %s\n%s", n.name, action, out.String(), testutil.LogTail(n.halog, 20))
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.True(c.t, ok, "node %s: %s: %v", n.name, action, err)
		code = ee.ExitCode()
	}
	return code, out.String()
}

// stubCalls returns the stand-ins' calls of node n since the last call of
// stubCalls, and forgets them.
func (n *ocfNode) stubCalls(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(n.stubs)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	require.NoError(t, os.Remove(n.stubs))
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// haMessageRE is the message of a line of the agent's log (HA_LOGFILE),
// after its time stamp and process id.
var haMessageRE = regexp.MustCompile(`(DEBUG|INFO|WARNING|ERROR|CRIT): (.*)$`)

// agentLog returns the messages the agent logged on node n since the last
// call of agentLog.
func (n *ocfNode) agentLog(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(n.halog)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data[n.halogRead:]), "\n"), "\n")
	n.halogRead = len(data)
	var msgs []string
	for _, l := range lines {
		if m := haMessageRE.FindStringSubmatch(l); m != nil {
			msgs = append(msgs, m[1]+": "+strings.TrimSpace(m[2]))
		}
	}
	return msgs
}

// nbctl runs ovn-nbctl on node n's NB database through its unix socket,
// from outside the namespaces.
func (n *ocfNode) nbctl(args ...string) (string, error) {
	stdout, stderr, err := n.env.tool("ovn-nbctl", append([]string{"--db=unix:" + filepath.Join(n.env.root, "run", "ovnnb_db.sock")}, args...)...)
	if err != nil {
		return stdout, fmt.Errorf("%w: %s", err, stderr)
	}
	return stdout, nil
}

// switches is the sorted names of n's logical switches ("error: ..." if
// they cannot be read).
func (n *ocfNode) switches() string {
	out, err := n.nbctl("--bare", "--columns=name", "list", "Logical_Switch")
	if err != nil {
		return "error: " + err.Error()
	}
	return strings.Join(sortedLines(out), ",")
}

func (n *ocfNode) waitSwitches(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(2 * e2eWait)
	for {
		got := n.switches()
		if got == want {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s has switches %q, want %q: %s", n.name, got, want,
			testutil.LogTail(filepath.Join(n.env.root, "log", "ovsdb-server-nb.log"), 20))
		time.Sleep(100 * time.Millisecond)
	}
}

// TestE2EOCFAgent runs OVN's ovndb-servers agent through what Pacemaker
// does with a promotable clone on two nodes (manage_northd=no, the
// virtual IP moved by the test as IPaddr2 colocated with the master):
//
//  1. validate-all, then the probes (monitor: not running), start on both
//     nodes (backups of the unreachable address), monitor (slave);
//  2. promote node1, the virtual IP on node1, post-promote notifications
//     (node1 writes its listeners into NB and SB, node2 follows node1),
//     monitor (master, slave); a switch written on node1 reaches node2;
//  3. a switch-over to node2: the virtual IP leaves node1, demote and stop
//     node1, promote node2, the virtual IP on node2, post-promote
//     notification, monitor; node2 has node1's data and takes writes;
//  4. node1 rejoins: start with the notification variables naming node2
//     as master (it comes up as a backup of node2), monitor, a write on
//     node2 reaches node1;
//  5. stop both, monitor (not running);
//  6. a cold start of both with node2 recorded as the last master: node1
//     starts as a backup of the virtual IP, node2 standalone, demoted by
//     the agent's start to a backup of the unreachable address; node2
//     promoted again, node1 follows it; a write on node2 reaches node1;
//  7. stop both.
//
// Both with listen_on_master_ip_only=yes (the default: the listeners are
// on the virtual IP) and =no (on 0.0.0.0; promote restarts the servers);
// with =yes also with node1 on C's server and node2 on ours (a rolling
// replacement, each the other's active in turn).
// The exit status of each action, the calls of the stand-ins of
// crm_attribute and crm_master (promotion scores, the recorded master)
// and the agent's log messages (which branch it took) with C's servers
// and with ours must be equal; the statuses are also
// the ones Pacemaker expects.
func TestE2EOCFAgent(t *testing.T) {
	t.Parallel()
	requireOCF(t)
	for _, listen := range []string{"yes", "no"} {
		t.Run("listen_on_master_ip_only="+listen, func(t *testing.T) {
			t.Parallel()
			testOCFAgent(t, listen)
		})
	}
}

func testOCFAgent(t *testing.T, listen string) {
	var bins []string
	for _, impl := range e2eImplementations(t) {
		bin := realBinary(t, impl.bin)
		bins = append(bins, bin)
	}
	cBin, ours := bins[0], bins[1]
	runs := []struct {
		name string
		bins [2]string
	}{{"C", [2]string{cBin, cBin}}, {"Go", [2]string{ours, ours}}}
	if listen == "yes" {
		// A rolling replacement: node1 still C's, node2 ours (each
		// the other's active in turn).
		runs = append(runs, struct {
			name string
			bins [2]string
		}{"C+Go", [2]string{cBin, ours}})
	}
	outputs := map[string][]string{}
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			c := newOCFCluster(t, run.bins, listen)
			n1, n2 := c.nodes[0], c.nodes[1]
			var transcript []string
			step := func(n *ocfNode, action string, want int, extra ...string) {
				t.Helper()
				code, out := c.agent(n, action, extra...)
				calls := n.stubCalls(t)
				transcript = append(transcript, fmt.Sprintf("%s %s %s: exit %d; %s; log: %s", n.name, action,
					strings.Join(extra, " "), code, strings.Join(calls, "; "), strings.Join(n.agentLog(t), "; ")))
				assert.Equal(t, want, code, "node %s: %s %v\n%s\n%s", n.name, action, extra, out, testutil.LogTail(n.halog, 20))
				if code != want {
					t.FailNow()
				}
			}
			notify := func(n *ocfNode, typ, op string, vars ...string) {
				t.Helper()
				step(n, "notify", ocfSuccess, append([]string{
					"OCF_RESKEY_CRM_meta_notify_type=" + typ, "OCF_RESKEY_CRM_meta_notify_operation=" + op}, vars...)...)
			}
			note := func(s string) { transcript = append(transcript, s) }

			// 1. Validation, probes, starts.
			step(n1, "validate-all", ocfSuccess)
			step(n1, "monitor", ocfNotRunning, "OCF_RESKEY_CRM_meta_interval=0")
			step(n2, "monitor", ocfNotRunning, "OCF_RESKEY_CRM_meta_interval=0")
			step(n1, "start", ocfSuccess)
			step(n2, "start", ocfSuccess)
			step(n1, "monitor", ocfSuccess)
			step(n2, "monitor", ocfSuccess)

			// 2. node1 promoted; the virtual IP follows it.
			promote1 := []string{"OCF_RESKEY_CRM_meta_notify_promote_uname=node1 ",
				"OCF_RESKEY_CRM_meta_notify_slave_uname=node1 node2 ", "OCF_RESKEY_CRM_meta_notify_master_uname= "}
			notify(n1, "pre", "promote", promote1...)
			notify(n2, "pre", "promote", promote1...)
			step(n1, "promote", ocfSuccess)
			c.moveVIP(n1)
			notify(n1, "post", "promote", promote1...)
			notify(n2, "post", "promote", promote1...)
			step(n1, "monitor", ocfRunningMaster)
			step(n2, "monitor", ocfSuccess)
			conn, err := n1.nbctl("get-connection")
			require.NoError(t, err)
			note("node1 get-connection: " + conn)
			_, err = n1.nbctl("ls-add", "sw1")
			require.NoError(t, err)
			n2.waitSwitches(t, "sw1")
			_, err = n2.nbctl("ls-add", "refused")
			require.Error(t, err, "a write on the backup")

			// 3. Switch-over to node2.
			demote1 := []string{"OCF_RESKEY_CRM_meta_notify_demote_uname=node1 ",
				"OCF_RESKEY_CRM_meta_notify_master_uname=node1 ", "OCF_RESKEY_CRM_meta_notify_slave_uname=node2 "}
			c.moveVIP(nil)
			notify(n1, "pre", "demote", demote1...)
			notify(n2, "pre", "demote", demote1...)
			step(n1, "demote", ocfSuccess, demote1...)
			notify(n1, "post", "demote", demote1...)
			notify(n2, "post", "demote", demote1...)
			step(n1, "monitor", ocfSuccess)
			step(n1, "stop", ocfSuccess)
			step(n1, "monitor", ocfNotRunning, "OCF_RESKEY_CRM_meta_interval=0")
			promote2 := []string{"OCF_RESKEY_CRM_meta_notify_promote_uname=node2 ",
				"OCF_RESKEY_CRM_meta_notify_slave_uname=node2 ", "OCF_RESKEY_CRM_meta_notify_master_uname= ",
				"OCF_RESKEY_CRM_meta_notify_stop_uname=node1 "}
			notify(n2, "pre", "promote", promote2...)
			step(n2, "promote", ocfSuccess)
			c.moveVIP(n2)
			notify(n2, "post", "promote", promote2...)
			step(n2, "monitor", ocfRunningMaster)
			require.Equal(t, "sw1", n2.switches())
			conn, err = n2.nbctl("get-connection")
			require.NoError(t, err)
			note("node2 get-connection: " + conn)
			_, err = n2.nbctl("ls-add", "sw2")
			require.NoError(t, err)

			// 4. node1 rejoins as a backup of node2.
			start1 := []string{"OCF_RESKEY_CRM_meta_notify_start_uname=node1 ",
				"OCF_RESKEY_CRM_meta_notify_master_uname=node2 ", "OCF_RESKEY_CRM_meta_notify_promote_uname= ",
				"OCF_RESKEY_CRM_meta_notify_demote_uname= "}
			notify(n2, "pre", "start", start1...)
			step(n1, "start", ocfSuccess, start1...)
			notify(n1, "post", "start", start1...)
			notify(n2, "post", "start", start1...)
			step(n1, "monitor", ocfSuccess)
			step(n2, "monitor", ocfRunningMaster)
			n1.waitSwitches(t, "sw1,sw2")
			_, err = n2.nbctl("ls-add", "sw3")
			require.NoError(t, err)
			n1.waitSwitches(t, "sw1,sw2,sw3")

			// 5. Both stopped (the virtual IP first, colocated with the
			// master).
			c.moveVIP(nil)
			step(n1, "stop", ocfSuccess)
			step(n2, "stop", ocfSuccess)
			step(n1, "monitor", ocfNotRunning, "OCF_RESKEY_CRM_meta_interval=0")
			step(n2, "monitor", ocfNotRunning, "OCF_RESKEY_CRM_meta_interval=0")

			// 6. Cold start of both, node2 recorded as the last master:
			// node1 comes up as a backup of the virtual IP; node2, the
			// recorded master among those starting, comes up standalone
			// (active), which the agent's start turns into a backup of
			// the unreachable address (demote at run time); then node2 is
			// promoted again and node1 follows it.
			both := []string{"OCF_RESKEY_CRM_meta_notify_start_uname=node1 node2 ",
				"OCF_RESKEY_CRM_meta_notify_master_uname= ", "OCF_RESKEY_CRM_meta_notify_demote_uname= "}
			step(n1, "start", ocfSuccess, both...)
			step(n2, "start", ocfSuccess, both...)
			step(n1, "monitor", ocfSuccess)
			step(n2, "monitor", ocfSuccess)
			promote2 = []string{"OCF_RESKEY_CRM_meta_notify_promote_uname=node2 ",
				"OCF_RESKEY_CRM_meta_notify_slave_uname=node1 node2 ", "OCF_RESKEY_CRM_meta_notify_master_uname= "}
			notify(n1, "pre", "promote", promote2...)
			notify(n2, "pre", "promote", promote2...)
			step(n2, "promote", ocfSuccess)
			c.moveVIP(n2)
			notify(n1, "post", "promote", promote2...)
			notify(n2, "post", "promote", promote2...)
			step(n1, "monitor", ocfSuccess)
			step(n2, "monitor", ocfRunningMaster)
			_, err = n2.nbctl("ls-add", "sw4")
			require.NoError(t, err)
			n1.waitSwitches(t, "sw1,sw2,sw3,sw4")
			require.Equal(t, "sw1,sw2,sw3,sw4", n2.switches())

			// 7. Both stopped again.
			c.moveVIP(nil)
			step(n1, "stop", ocfSuccess)
			step(n2, "stop", ocfSuccess)
			step(n1, "monitor", ocfNotRunning, "OCF_RESKEY_CRM_meta_interval=0")
			step(n2, "monitor", ocfNotRunning, "OCF_RESKEY_CRM_meta_interval=0")
			t.Logf("transcript:\n%s", strings.Join(transcript, "\n"))
			outputs[run.name] = transcript
		})
	}
	for _, name := range []string{"Go", "C+Go"} {
		if ref, test := outputs["C"], outputs[name]; ref != nil && test != nil {
			assert.Equal(t, ref, test, "the agent's exit statuses, Pacemaker calls and messages with C's servers and with %s", name)
		}
	}
}

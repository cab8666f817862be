package conformance

// The commands Kube-OVN's ovn-central start script issues, in its order,
// against the C server and against ours. The script is
// dist/images/start-db.sh of github.com/kubeovn/kube-ovn (the non-TLS
// branches): for a 1-node deployment (NODE_IPS empty) and for a 3-node one
// (each node bootstraps or joins, then a node restarts with its existing
// files). It runs under `set -eo pipefail`, so every exit status matters;
// of the outputs it parses only a few (the leader query, check-cluster's
// message, db-sid), which are compared by what the script looks for.
//
// Adapted to one machine: every node is 127.0.0.1 with ports of its own
// (Kube-OVN gives each node its own IP and the same ports), /etc/ovn and
// /var/run/ovn are per-node temporary directories, the leader-checker
// daemon is not run and ovn-northd is started and stopped as the script
// does.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kubeNode is one simulated Kube-OVN node: its ovn-ctl environment and
// ports (NB and SB client ports, NB and SB cluster ports).
type kubeNode struct {
	env                    *ovnCtlEnv
	nb, sb, nbRaft, sbRaft int
}

// kubeStep is what the comparison keeps of one command: its name, exit
// status and what the script reads of its output.
type kubeStep struct {
	name   string
	status string
	parsed string
}

var sidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestKubeOVNStartScript runs Kube-OVN's start sequence for 1 and 3 nodes
// on C and on ours: same exit statuses and same parsed outputs.
func TestKubeOVNStartScript(t *testing.T) {
	t.Parallel()
	impls, tool := ovnCtlClusterImpls(t)
	const localConfigSchema = "/usr/share/openvswitch/local-config.ovsschema"
	if _, err := os.Stat(localConfigSchema); err != nil {
		t.Fatalf("%s missing: run `make deps`", localConfigSchema)
	}
	for _, nodes := range []int{1, 3} {
		outputs := map[string][]kubeStep{}
		for _, impl := range impls {
			bin := realBinary(t, impl.bin)
			t.Run(fmt.Sprintf("%dnode/%s", nodes, impl.name), func(t *testing.T) {
				ports := freePorts(t, 4*nodes)
				var ns []*kubeNode
				for i := 0; i < nodes; i++ {
					e := newOVNCtlEnv(t, bin)
					if impl.name == "Go" {
						require.NoError(t, os.Symlink(tool, filepath.Join(e.binDir, "ovsdb-tool")))
					}
					n := &kubeNode{env: e, nb: ports[4*i], sb: ports[4*i+1], nbRaft: ports[4*i+2], sbRaft: ports[4*i+3]}
					ns = append(ns, n)
					for _, db := range []string{"nb", "sb"} {
						pidfile := e.pidfile(db)
						t.Cleanup(func() { killDaemon(pidfile, bin) })
					}
					northdPid := filepath.Join(e.root, "run", "ovn-northd.pid")
					t.Cleanup(func() { killDaemon(northdPid, "/usr/bin/ovn-northd") })
				}
				var steps []kubeStep
				// run runs one command of the script on node n; the script
				// stops at a failure (set -e), and so does the test, unless
				// the script tolerates it (mayFail).
				run := func(n *kubeNode, mayFail bool, parse func(string) string, name string, args ...string) string {
					t.Helper()
					var out, errOut string
					var err error
					if name == "ovn-ctl" {
						out, err = n.env.runArgs(args...)
					} else {
						out, errOut, err = n.env.tool(name, args...)
					}
					st := kubeStep{name: name + " " + masked(strings.Join(args, " "), n.env.root, ports), status: exitStatus(err)}
					if parse != nil {
						st.parsed = parse(out + errOut)
					}
					steps = append(steps, st)
					if !mayFail {
						require.NoError(t, err, "%s %s:\n%s%s", name, strings.Join(args, " "), out, errOut)
					}
					return out + errOut
				}
				etc := func(n *kubeNode, f string) string { return filepath.Join(n.env.root, "etc", "ovn", f) }
				dbFile := func(n *kubeNode, db string) string { return filepath.Join(n.env.root, "db", "ovn"+db+"_db.db") }
				ctlSock := func(n *kubeNode, db string) string {
					return filepath.Join(n.env.root, "run", "ovn"+db+"_db.ctl")
				}
				memoryTrim := func(n *kubeNode) {
					// "Reclaim heap memory after compaction".
					for _, db := range []string{"nb", "sb"} {
						run(n, false, nil, "ovs-appctl", "-t", ctlSock(n, db), "ovsdb-server/memory-trim-on-compaction", "on")
					}
				}
				if nodes == 1 {
					n := ns[0]
					run(n, false, nil, "ovn-ctl", "restart_northd")
					run(n, false, nil, "ovn-nbctl", "--no-leader-only", "set-connection", fmt.Sprintf("ptcp:%d:[127.0.0.1]", n.nb))
					run(n, false, nil, "ovn-nbctl", "--no-leader-only", "set", "Connection", ".", "inactivity_probe=180000")
					run(n, false, nil, "ovn-nbctl", "--no-leader-only", "set", "NB_Global", ".", "options:northd_probe_interval=5000")
					run(n, false, nil, "ovn-nbctl", "--no-leader-only", "set", "NB_Global", ".", "options:use_logical_dp_groups=true")
					run(n, false, nil, "ovn-sbctl", "--no-leader-only", "set-connection", fmt.Sprintf("ptcp:%d:[127.0.0.1]", n.sb))
					run(n, false, nil, "ovn-sbctl", "--no-leader-only", "set", "Connection", ".", "inactivity_probe=180000")
					memoryTrim(n)
					waitFor(t, "the NB listener set by set-connection", func() bool {
						_, _, err := n.env.tool("ovsdb-client", "--timeout=5", "list-dbs", fmt.Sprintf("tcp:127.0.0.1:%d", n.nb))
						return err == nil
					})
					run(n, false, nil, "ovn-ctl", "stop_northd")
					run(n, false, nil, "ovn-ctl", "stop_ovsdb")
					outputs[impl.name] = steps
					return
				}

				// ovn_db_pre_start: check an existing clustered file, then
				// make the Local_Config database with the node's listener.
				preStart := func(n *kubeNode, db string) {
					f := dbFile(n, db)
					if _, err := os.Stat(f); err == nil {
						run(n, true, nil, "ovsdb-tool", "db-is-clustered", f)
						run(n, true, func(out string) string {
							return strconv.FormatBool(strings.Contains(out, "has not joined the cluster"))
						}, "ovsdb-tool", "check-cluster", f)
						run(n, false, nil, "ovsdb-tool", "check-cluster", f)
					}
					cfg := etc(n, "ovn"+db+"_local_config.db")
					_ = os.Remove(cfg)
					require.NoError(t, os.MkdirAll(filepath.Dir(cfg), 0o755))
					run(n, false, nil, "ovsdb-tool", "create", cfg, localConfigSchema)
					port := map[string]int{"nb": n.nb, "sb": n.sb}[db]
					run(n, false, nil, "ovsdb-tool", "transact", cfg, fmt.Sprintf(`["Local_Config",
						{"op": "insert", "table": "Config", "row": {"connections": ["named-uuid", "nameduuid"]}},
						{"op": "insert", "table": "Connection", "uuid-name": "nameduuid", "row": {"target": "ptcp:%d:[127.0.0.1]"}}]`, port))
				}
				// ovndb_query_leader nb on node m, as is_clustered does.
				queryLeader := func(n, m *kubeNode) bool {
					q := `["_Server",{"table":"Database","where":[["name","==","OVN_Northbound"]],"columns":["leader"],"op":"select"}]`
					out := run(n, true, func(out string) string {
						return strconv.FormatBool(strings.Contains(out, "true"))
					}, "ovsdb-client", "--timeout=10", "query", fmt.Sprintf("tcp:[127.0.0.1]:%d", m.nb), q)
					return strings.Contains(out, "true")
				}
				start := func(n *kubeNode, leader *kubeNode) {
					args := []string{
						"--db-nb-create-insecure-remote=yes", "--db-sb-create-insecure-remote=yes",
						"--db-nb-cluster-local-addr=[127.0.0.1]", "--db-sb-cluster-local-addr=[127.0.0.1]",
						"--db-nb-cluster-local-port=" + strconv.Itoa(n.nbRaft), "--db-sb-cluster-local-port=" + strconv.Itoa(n.sbRaft),
						"--db-nb-addr=[127.0.0.1]", "--db-sb-addr=[127.0.0.1]",
						"--db-nb-port=" + strconv.Itoa(n.nb), "--db-sb-port=" + strconv.Itoa(n.sb),
						"--db-nb-use-remote-in-db=no", "--db-sb-use-remote-in-db=no",
					}
					if leader != nil {
						args = append(args,
							"--db-nb-cluster-remote-addr=[127.0.0.1]", "--db-sb-cluster-remote-addr=[127.0.0.1]",
							"--db-nb-cluster-remote-port="+strconv.Itoa(leader.nbRaft), "--db-sb-cluster-remote-port="+strconv.Itoa(leader.sbRaft))
					}
					for _, db := range []string{"nb", "sb"} {
						full := append(append([]string{}, args...), "start_"+db+"_ovsdb", "--",
							"--remote=db:Local_Config,Config,connections", etc(n, "ovn"+db+"_local_config.db"))
						run(n, false, nil, "ovn-ctl", full...)
					}
				}
				boot := func(i int, restart bool) {
					n := ns[i]
					run(n, true, nil, "ovn-ctl", "stop_northd")
					preStart(n, "nb")
					preStart(n, "sb")
					clustered := false
					for _, m := range ns {
						if queryLeader(n, m) {
							clustered = true
							break
						}
					}
					if !clustered && i == 0 {
						start(n, nil)
						run(n, false, nil, "ovn-nbctl", "--no-leader-only", "set", "NB_Global", ".", "options:inactivity_probe=180000")
						run(n, false, nil, "ovn-sbctl", "--no-leader-only", "set", "SB_Global", ".", "options:inactivity_probe=180000")
						run(n, false, nil, "ovn-nbctl", "--no-leader-only", "set", "NB_Global", ".", "options:northd_probe_interval=5000")
						run(n, false, nil, "ovn-nbctl", "--no-leader-only", "set", "NB_Global", ".", "options:use_logical_dp_groups=true")
					} else {
						require.True(t, clustered, "node %d finds no leader", i+1)
						start(n, ns[0])
					}
					memoryTrim(n)
					if restart {
						sid := run(n, false, func(out string) string {
							return strconv.FormatBool(sidRE.MatchString(strings.TrimSpace(out)))
						}, "ovsdb-tool", "db-sid", dbFile(n, "nb"))
						require.Regexp(t, sidRE, strings.TrimSpace(sid))
					}
				}
				for i := range ns {
					boot(i, false)
				}
				// The third node restarts with its existing files.
				for _, db := range []string{"nb", "sb"} {
					run(ns[2], false, nil, "ovn-ctl", "stop_"+db+"_ovsdb")
				}
				boot(2, true)
				for _, n := range ns {
					run(n, true, nil, "ovn-ctl", "stop_ovsdb")
				}
				outputs[impl.name] = steps
			})
		}
		if ref, test := outputs["C"], outputs["Go"]; ref != nil && test != nil {
			assert.Equal(t, ref, test, "%d node(s): exit statuses and parsed outputs with C and with ours", nodes)
		}
	}
}

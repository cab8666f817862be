package conformance

// OVN's ovn-ctl driving what deployments do with it: listeners opened and
// closed through the database (set-connection, del-connection), and
// clustered NB and SB databases built by ovn-ctl's cluster options,
// restarted with their existing files. Each runs on the C server and on
// ours; the scripts' outputs must be the same.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// requireOVNCtl fails (CI) or skips when ovn-ctl or the tools it runs are
// missing.
func requireOVNCtl(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(ovnCtlScript); err != nil {
		if testutil.InCI() {
			t.Fatalf("%s missing (CI=true: run `make deps`)", ovnCtlScript)
		}
		testutil.MissingPrerequisite(t, "%s missing; run `make deps`", ovnCtlScript)
	}
	for _, tool := range []string{"ovsdb-tool", "ovsdb-client", "ovn-nbctl", "ovn-sbctl", "ovn-appctl", "ovs-appctl"} {
		testutil.RequireTool(t, tool)
	}
}

// ovnCtlClusterImpls fails (CI) or skips without ovn-ctl, and returns the
// implementations ovn-ctl cluster tests run on: C, and ours when the
// cluster server under test is not C's; tool is the matching ovsdb-tool.
func ovnCtlClusterImpls(t *testing.T) (impls []e2eImpl, tool string) {
	t.Helper()
	requireOVNCtl(t)
	server, tool := clusterTools(t)
	ref, _ := implementations(t)
	impls = []e2eImpl{{name: "C", bin: ref}}
	if server != ref {
		impls = append(impls, e2eImpl{name: "Go", bin: server})
	}
	return impls, tool
}

// realBinary is the absolute path of bin with its symbolic links
// resolved: what a daemon started by a script shows as /proc/PID/exe.
func realBinary(t *testing.T, bin string) string {
	t.Helper()
	p, err := filepath.EvalSymlinks(bin)
	require.NoError(t, err)
	p, err = filepath.Abs(p)
	require.NoError(t, err)
	return p
}

// runArgs runs `ovn-ctl ARGS...` and returns its combined output and error.
func (e *ovnCtlEnv) runArgs(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*e2eWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, ovnCtlScript, args...)
	cmd.Env = e.env
	cmd.Dir = e.root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// tool runs one of the OVS/OVN command-line tools in e's environment
// (its run directory), returning stdout, stderr and the error.
func (e *ovnCtlEnv) tool(name string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	// exec looks a bare name up in this process's PATH, not in cmd.Env's:
	// the environment's binDir (the binaries under test) comes first.
	if !strings.Contains(name, "/") {
		if _, err := os.Stat(filepath.Join(e.binDir, name)); err == nil {
			name = filepath.Join(e.binDir, name)
		}
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = e.env
	cmd.Dir = e.root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return ports
}

// waitFor polls cond every 50 ms until it holds or e2eWait passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(e2eWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logTimeRE matches the timestamp of a vlog line.
var logTimeRE = regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z`)

// masked replaces the per-run parts of a script's output.
func masked(out, root string, ports []int) string {
	out = strings.ReplaceAll(out, root, "<root>")
	out = logTimeRE.ReplaceAllString(out, "<time>")
	for i, p := range ports {
		out = strings.ReplaceAll(out, strconv.Itoa(p), fmt.Sprintf("<port%d>", i))
	}
	return pidRE.ReplaceAllString(out, "(<pid>)")
}

// TestE2EOVNCtlConnections opens TCP listeners the way every OVN deployment
// does: ovn-ctl serves NB and SB with --remote=db:...,NB_Global,connections
// (and SB_Global), `ovn-nbctl set-connection ptcp:PORT:127.0.0.1` must make
// a listener that `ovsdb-client list-dbs tcp:` reaches, `set connection .
// inactivity_probe=0` is accepted and read back, `del-connection` must
// close the listener, and ovn-ctl stops the server. The transcripts of the
// C server and ours must be equal.
func TestE2EOVNCtlConnections(t *testing.T) {
	t.Parallel()
	requireOVNCtl(t)
	impls := e2eImplementations(t)
	outputs := map[string][]string{}
	for _, impl := range impls {
		bin := realBinary(t, impl.bin)
		t.Run(impl.name, func(t *testing.T) {
			e := newOVNCtlEnv(t, bin)
			ports := freePorts(t, 2)
			var transcript []string
			note := func(step, out string) {
				transcript = append(transcript, masked(step+": "+out, e.root, ports))
			}
			for i, db := range []string{"nb", "sb"} {
				pidfile := e.pidfile(db)
				t.Cleanup(func() { killDaemon(pidfile, bin) })
				out, err := e.runArgs("start_" + db + "_ovsdb")
				require.NoError(t, err, "ovn-ctl start_%s_ovsdb:\n%s", db, out)
				note("start_"+db+"_ovsdb", out)

				ctl := "ovn-" + db + "ctl"
				sock := "unix:" + filepath.Join(e.root, "run", "ovn"+db+"_db.sock")
				run := func(args ...string) string {
					t.Helper()
					full := append([]string{"--db=" + sock}, args...)
					stdout, stderr, err := e.tool(ctl, full...)
					require.NoError(t, err, "%s %s: %s", ctl, strings.Join(args, " "), stderr)
					note(ctl+" "+strings.Join(args, " "), stdout+stderr)
					return stdout
				}
				remote := fmt.Sprintf("tcp:127.0.0.1:%d", ports[i])
				listDBs := func() (string, error) {
					out, _, err := e.tool("ovsdb-client", "--timeout=5", "list-dbs", remote)
					return out, err
				}
				run("set-connection", fmt.Sprintf("ptcp:%d:127.0.0.1", ports[i]))
				waitFor(t, "the listener of "+remote, func() bool { _, err := listDBs(); return err == nil })
				dbs, err := listDBs()
				require.NoError(t, err)
				note("ovsdb-client list-dbs", dbs)
				run("set", "connection", ".", "inactivity_probe=0")
				require.Equal(t, "0\n", run("get", "connection", ".", "inactivity_probe"))
				run("del-connection")
				waitFor(t, "the listener of "+remote+" to close", func() bool { _, err := listDBs(); return err != nil })

				pid, err := readPid(pidfile)
				require.NoError(t, err)
				out, err = e.runArgs("stop_" + db + "_ovsdb")
				require.NoError(t, err, "ovn-ctl stop_%s_ovsdb:\n%s", db, out)
				note("stop_"+db+"_ovsdb", out)
				waitFor(t, "the server to exit", func() bool { return !pidAlive(pid) })
			}
			outputs[impl.name] = transcript
		})
	}
	if ref, test := outputs["C"], outputs["Go"]; ref != nil && test != nil {
		assert.Equal(t, ref, test, "ovn-ctl and client output with the C server and with ours")
	}
}

// ovnCtlMember is one member of a cluster started by ovn-ctl: its own
// directories, and the cluster ports of its NB and SB databases.
type ovnCtlMember struct {
	env            *ovnCtlEnv
	nbPort, sbPort int
}

// clusterArgs are ovn-ctl's options that make the member's NB and SB
// clustered: local addresses, and for a joining member the first member's.
func (m *ovnCtlMember) clusterArgs(first *ovnCtlMember) []string {
	args := []string{
		"--db-nb-cluster-local-addr=127.0.0.1", "--db-nb-cluster-local-port=" + strconv.Itoa(m.nbPort),
		"--db-sb-cluster-local-addr=127.0.0.1", "--db-sb-cluster-local-port=" + strconv.Itoa(m.sbPort),
	}
	if first != nil {
		args = append(args,
			"--db-nb-cluster-remote-addr=127.0.0.1", "--db-nb-cluster-remote-port="+strconv.Itoa(first.nbPort),
			"--db-sb-cluster-remote-addr=127.0.0.1", "--db-sb-cluster-remote-port="+strconv.Itoa(first.sbPort))
	}
	return args
}

// TestE2EOVNCtlCluster builds a 3-member clustered NB and SB with ovn-ctl's
// cluster options (create-cluster on the first member, join-cluster on the
// others, `ovn-nbctl init` and upgrade_cluster on first start), stops one
// member and starts it again with its existing files, then writes through a
// follower and reads the write on every member. ovn-ctl's output (first
// starts included: C's is quiet) must be the same with the C server and
// ours.
func TestE2EOVNCtlCluster(t *testing.T) {
	t.Parallel()
	impls, tool := ovnCtlClusterImpls(t)
	outputs := map[string][]string{}
	for _, impl := range impls {
		bin := realBinary(t, impl.bin)
		t.Run(impl.name, func(t *testing.T) {
			ports := freePorts(t, 6)
			var members []*ovnCtlMember
			for i := 0; i < 3; i++ {
				e := newOVNCtlEnv(t, bin)
				if impl.name == "Go" {
					// Our cluster files are made by our ovsdb-tool, which
					// ovn-ctl must find first on PATH.
					require.NoError(t, os.Symlink(tool, filepath.Join(e.binDir, "ovsdb-tool")))
				}
				m := &ovnCtlMember{env: e, nbPort: ports[2*i], sbPort: ports[2*i+1]}
				members = append(members, m)
				for _, db := range []string{"nb", "sb"} {
					pidfile := e.pidfile(db)
					t.Cleanup(func() { killDaemon(pidfile, bin) })
				}
			}
			var transcript []string
			step := func(i int, cmd string) {
				t.Helper()
				var first *ovnCtlMember
				if i > 0 {
					first = members[0]
				}
				m := members[i]
				args := append(m.clusterArgs(first), cmd)
				out, err := m.env.runArgs(args...)
				require.NoError(t, err, "member %d: ovn-ctl %s:\n%s", i+1, cmd, out)
				transcript = append(transcript, fmt.Sprintf("member %d %s: %s", i+1, cmd, masked(out, m.env.root, ports)))
			}
			for i := range members {
				step(i, "start_nb_ovsdb")
				step(i, "start_sb_ovsdb")
			}
			nbctl := func(i int, args ...string) (string, error) {
				m := members[i]
				full := append([]string{"--no-leader-only", "--db=unix:" + filepath.Join(m.env.root, "run", "ovnnb_db.sock")}, args...)
				stdout, stderr, err := m.env.tool("ovn-nbctl", full...)
				if err != nil {
					return stdout, fmt.Errorf("%w: %s", err, stderr)
				}
				return stdout, nil
			}
			_, err := nbctl(0, "ls-add", "sw-before")
			require.NoError(t, err)

			// Stop the third member and start it again on its existing
			// files (ovn-ctl then neither creates nor joins).
			for _, db := range []string{"nb", "sb"} {
				pid, err := readPid(members[2].env.pidfile(db))
				require.NoError(t, err)
				step(2, "stop_"+db+"_ovsdb")
				waitFor(t, "member 3's "+db+" server to exit", func() bool { return !pidAlive(pid) })
			}
			step(2, "start_nb_ovsdb")
			step(2, "start_sb_ovsdb")

			// A write through a member that does not lead (or through the
			// leader: whichever member 2 is), read on every member.
			_, err = nbctl(1, "ls-add", "sw-after")
			require.NoError(t, err)
			for i := range members {
				waitFor(t, fmt.Sprintf("member %d to show both switches", i+1), func() bool {
					out, err := nbctl(i, "--bare", "--columns=name", "list", "Logical_Switch")
					return err == nil && strings.Contains(out, "sw-before") && strings.Contains(out, "sw-after")
				})
			}
			for i := range members {
				for _, db := range []string{"nb", "sb"} {
					out, err := members[i].env.runArgs("status_ovn" + db)
					require.NoError(t, err, "status_ovn%s: %s", db, out)
					transcript = append(transcript, fmt.Sprintf("member %d status_ovn%s: %s", i+1, db, masked(out, members[i].env.root, ports)))
				}
			}
			outputs[impl.name] = transcript
		})
	}
	if ref, test := outputs["C"], outputs["Go"]; ref != nil && test != nil {
		assert.Equal(t, ref, test, "ovn-ctl output with C clusters and with ours")
	}
}

package conformance

// Helpers of e2e_cluster_test.go: OVN databases served by 3-member Raft
// clusters (built with ovsdb-tool create-cluster / join-cluster and served
// by one ovsdb-server process per member on 127.0.0.1), ovn-northd on
// comma-separated remotes, and the line-driven Python IDL client.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// clusterTools returns the ovsdb-server and ovsdb-tool the clusters are
// built with: ours (the tool built here) or, with CONFORMANCE_IMPL=c, C's
// (which validates the test itself).
func clusterTools(t *testing.T) (server, tool string) {
	t.Helper()
	ref, test := implementations(t)
	if test == ref {
		return ref, testutil.RequireTool(t, "ovsdb-tool")
	}
	tool = filepath.Join(t.TempDir(), "ovsdb-tool")
	cmd := exec.Command("go", "build", "-o", tool, "./cmd/ovsdb-tool")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/ovsdb-tool: %s", out)
	return test, tool
}

// clusterMember is one ovsdb-server process of a test cluster.
type clusterMember struct {
	db, sock, ctl, log, addr string
	cmd                      *exec.Cmd
	done                     chan struct{}
}

func (m *clusterMember) alive() bool {
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// ovnCluster is a 3-member cluster serving one OVN database.
type ovnCluster struct {
	t       *testing.T
	dbName  string
	dir     string
	members []*clusterMember
}

// freeTCPAddr returns "tcp:127.0.0.1:PORT" with a port the kernel just gave
// out (closed again so that a member can bind it).
func freeTCPAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return "tcp:" + l.Addr().String()
}

// startOVNCluster creates an n-member cluster of the OVN database kind ("nb"
// or "sb") with tool (create-cluster on member 0, join-cluster on the
// others), starts every member with server and waits until the members'
// _Server rows show one connected leader.
func startOVNCluster(t *testing.T, server, tool, kind string, n int) *ovnCluster {
	t.Helper()
	schemaFile := map[string]string{"nb": ovnNBSchema, "sb": ovnSBSchema}[kind]
	dbName := map[string]string{"nb": "OVN_Northbound", "sb": "OVN_Southbound"}[kind]
	require.NotEmpty(t, schemaFile, "unknown OVN database kind %q", kind)
	if _, err := os.Stat(schemaFile); err != nil {
		if testutil.InCI() {
			t.Fatalf("OVN schema %s missing (CI=true: run `make deps`)", schemaFile)
		}
		testutil.MissingPrerequisite(t, "OVN schema %s missing; run `make deps`", schemaFile)
	}
	c := &ovnCluster{t: t, dbName: dbName, dir: t.TempDir()}
	for i := 0; i < n; i++ {
		base := filepath.Join(c.dir, fmt.Sprintf("%s%d", kind, i))
		m := &clusterMember{db: base + ".db", sock: base + ".sock", ctl: base + ".ctl", log: base + ".log", addr: freeTCPAddr(t)}
		var args []string
		if i == 0 {
			args = []string{"create-cluster", m.db, schemaFile, m.addr}
		} else {
			args = []string{"join-cluster", m.db, dbName, m.addr, c.members[0].addr}
		}
		out, err := exec.Command(tool, args...).CombinedOutput()
		require.NoError(t, err, "ovsdb-tool %s: %s", strings.Join(args, " "), out)
		c.members = append(c.members, m)
	}
	t.Cleanup(c.stopAll)
	for _, m := range c.members {
		c.start(server, m)
	}
	c.waitLeader(c.members)
	return c
}

func (c *ovnCluster) start(server string, m *clusterMember) {
	c.t.Helper()
	c.startArgs(server, m, nil, "--remote=punix:"+m.sock, "--unixctl="+m.ctl,
		"--no-chdir", "--log-file="+m.log, m.db)
}

// startArgs starts member m of c: server with args, in the cluster's
// directory, with env (nil: this process's environment), its stdout and
// stderr appended to the member's log name with .stderr; m.done is closed
// when it exits.
func (c *ovnCluster) startArgs(server string, m *clusterMember, env []string, args ...string) {
	t := c.t
	t.Helper()
	logf, err := os.OpenFile(m.log+".stderr", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	m.cmd = exec.Command(server, args...)
	m.cmd.Dir = c.dir
	m.cmd.Env = env
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	require.NoError(t, m.cmd.Start(), "start member %s", m.db)
	m.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}, f *os.File) {
		_ = cmd.Wait()
		_ = f.Close()
		close(done)
	}(m.cmd, m.done, logf)
}

// kill sends SIGKILL to the member's process (ours, by PID) and waits for
// it to exit.
func (c *ovnCluster) kill(m *clusterMember) {
	if !m.alive() {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		c.t.Errorf("member %s did not exit after SIGKILL", m.db)
	}
}

// stopAll terminates every member still running (SIGTERM, then SIGKILL).
func (c *ovnCluster) stopAll() {
	for _, m := range c.members {
		if !m.alive() {
			continue
		}
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.done:
		case <-time.After(5 * time.Second):
			c.kill(m)
		}
	}
}

// remotes is the comma-separated list of every member's unix socket (dead
// ones included, as a client's configuration would be).
func (c *ovnCluster) remotes() string {
	var rs []string
	for _, m := range c.members {
		rs = append(rs, "unix:"+m.sock)
	}
	return strings.Join(rs, ",")
}

func (c *ovnCluster) live() []*clusterMember {
	var out []*clusterMember
	for _, m := range c.members {
		if m.alive() {
			out = append(out, m)
		}
	}
	return out
}

// serverRow returns member m's _Server.Database row of the cluster's
// database, as the leader-only C and Python clients read it.
func (c *ovnCluster) serverRow(m *clusterMember) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := rpcOnce(ctx, m.sock, "transact", "_Server", map[string]any{
		"op": "select", "table": "Database", "where": []any{[]any{"name", "==", c.dbName}},
		"columns": []any{"connected", "leader", "model"}})
	if err != nil {
		return nil, err
	}
	res, _ := r.([]any)
	if len(res) != 1 {
		return nil, fmt.Errorf("bad _Server reply %v", r)
	}
	obj, _ := res[0].(map[string]any)
	rows, _ := obj["rows"].([]any)
	if len(rows) != 1 {
		return nil, fmt.Errorf("no _Server row for %s: %v", c.dbName, r)
	}
	row, _ := rows[0].(map[string]any)
	return row, nil
}

// waitLeader waits (bounded) until exactly one of among reports itself, in
// _Server, as the connected leader and every other one as a connected
// clustered member, and returns the leader.
func (c *ovnCluster) waitLeader(among []*clusterMember) *clusterMember {
	c.t.Helper()
	var leader *clusterMember
	var last string
	deadline := time.Now().Add(e2eWait)
	for {
		leader = nil
		leaders, ok := 0, true
		var states []string
		for _, m := range among {
			row, err := c.serverRow(m)
			if err != nil {
				ok = false
				states = append(states, fmt.Sprintf("%s: %v", filepath.Base(m.db), err))
				continue
			}
			states = append(states, fmt.Sprintf("%s: %v", filepath.Base(m.db), row))
			if row["model"] != "clustered" || row["connected"] != true {
				ok = false
			}
			if row["leader"] == true {
				leaders++
				leader = m
			}
		}
		if ok && leaders == 1 {
			return leader
		}
		last = strings.Join(states, "; ")
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: no single connected leader within %v: %s\n%s", c.dbName, e2eWait, last, c.diagnose())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// diagnose describes every member for a failure message: whether its
// process runs, the key lines of its cluster/status (asked with a short
// timeout) and the tail of its log.
func (c *ovnCluster) diagnose() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s cluster state:", c.dbName)
	for _, m := range c.members {
		fmt.Fprintf(&b, "\n--- %s (%s): ", filepath.Base(m.db), m.addr)
		if !m.alive() {
			b.WriteString("not running")
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			r, err := rpcOnce(ctx, m.ctl, "cluster/status", c.dbName)
			cancel()
			if err != nil {
				fmt.Fprintf(&b, "cluster/status: %v", err)
			} else {
				s, _ := r.(string)
				var keep []string
				for _, l := range strings.Split(s, "\n") {
					for _, k := range []string{"Status:", "Role:", "Term:", "Leader:", "Log:", "Entries not yet", "Connections:"} {
						if strings.HasPrefix(l, k) {
							keep = append(keep, l)
						}
					}
				}
				b.WriteString(strings.Join(keep, "; "))
			}
		}
		data, _ := os.ReadFile(m.log)
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "\n    %s", strings.Join(lines, "\n    "))
	}
	return b.String()
}

func (c *ovnCluster) logTails() string {
	var b strings.Builder
	for _, m := range c.members {
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(m.log), testutil.LogTail(m.log, 25))
	}
	return b.String()
}

// rpcOnce is testutil.RPCOnce.
var rpcOnce = testutil.RPCOnce

// startNorthdRemotes starts the real ovn-northd on NB and SB given as
// (comma-separated) remotes; it is stopped (by PID) when the test ends.
func startNorthdRemotes(t *testing.T, nbRemotes, sbRemotes string) *northd {
	t.Helper()
	bin := testutil.RequireTool(t, "ovn-northd")
	dir := t.TempDir()
	n := &northd{log: filepath.Join(dir, "ovn-northd.log"), ctl: filepath.Join(dir, "ovn-northd.ctl"), done: make(chan struct{})}
	n.cmd = exec.Command(bin, "--ovnnb-db="+nbRemotes, "--ovnsb-db="+sbRemotes,
		"--no-chdir", "--pidfile="+filepath.Join(dir, "ovn-northd.pid"),
		"--log-file="+n.log, "--unixctl="+n.ctl, "-vconsole:off")
	n.cmd.Env = ovnToolEnv(dir)
	n.cmd.Dir = dir
	require.NoError(t, n.cmd.Start(), "start ovn-northd")
	go func() { _ = n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		select {
		case <-n.done:
			return
		default:
		}
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(5 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	})
	return n
}

// idlClient is a running testdata/e2e/idl_cluster_client.py, driven one
// command line at a time.
type idlClient struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr string // file receiving the client's stderr
}

// startIDLClient starts the Python IDL client on remotes and waits for its
// "ready" line.
func startIDLClient(t *testing.T, remotes, rundir string) *idlClient {
	t.Helper()
	py := requirePythonIDL(t)
	script, err := filepath.Abs("testdata/e2e/idl_cluster_client.py")
	require.NoError(t, err)
	c := &idlClient{t: t, lines: make(chan string, 16), stderr: filepath.Join(rundir, "idl_cluster_client.stderr")}
	errf, err := os.Create(c.stderr)
	require.NoError(t, err)
	defer errf.Close()
	c.cmd = exec.Command(py, script, remotes, ovnNBSchema)
	c.cmd.Env = ovnToolEnv(rundir)
	c.cmd.Dir = rundir
	c.cmd.Stderr = errf
	c.stdin, err = c.cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := c.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, c.cmd.Start(), "start idl_cluster_client.py")
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		_ = c.stdin.Close()
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		_ = c.cmd.Wait()
	})
	ready := c.next()
	require.True(t, strings.HasPrefix(ready, "ready "), "IDL client start: %q\nstderr: %s", ready, c.stderrTail())
	return c
}

// next returns the client's next output line, failing the test if none
// comes within e2eWait or the client exits.
func (c *idlClient) next() string {
	c.t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			c.t.Fatalf("IDL client exited; stderr:\n%s", c.stderrTail())
		}
		return l
	case <-time.After(e2eWait):
		c.t.Fatalf("IDL client gave no answer within %v; stderr:\n%s", e2eWait, c.stderrTail())
	}
	return ""
}

// do sends one command line and returns the client's answer.
func (c *idlClient) do(cmd string) string {
	c.t.Helper()
	_, err := io.WriteString(c.stdin, cmd+"\n")
	require.NoError(c.t, err, "write to IDL client")
	return c.next()
}

func (c *idlClient) stderrTail() string {
	b, _ := os.ReadFile(c.stderr)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// switchNames reads the Logical_Switch names from member m's own replica
// (a plain transact select, answered by any member), sorted.
func (c *ovnCluster) switchNames(m *clusterMember) ([]string, error) {
	return selectSwitchNames(m.sock, c.dbName)
}

// selectSwitchNames is the sorted names of the Logical_Switch rows of
// database db on the server at unix socket sock (a plain transact select,
// answered by any member); an error object in the reply is an error.
func selectSwitchNames(sock, db string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := rpcOnce(ctx, sock, "transact", db, map[string]any{
		"op": "select", "table": "Logical_Switch", "where": []any{}, "columns": []any{"name"}})
	if err != nil {
		return nil, err
	}
	res, _ := r.([]any)
	if len(res) != 1 {
		return nil, fmt.Errorf("bad select reply %v", r)
	}
	obj, _ := res[0].(map[string]any)
	if e, ok := obj["error"]; ok {
		return nil, fmt.Errorf("select: %v: %v", e, obj["details"])
	}
	rows, _ := obj["rows"].([]any)
	out := []string{}
	for _, row := range rows {
		name, _ := row.(map[string]any)["name"].(string)
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// waitForCond polls cond until it holds, failing the test after e2eWait
// with the outputs of diag (a cluster's diagnose).
func waitForCond(t *testing.T, what string, cond func() bool, diag ...func() string) {
	t.Helper()
	deadline := time.Now().Add(e2eWait)
	for !cond() {
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, d := range diag {
				b.WriteString("\n")
				b.WriteString(d())
			}
			t.Fatalf("timed out (%v) waiting until %s%s", e2eWait, what, b.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ctlRun runs an ovn-nbctl / ovn-sbctl command against the cluster (ctl's
// remotes are its members) and fails the test unless it succeeds, with
// the members' states; it returns stdout. (ovn-nbctl is itself bounded by
// --timeout.)
func (c *ovnCluster) ctlRun(ctl *ovnCtl, args ...string) string {
	c.t.Helper()
	out, errOut, err := ctl.exec(args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\nstderr: %s\n%s", filepath.Base(ctl.bin), strings.Join(args, " "), err, errOut, c.diagnose())
	}
	return out
}

package conformance

// The site of a runbook test (runbook_test.go): the shell variables of
// docs/operations.md for members 1..N in a temporary directory (one
// "hostN" directory per member, cluster addresses on 127.0.0.1 with free
// ports), a PATH whose ovsdb-server and ovsdb-tool are ours and a $C_BIN
// with C's, set-up helpers that build the starting situations, and the
// step runner. Every server is started detached with a pidfile, by the
// test or by a runbook step; the site stops exactly those processes, by
// the PIDs their pidfiles named, when the test ends.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// runbookStepTimeout bounds one step (the steps' own waits are 60 s).
const runbookStepTimeout = 2 * time.Minute

// runbookServerOpts is $NB_SERVER_OPTS: what a site adds to ovsdb-server's
// command line; here the listeners of NB_Global's connections, as ovn-ctl
// starts OVN's databases.
const runbookServerOpts = "--remote=db:OVN_Northbound,NB_Global,connections"

type runbookSite struct {
	t       *testing.T
	dir     string
	members int
	server  string // our ovsdb-server
	tool    string // our ovsdb-tool
	cServer string // C's
	cTool   string
	vars    map[string]string
	env     []string
	pids    map[int]bool // every server PID a pidfile named
	nsteps  int
}

// newRunbookSite prepares the variables of members 1..members (none is
// created or started) with NB_REMOTES naming the data members' sockets.
func newRunbookSite(t *testing.T, members int, data []int) *runbookSite {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process runbook test")
	}
	if os.Getenv("CONFORMANCE_IMPL") == "c" {
		t.Skip("the runbooks describe this project's server (CONFORMANCE_IMPL=c)")
	}
	for _, tool := range []string{"ovs-appctl", "ovsdb-client", "ovn-nbctl", "timeout"} {
		testutil.RequireTool(t, tool)
	}
	if _, err := os.Stat(ovnNBSchema); err != nil {
		testutil.MissingPrerequisite(t, "OVN schema %s missing; run `make deps`", ovnNBSchema)
	}
	s := &runbookSite{t: t, dir: t.TempDir(), members: members, vars: map[string]string{}, pids: map[int]bool{}}
	s.server, s.tool = clusterTools(t)
	s.cServer = realBinary(t, testutil.RequireTool(t, "ovsdb-server"))
	s.cTool = realBinary(t, testutil.RequireTool(t, "ovsdb-tool"))
	require.NotEqual(t, s.cServer, realBinary(t, s.server), "our server is C's")

	bin, cbin := filepath.Join(s.dir, "bin"), filepath.Join(s.dir, "c-bin")
	for d, links := range map[string][2]string{bin: {s.server, s.tool}, cbin: {s.cServer, s.cTool}} {
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.Symlink(links[0], filepath.Join(d, "ovsdb-server")))
		require.NoError(t, os.Symlink(links[1], filepath.Join(d, "ovsdb-tool")))
	}
	for n := 1; n <= members; n++ {
		host := filepath.Join(s.dir, fmt.Sprintf("host%d", n))
		require.NoError(t, os.MkdirAll(host, 0o755))
		for k, v := range map[string]string{
			"DB": "ovnnb_db.db", "CTL": "ovnnb_db.ctl", "SOCK": "ovnnb_db.sock",
			"PID": "ovnnb_db.pid", "LOG": "ovsdb-server-nb.log",
		} {
			s.vars[fmt.Sprintf("NB_%s%d", k, n)] = filepath.Join(host, v)
		}
		s.vars[fmt.Sprintf("NB_ADDR%d", n)] = freeTCPAddr(t)
	}
	var remotes []string
	for _, n := range data {
		remotes = append(remotes, "unix:"+s.v(fmt.Sprintf("NB_SOCK%d", n)))
	}
	s.vars["NB_REMOTES"] = strings.Join(remotes, ",")
	s.vars["NB_SCHEMA"] = ovnNBSchema
	s.vars["NB_SERVER_OPTS"] = runbookServerOpts
	s.vars["BACKUP_DIR"] = filepath.Join(s.dir, "backup")
	s.vars["C_BIN"] = cbin
	require.NoError(t, os.MkdirAll(s.vars["BACKUP_DIR"], 0o755))

	s.env = ovnToolEnv(s.dir)
	for i, kv := range s.env {
		if strings.HasPrefix(kv, "PATH=") {
			s.env[i] = "PATH=" + bin + ":" + strings.TrimPrefix(kv, "PATH=")
		}
	}
	for k, v := range s.vars {
		s.env = append(s.env, k+"="+v)
	}
	t.Cleanup(s.stopAll)
	return s
}

// v is the value of a runbook variable.
func (s *runbookSite) v(name string) string {
	s.t.Helper()
	val, ok := s.vars[name]
	require.True(s.t, ok, "no runbook variable %s", name)
	return val
}

func (s *runbookSite) mv(kind string, n int) string { return s.v(fmt.Sprintf("NB_%s%d", kind, n)) }

// exec runs a program in the site's environment, bounded by e2eWait,
// failing the test unless it succeeds; it returns the combined output.
func (s *runbookSite) exec(bin string, args ...string) string {
	s.t.Helper()
	out, err := s.tryExec(bin, args...)
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s\n%s", filepath.Base(bin), strings.Join(args, " "), err, out, s.diagnose())
	}
	return out
}

func (s *runbookSite) tryExec(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	f, err := os.CreateTemp(s.dir, "exec-*.out")
	require.NoError(s.t, err)
	defer os.Remove(f.Name())
	defer f.Close()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Dir = s.env, s.dir
	// A file, not a pipe: a daemon started with --detach must not keep
	// Wait from returning.
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}

// ourCluster creates an n-member cluster of ours (create-cluster on member
// 1 from the schema, join-cluster on the others), starts every member as
// the runbooks do and waits until all have joined and one leads.
func (s *runbookSite) ourCluster(n int) { s.cluster(s.tool, s.server, n) }

// cCluster is ourCluster with C's tool and server.
func (s *runbookSite) cCluster(n int) { s.cluster(s.cTool, s.cServer, n) }

func (s *runbookSite) cluster(tool, server string, n int) {
	s.t.Helper()
	s.exec(tool, "create-cluster", s.mv("DB", 1), ovnNBSchema, s.mv("ADDR", 1))
	for i := 2; i <= n; i++ {
		s.exec(tool, "join-cluster", s.mv("DB", i), "OVN_Northbound", s.mv("ADDR", i), s.mv("ADDR", 1))
	}
	for i := 1; i <= n; i++ {
		s.start(server, i)
	}
	for i := 1; i <= n; i++ {
		s.waitStatus(i, "Status: cluster member")
	}
	s.waitLeader(n)
}

// start starts member n with server, detached, with the runbooks' options.
func (s *runbookSite) start(server string, n int) {
	s.t.Helper()
	args := []string{"--detach", "--no-chdir", "--pidfile=" + s.mv("PID", n), "--log-file=" + s.mv("LOG", n),
		"--unixctl=" + s.mv("CTL", n), "--remote=punix:" + s.mv("SOCK", n)}
	args = append(args, strings.Fields(runbookServerOpts)...)
	s.exec(server, append(args, s.mv("DB", n))...)
	s.pids[testutil.WaitPidfile(s.t, s.mv("PID", n), 0)] = true
}

// status is member n's cluster/status ("" if it does not answer).
func (s *runbookSite) status(n int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, testutil.RequireTool(s.t, "ovs-appctl"), "-t", s.mv("CTL", n),
		"cluster/status", "OVN_Northbound").Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// waitStatus waits until member n's cluster/status has a line line.
func (s *runbookSite) waitStatus(n int, line string) {
	s.t.Helper()
	waitForCond(s.t, fmt.Sprintf("member %d shows %q", n, line), func() bool {
		for _, l := range strings.Split(s.status(n), "\n") {
			if l == line {
				return true
			}
		}
		return false
	}, s.diagnose)
}

// waitLeader waits until one of members 1..n leads.
func (s *runbookSite) waitLeader(n int) {
	s.t.Helper()
	waitForCond(s.t, "a member leads", func() bool {
		for i := 1; i <= n; i++ {
			if strings.Contains(s.status(i), "\nRole: leader\n") {
				return true
			}
		}
		return false
	}, s.diagnose)
}

// appctl runs `ovs-appctl -t NB_CTLn ARGS...` and returns its output,
// trimmed.
func (s *runbookSite) appctl(n int, args ...string) string {
	s.t.Helper()
	return strings.TrimSpace(s.exec(testutil.RequireTool(s.t, "ovs-appctl"), append([]string{"-t", s.mv("CTL", n)}, args...)...))
}

// nbctl runs ovn-nbctl on NB_REMOTES and returns its output.
func (s *runbookSite) nbctl(args ...string) string {
	s.t.Helper()
	full := append([]string{"--db=" + s.v("NB_REMOTES"), "--timeout=30"}, args...)
	return s.exec(testutil.RequireTool(s.t, "ovn-nbctl"), full...)
}

// nbctlRetry is nbctl retried (bounded, 30 s) while it fails, as an
// operator retries after a member was lost: ovn-nbctl picks one of its
// remotes at random and gives up if that one refuses the connection.
func (s *runbookSite) nbctlRetry(args ...string) string {
	s.t.Helper()
	full := append([]string{"--db=" + s.v("NB_REMOTES"), "--timeout=30"}, args...)
	bin := testutil.RequireTool(s.t, "ovn-nbctl")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := s.tryExec(bin, full...)
		if err == nil {
			return out
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("ovn-nbctl %s: %v (retried for 30 s)\n%s\n%s", strings.Join(full, " "), err, out, s.diagnose())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// switches reads the Logical_Switch names from member n's own replica,
// sorted.
func (s *runbookSite) switches(n int) ([]string, error) {
	return selectSwitchNames(s.mv("SOCK", n), "OVN_Northbound")
}

// seedSwitches writes the runbooks' starting data with ovn-nbctl (switches
// sw0 and sw1, a port on sw1) and waits until members 1..members serve
// it; it returns the switch names.
func (s *runbookSite) seedSwitches(members int) []string {
	s.t.Helper()
	s.nbctl("init")
	s.nbctl("ls-add", "sw0")
	s.nbctl("ls-add", "sw1")
	s.nbctl("lsp-add", "sw1", "port1")
	want := []string{"sw0", "sw1"}
	for n := 1; n <= members; n++ {
		s.waitSwitches(n, want)
	}
	return want
}

// waitSwitches waits until member n serves exactly the switches want.
func (s *runbookSite) waitSwitches(n int, want []string) {
	s.t.Helper()
	want = append([]string(nil), want...)
	sort.Strings(want)
	var last string
	waitForCond(s.t, fmt.Sprintf("member %d serves switches %v", n, want), func() bool {
		got, err := s.switches(n)
		last = fmt.Sprintf("%v %v", got, err)
		return err == nil && equalStrings(got, want)
	}, func() string { return "last read: " + last }, s.diagnose)
}

// pidOf is the live PID member n's pidfile names, or 0.
func (s *runbookSite) pidOf(n int) int {
	data, err := os.ReadFile(s.mv("PID", n))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || !testutil.ProcAlive(pid) {
		return 0
	}
	return pid
}

// kill sends SIGKILL to member n's server (a crash: its pidfile stays)
// and waits until it is gone.
func (s *runbookSite) kill(n int) {
	s.t.Helper()
	pid := s.pidOf(n)
	require.NotZero(s.t, pid, "member %d is not running", n)
	require.True(s.t, s.ours(pid), "pid %d is not a server of this test", pid)
	require.NoError(s.t, syscall.Kill(pid, syscall.SIGKILL))
	waitForCond(s.t, fmt.Sprintf("member %d (pid %d) exits", n, pid), func() bool { return !testutil.ProcAlive(pid) })
}

// ours reports whether pid runs with a command line naming the site's
// directory (a PID the kernel reused for another program is left alone).
func (s *runbookSite) ours(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(string(b), s.dir)
}

// notePIDs records the PIDs the members' pidfiles name now.
func (s *runbookSite) notePIDs() {
	for n := 1; n <= s.members; n++ {
		if pid := s.pidOf(n); pid != 0 && s.ours(pid) {
			s.pids[pid] = true
		}
	}
}

// stopAll stops every server the site saw (SIGTERM, then SIGKILL after
// 5 s), by PID.
func (s *runbookSite) stopAll() {
	s.notePIDs()
	for pid := range s.pids {
		if !testutil.ProcAlive(pid) || !s.ours(pid) {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(5 * time.Second)
		for testutil.ProcAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if testutil.ProcAlive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// run executes the steps of p in order, each verbatim with sh -c in the
// site's environment (bounded by runbookStepTimeout), logging its output;
// a step that exits non-zero fails the test.
func (s *runbookSite) run(p *runbookProc) {
	s.t.Helper()
	for _, st := range p.steps {
		s.nsteps++
		out, err := s.runStep(st)
		s.notePIDs()
		s.t.Logf("%s, step %d (line %d): %s\n$ %s\n%s", p.key(), st.n, st.line, st.title, st.cmd, out)
		if err != nil {
			s.t.Fatalf("%s, step %d (%s:%d) failed: %v\n$ %s\n%s\n%s", p.key(), st.n, runbookDoc, st.line, err, st.cmd, out, s.diagnose())
		}
	}
}

func (s *runbookSite) runStep(st runbookStep) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runbookStepTimeout)
	defer cancel()
	outFile := filepath.Join(s.dir, fmt.Sprintf("step-%03d.out", s.nsteps))
	f, err := os.Create(outFile)
	require.NoError(s.t, err)
	defer f.Close()
	cmd := exec.CommandContext(ctx, "sh", "-c", st.cmd)
	cmd.Env, cmd.Dir = s.env, s.dir
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(outFile)
	return string(out), err
}

// diagnose describes every member: its server's PID, the key lines of its
// cluster/status and the tail of its log.
func (s *runbookSite) diagnose() string {
	var b strings.Builder
	for n := 1; n <= s.members; n++ {
		fmt.Fprintf(&b, "\n--- member %d (%s), pid %d:", n, s.mv("ADDR", n), s.pidOf(n))
		for _, l := range strings.Split(s.status(n), "\n") {
			for _, k := range []string{"Status:", "Role:", "Term:", "Leader:", "Log:", "Servers:", "    "} {
				if strings.HasPrefix(l, k) {
					b.WriteString("\n  " + l)
				}
			}
		}
		fmt.Fprintf(&b, "\n  log:\n%s", testutil.LogTail(s.mv("LOG", n), 15))
	}
	return b.String()
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/stretchr/testify/require"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args []string
		err  string
		chk  func(t *testing.T, c *config)
	}{
		{[]string{"--remote=punix:/a", "--remote", "ptcp:1", "a.db", "-vjsonrpc:dbg", "-v", "--pidfile", "--detach", "b.db"}, "", func(t *testing.T, c *config) {
			require.Equal(t, []string{"punix:/a", "ptcp:1"}, c.remotes)
			require.Equal(t, []string{"a.db", "b.db"}, c.dbs)
			require.Equal(t, []string{"jsonrpc:dbg", ""}, c.verbose)
			require.True(t, c.pidfile)
			require.Equal(t, "", c.daemon.PidFile)
			require.True(t, c.daemon.Detach)
		}},
		{[]string{"--pidfile=/x.pid", "--log-file", "--unixctl=/c", "--no-chdir", "--monitor"}, "", func(t *testing.T, c *config) {
			require.Equal(t, "/x.pid", c.daemon.PidFile)
			require.NotNil(t, c.logFile)
			require.Equal(t, "", *c.logFile)
			require.Equal(t, "/c", c.unixctl)
			require.True(t, c.daemon.NoChdir)
			require.True(t, c.daemon.Monitor)
		}},
		{[]string{"--private-key=k", "-c", "cert", "--ssl-ciphers", "x", "-Cca", "--bootstrap-ca-cert=db:D,T,C",
			"--ssl-protocols=TLSv1.2", "--peer-ca-cert=p"}, "", func(t *testing.T, c *config) {
			require.Empty(t, c.ignored)
			require.Equal(t, sslOptions{PrivateKey: "k", Certificate: "cert", Ciphers: "x", CACert: "db:D,T,C",
				BootstrapCACert: true, Protocols: "TLSv1.2", PeerCACert: "p"}, c.ssl)
		}},
		{[]string{"--bootstrap-ca-cert=b", "--ca-cert=c"}, "", func(t *testing.T, c *config) {
			require.Equal(t, sslOptions{CACert: "c"}, c.ssl)
		}},
		{[]string{"--run", "echo hi", "--record", "--replay=dir", "--no-dbs"}, "", func(t *testing.T, c *config) {
			require.NotNil(t, c.run)
			require.Equal(t, "echo hi", *c.run)
			require.Equal(t, []string{"--record", "--replay"}, c.replay)
			require.True(t, c.noDBs)
			require.Empty(t, c.dbs)
		}},
		{[]string{"--sync-from=tcp:127.0.0.1:6641", "--sync-exclude-tables", "OVN_Northbound:ACL", "--active"}, "", func(t *testing.T, c *config) {
			require.Empty(t, c.ignored)
			require.Equal(t, "tcp:127.0.0.1:6641", *c.syncFrom)
			require.Equal(t, "OVN_Northbound:ACL", *c.syncExclude)
			require.True(t, c.active)
			require.False(t, syncOf(c).IsBackup)
		}},
		{[]string{"--sync-from=unix:/a"}, "", func(t *testing.T, c *config) {
			require.Nil(t, c.syncExclude)
			require.True(t, syncOf(c).IsBackup)
		}},
		{[]string{"--verb=console:off", "--remo=punix:/z"}, "", func(t *testing.T, c *config) {
			require.Equal(t, []string{"console:off"}, c.verbose)
			require.Equal(t, []string{"punix:/z"}, c.remotes)
		}},
		{[]string{"--foo"}, "unrecognized option '--foo'", nil},
		{[]string{"--remote"}, "option '--remote' requires an argument", nil},
		{[]string{"--detach=1"}, "option '--detach' doesn't allow an argument", nil},
		{[]string{"-x"}, "invalid option -- 'x'", nil},
		{[]string{"--s"}, "option '--s' is ambiguous", nil},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			c, err := parseArgs(tc.args)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			tc.chk(t, c)
		})
	}
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ovsdb-server")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

type result struct {
	stdout, stderr string
	status         int
}

// runCmdTimeout bounds one command run by runCmd.
const runCmdTimeout = 2 * time.Minute

func runCmd(t *testing.T, name string, args ...string) result {
	t.Helper()
	// Bounded: a tool that hangs (a server that stopped answering) fails
	// the test with the command line instead of the suite's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), runCmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: no exit within %v (stdout %q, stderr %q)", name, strings.Join(args, " "), runCmdTimeout, so.String(), se.String())
	}
	st := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		st = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{so.String(), se.String(), st}
}

// startServer runs bin in the foreground in dir with a fresh vswitch
// database and waits for its control socket.
func startServer(t *testing.T, bin, dir string) string {
	t.Helper()
	tool := testutil.RequireTool(t, "ovsdb-tool")
	db := filepath.Join(dir, "conf.db")
	r := runCmd(t, tool, "create", db, "/usr/share/openvswitch/vswitch.ovsschema")
	require.Equal(t, 0, r.status, r.stderr)
	ctl := filepath.Join(dir, "ctl")
	cmd := exec.Command(bin, "--remote=punix:"+filepath.Join(dir, "db.sock"), "--unixctl="+ctl,
		"--pidfile="+filepath.Join(dir, "pid"), "--log-file="+filepath.Join(dir, "log"), "-vconsole:off", db)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir)
	done := startStopped(t, cmd)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if st, err := os.Stat(ctl); err == nil && st.Mode()&os.ModeSocket != 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "control socket %s did not appear", ctl)
		select {
		case <-done:
			t.Fatalf("%s exited early", bin)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return ctl
}

// TestAppctlDifferential runs the same ovs-appctl commands against the C
// ovsdb-server and ours and compares output, errors and exit status.
func TestAppctlDifferential(t *testing.T) {
	cserver := testutil.RequireTool(t, "ovsdb-server")
	appctl := testutil.RequireTool(t, "ovs-appctl")
	bin := buildBinary(t)
	cdir, gdir := t.TempDir(), t.TempDir()
	cctl := startServer(t, cserver, cdir)
	gctl := startServer(t, bin, gdir)

	cmds := [][]string{
		{"version"},
		{"version", "x"},
		{"bogus"},
		{"memory/show"},
		{"ovsdb-server/list-dbs"},
		{"ovsdb-server/list-remotes"},
		{"ovsdb-server/remove-remote", "punix:/nonexistent"},
		{"ovsdb-server/add-remote", "punix:DIR/other.sock"},
		{"ovsdb-server/list-remotes"},
		{"ovsdb-server/remove-remote", "punix:DIR/other.sock"},
		{"ovsdb-server/list-remotes"},
		{"ovsdb-server/compact"},
		{"ovsdb-server/compact", "Open_vSwitch"},
		{"ovsdb-server/compact", "nope"},
		{"ovsdb-server/compact", "_Server"},
		{"ovsdb-server/compact", "a", "b"},
		{"ovsdb-server/remove-db", "nope"},
		{"ovsdb-server/remove-db", "_Server"},
		{"ovsdb-server/remove-db"},
		{"ovsdb-server/add-db", "DIR/conf.db"},
		{"ovsdb-server/reconnect"},
		{"vlog/set", "jsonrpc:file:dbg"},
		{"vlog/set", "bogus"},
		{"vlog/set", "file:console"},
		{"vlog/reopen"},
		{"vlog/list-pattern"},
		// The commands issue 11 added, each argument form.
		{"coverage/read-counter"},
		{"coverage/read-counter", "nope"},
		{"coverage/read-counter", "unixctl_received"},
		{"coverage/read-counter", "txn_error"},
		{"coverage/show", "x"},
		{"ovsdb-server/memory-trim-on-compaction"},
		{"ovsdb-server/memory-trim-on-compaction", "on"},
		{"ovsdb-server/memory-trim-on-compaction", "off"},
		{"ovsdb-server/memory-trim-on-compaction", "ON"},
		{"ovsdb-server/memory-trim-on-compaction", "on", "off"},
		{"ovsdb-server/compact"},
		{"ovsdb-server/perf-counters-show"},
		{"ovsdb-server/perf-counters-clear"},
		{"ovsdb-server/perf-counters-clear", "x"},
		{"ovsdb-server/perf-counters-show"},
		{"ovsdb-server/get-db-storage-status"},
		{"ovsdb-server/get-db-storage-status", "Open_vSwitch"},
		{"ovsdb-server/get-db-storage-status", "_Server"},
		{"ovsdb-server/get-db-storage-status", "nope"},
		{"ovsdb-server/sync-status"},
		{"ovsdb-server/tlog-list"},
		{"ovsdb-server/tlog-set", "Open_vSwitch:Bridge"},
		{"ovsdb-server/tlog-set", "Open_vSwitch:Bridge", "on"},
		{"ovsdb-server/tlog-set", "Open_vSwitch:Open_vSwitch", "ON"},
		{"ovsdb-server/tlog-set", "_Server:Database", "On"},
		{"ovsdb-server/tlog-set", "Open_vSwitch:Bridge", "maybe"},
		{"ovsdb-server/tlog-set", "Open_vSwitch", "on"},
		{"ovsdb-server/tlog-set", "Open_vSwitch:Bridge:x", "on"},
		{"ovsdb-server/tlog-set", "::Open_vSwitch::Port", "on"},
		{"ovsdb-server/tlog-set", "nope:Bridge", "on"},
		{"ovsdb-server/tlog-set", "Open_vSwitch:nope", "on"},
		{"ovsdb-server/tlog-list"},
		{"ovsdb-server/tlog-set", "Open_vSwitch:Port", "off"},
		{"ovsdb-server/tlog-list"},
		{"vlog/disable-rate-limit", "bogus"},
		{"vlog/disable-rate-limit", "Transaction", "raft"},
		{"vlog/enable-rate-limit", "any"},
		{"vlog/enable-rate-limit"},
		// C's ovsdb-server does not register time/stop and time/warp
		// (only its dummy-enabled test programs do).
		{"time/stop"},
		{"time/warp", "100"},
		{"time/warp", "1000", "100"},
		{"ovsdb-server/remove-db", "Open_vSwitch"},
		{"ovsdb-server/list-dbs"},
		{"ovsdb-server/compact"},
		{"ovsdb-server/tlog-list"},
		{"ovsdb-server/get-db-storage-status", "Open_vSwitch"},
		{"ovsdb-server/add-db", "DIR/conf.db"},
		{"ovsdb-server/list-dbs"},
		// A database added again starts with logging off, as C.
		{"ovsdb-server/tlog-list"},
	}
	// Per-server values: the counts of coverage counters.
	masked := map[string]bool{"coverage/read-counter unixctl_received": true}
	for _, c := range cmds {
		name := strings.Join(c, " ")
		t.Run(name, func(t *testing.T) {
			sub := func(dir, ctl string) result {
				args := []string{"-t", ctl}
				for _, a := range c {
					args = append(args, strings.ReplaceAll(a, "DIR", dir))
				}
				r := runCmd(t, appctl, args...)
				if dir == gdir && name == "version" {
					// Ours adds a line naming this project.
					r.stdout = testutil.SplitVersion(t, bin, r.stdout)
				}
				r.stdout = strings.ReplaceAll(r.stdout, dir, "DIR")
				r.stderr = strings.ReplaceAll(r.stderr, dir, "DIR")
				if masked[name] {
					r.stdout = numRE.ReplaceAllString(r.stdout, "N")
				}
				return r
			}
			require.Equal(t, sub(cdir, cctl), sub(gdir, gctl))
		})
	}

	// coverage/show: C's layout, 112 counters in C's order, hit or not;
	// which are hit and how often is per server (ours count other
	// events, coverage.go).
	for _, ctl := range []string{cctl, gctl} {
		r := runCmd(t, appctl, "-t", ctl, "coverage/show")
		require.Equal(t, 0, r.status, r.stderr)
		checkCoverageShow(t, r.stdout)
	}

	// C logs the memory trimming setting the first time and at each
	// change: the same lines in both logs.
	trimLines := func(dir string) []string {
		data, err := os.ReadFile(filepath.Join(dir, "log"))
		require.NoError(t, err)
		return regexp.MustCompile(`(?m)\|ovsdb_server\|INFO\|memory trimming.*$`).FindAllString(string(data), -1)
	}
	require.Equal(t, trimLines(cdir), trimLines(gdir))
	require.Len(t, trimLines(gdir), 2)

	// vlog/list: every C line is present in ours.
	cl, gl := runCmd(t, appctl, "-t", cctl, "vlog/list"), runCmd(t, appctl, "-t", gctl, "vlog/list")
	require.Equal(t, 0, gl.status)
	for _, line := range strings.Split(strings.TrimSpace(cl.stdout), "\n") {
		require.Contains(t, gl.stdout, line+"\n")
	}

	// list-commands: every command we implement is listed as C lists it,
	// and every command of C's is ours too.
	cc, gc := runCmd(t, appctl, "-t", cctl, "list-commands"), runCmd(t, appctl, "-t", gctl, "list-commands")
	compareListCommands(t, cc.stdout, gc.stdout)

	for _, ctl := range []string{cctl, gctl} {
		r := runCmd(t, appctl, "-t", ctl, "exit")
		require.Equal(t, result{"", "", 0}, r)
	}
}

// TestCommandLineDifferential compares --version, bad options and bad -v
// specs with the C server.
func TestCommandLineDifferential(t *testing.T) {
	cserver := testutil.RequireTool(t, "ovsdb-server")
	bin := buildBinary(t)
	for _, args := range [][]string{{"--version"}, {"-V"}, {"--foo"}, {"--remote"}, {"-vfoo", "x.db"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			c, g := runCmd(t, cserver, args...), runCmd(t, bin, args...)
			if args[0] == "--version" || args[0] == "-V" {
				// Ours adds a line naming this project.
				g.stdout = testutil.SplitVersion(t, bin, g.stdout)
			}
			require.Equal(t, c.status, g.status)
			require.Equal(t, c.stdout, g.stdout)
			if c.status != 0 {
				// getopt messages start with argv[0], which differs.
				cfirst := strings.ReplaceAll(strings.SplitN(c.stderr, "\n", 2)[0], cserver, "PROG")
				gfirst := strings.ReplaceAll(strings.SplitN(g.stderr, "\n", 2)[0], bin, "PROG")
				require.Equal(t, cfirst, gfirst)
			}
		})
	}
}

// TestDetachPidfile checks that --detach returns once the daemon serves,
// that a second instance is refused by the pidfile, and that exit removes
// the pidfile.
func TestDetachPidfile(t *testing.T) {
	tool := testutil.RequireTool(t, "ovsdb-tool")
	appctl := testutil.RequireTool(t, "ovs-appctl")
	bin := buildBinary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "conf.db")
	require.Equal(t, 0, runCmd(t, tool, "create", db, "/usr/share/openvswitch/vswitch.ovsschema").status)
	env := append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir)
	start := func() result {
		cmd := exec.Command(bin, "--detach", "--pidfile", "--log-file", "--remote=punix:"+filepath.Join(dir, "db.sock"))
		cmd.Env = env
		cmd.Dir = dir
		var so, se strings.Builder
		cmd.Stdout, cmd.Stderr = &so, &se
		err := cmd.Run()
		r := result{so.String(), se.String(), 0}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.status = ee.ExitCode()
		}
		return r
	}
	r := start()
	require.Equal(t, 0, r.status, r.stderr)
	pidData, err := os.ReadFile(filepath.Join(dir, "ovsdb-server.pid"))
	require.NoError(t, err)
	pid := strings.TrimSpace(string(pidData))
	ctl := filepath.Join(dir, "ovsdb-server."+pid+".ctl")
	t.Cleanup(func() {
		if n, err := strconvAtoi(pid); err == nil {
			if syscall.Kill(n, 0) == nil {
				_ = syscall.Kill(n, syscall.SIGTERM)
			}
		}
	})
	// Ready means serving: the control socket exists already.
	out := runCmd(t, appctl, "-t", ctl, "ovsdb-server/list-dbs")
	require.Equal(t, result{"Open_vSwitch\n_Server\n", "", 0}, out)

	r2 := start()
	require.Equal(t, 1, r2.status)
	require.Contains(t, r2.stderr, filepath.Join(dir, "ovsdb-server.pid")+": already running as pid "+pid+", aborting")

	require.Equal(t, result{"", "", 0}, runCmd(t, appctl, "-t", ctl, "exit"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "ovsdb-server.pid")); os.IsNotExist(err) {
			break
		}
		require.True(t, time.Now().Before(deadline), "pidfile not removed at exit")
		time.Sleep(20 * time.Millisecond)
	}
	logData, err := os.ReadFile(filepath.Join(dir, "ovsdb-server.log"))
	require.NoError(t, err)
	require.Regexp(t, `\|00002\|ovsdb_server\|INFO\|ovsdb-server \(Open vSwitch\) 3\.1\.0\n`, string(logData))
}

func strconvAtoi(s string) (int, error) {
	n := 0
	if s == "" {
		return 0, errors.New("empty")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("not a number")
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

// startStopped starts cmd and registers a cleanup that stops exactly that
// process (SIGTERM, then SIGKILL after 10 s); the returned channel is
// closed when it has exited.
func startStopped(t *testing.T, cmd *exec.Cmd) <-chan struct{} {
	t.Helper()
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
	})
	return done
}

// compareListCommands checks two list-commands outputs: the same
// heading, every line of ours exactly as C has it (name and usage), and
// every command of C's present in ours.
func compareListCommands(t *testing.T, c, ours string) {
	t.Helper()
	const head = "The available commands are:\n"
	require.True(t, strings.HasPrefix(c, head), c)
	require.True(t, strings.HasPrefix(ours, head), ours)
	for _, line := range strings.Split(strings.TrimSuffix(ours, "\n"), "\n")[1:] {
		require.Contains(t, c, line+"\n", "ours lists a command C does not list so")
	}
	var missing []string
	for _, line := range strings.Split(strings.TrimSuffix(c, "\n"), "\n")[1:] {
		if !strings.Contains(ours, line+"\n") {
			missing = append(missing, line)
		}
	}
	require.Empty(t, missing, "commands of C's missing in ours")
}

var coverageLineRE = regexp.MustCompile(`^([a-z0-9_]+) +\d+\.\d/sec +\d+\.\d{3}/sec +\d+\.\d{4}/sec   total: (\d+)$`)

// checkCoverageShow checks a coverage/show reply against C's layout: the
// header with its hash, the hit counters in C's order (coverageNames)
// with C's columns, and the count of the others.
func checkCoverageShow(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Regexp(t, `^Event coverage, avg rate over last: 5 seconds, last minute, last hour,  hash=[0-9a-f]{8}:$`, lines[0])
	pos := map[string]int{}
	for i, n := range coverageNames {
		pos[n] = i
	}
	last := -1
	for _, l := range lines[1 : len(lines)-1] {
		m := coverageLineRE.FindStringSubmatch(l)
		require.NotNil(t, m, "line %q", l)
		p, ok := pos[m[1]]
		require.True(t, ok, "unknown counter %s", m[1])
		require.Greater(t, p, last, "counter %s out of C's order", m[1])
		last = p
		require.NotEqual(t, "0", m[2])
	}
	require.Equal(t, fmt.Sprintf("%d events never hit", len(coverageNames)-(len(lines)-2)), lines[len(lines)-1])
}

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// clusterRun is one 3-member cluster of one implementation (C's tools or
// ours) in its own directory, which is also its OVS_RUNDIR: the members'
// cluster addresses are unix:s1.raft, unix:s2.raft and unix:s3.raft,
// relative, as in C's own cluster tests.
type clusterRun struct {
	t      *testing.T
	tool   string // ovsdb-tool
	server string // ovsdb-server
	dir    string
	procs  []*exec.Cmd
}

func (c *clusterRun) env() []string {
	return append(os.Environ(), "OVS_RUNDIR="+c.dir, "OVS_DBDIR="+c.dir, "OVS_LOGDIR="+c.dir)
}

// run runs a binary in the cluster's directory and environment.
func (c *clusterRun) run(bin string, args ...string) result {
	c.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = c.dir, c.env()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	done := make(chan error, 1)
	require.NoError(c.t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		c.t.Fatalf("%s %v: no answer in 60 s", bin, args)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(c.t, err)
	}
	return result{o.String(), e.String(), code}
}

// create makes the three files with the cluster's ovsdb-tool.
func (c *clusterRun) create() {
	c.t.Helper()
	r := c.run(c.tool, "create-cluster", "s1.db", nbSchema, "unix:s1.raft")
	require.Zero(c.t, r.code, r.stderr)
	for _, i := range []string{"2", "3"} {
		r = c.run(c.tool, "join-cluster", "s"+i+".db", "OVN_Northbound", "unix:s"+i+".raft", "unix:s1.raft")
		require.Zero(c.t, r.code, r.stderr)
	}
}

// start runs the three servers (not detached: this test owns their
// processes and stops exactly them).
func (c *clusterRun) start() {
	c.t.Helper()
	for i := 1; i <= 3; i++ {
		cmd := exec.Command(c.server, "--no-chdir", fmt.Sprintf("--log-file=%s/s%d.log", c.dir, i),
			fmt.Sprintf("--unixctl=%s/s%d.ctl", c.dir, i), fmt.Sprintf("--remote=punix:%s/s%d.sock", c.dir, i),
			fmt.Sprintf("s%d.db", i))
		cmd.Dir, cmd.Env = c.dir, c.env()
		require.NoError(c.t, cmd.Start())
		c.procs = append(c.procs, cmd)
	}
	c.t.Cleanup(c.stop)
	deadline := time.Now().Add(60 * time.Second)
	for i := 1; i <= 3; i++ {
		for {
			r := c.run(testutil.RequireTool(c.t, "ovs-appctl"), "-t", fmt.Sprintf("%s/s%d.ctl", c.dir, i),
				"cluster/status", "OVN_Northbound")
			if r.code == 0 && strings.Contains(r.stdout, "Status: cluster member") && !strings.Contains(r.stdout, "Leader: unknown") {
				break
			}
			require.True(c.t, time.Now().Before(deadline), "s%d never joined: %s%s\n%s", i, r.stdout, r.stderr,
				testutil.LogTail(fmt.Sprintf("%s/s%d.log", c.dir, i), 20))
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// stop ends the servers this test started, by their process, and waits
// for them (bounded).
func (c *clusterRun) stop() {
	for _, p := range c.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	c.procs = nil
}

const lsSel = `["OVN_Northbound",{"op":"select","table":"Logical_Switch","where":[],"columns":["name"],"sort":["name"]}]`

// write makes three inserts through member 1 and an update through
// member 2, then waits until every member has all of it.
func (c *clusterRun) write() {
	c.t.Helper()
	client := testutil.RequireTool(c.t, "ovsdb-client")
	for n := 1; n <= 3; n++ {
		r := c.run(client, "transact", "unix:"+c.dir+"/s1.sock",
			fmt.Sprintf(`["OVN_Northbound",{"op":"insert","table":"Logical_Switch","row":{"name":"sw%d"}},{"op":"comment","comment":"c%d"}]`, n, n))
		require.Zero(c.t, r.code, r.stderr)
		require.NotContains(c.t, r.stdout, "error")
	}
	r := c.run(client, "transact", "unix:"+c.dir+"/s2.sock",
		`["OVN_Northbound",{"op":"update","table":"Logical_Switch","where":[["name","==","sw1"]],"row":{"name":"swX"}}]`)
	require.Zero(c.t, r.code, r.stderr)
	require.Contains(c.t, r.stdout, `"count":1`)
	deadline := time.Now().Add(30 * time.Second)
	for i := 1; i <= 3; i++ {
		for {
			r := c.run(client, "query", fmt.Sprintf("unix:%s/s%d.sock", c.dir, i), lsSel)
			if strings.Contains(r.stdout, `[{"name":"sw2"},{"name":"sw3"},{"name":"swX"}]`) {
				break
			}
			require.True(c.t, time.Now().Before(deadline), "s%d: %s%s", i, r.stdout, r.stderr)
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestClusterFiles runs a 3-member cluster of C's binaries and one of
// ours, both on unix: cluster addresses, writes the same transactions to
// each, and runs every ovsdb-tool subcommand on the members' files: while
// the servers run (as ovn-kubernetes does with check-cluster) and after
// they stopped. On C's files our tool must print what C's prints; on our
// files, what C's prints on its own where the output does not depend on
// the file format, and a healthy check-cluster (exit 0, silent).
func TestClusterFiles(t *testing.T) {
	ctool := testutil.RequireTool(t, "ovsdb-tool")
	cserver := testutil.RequireTool(t, "ovsdb-server")
	testutil.RequireTool(t, "ovsdb-client")
	testutil.RequireTool(t, "ovs-appctl")
	if _, err := os.Stat(nbSchema); err != nil {
		testutil.MissingPrerequisite(t, "%s: %v", nbSchema, err)
	}
	ours := buildOurs(t)
	oursServer := filepath.Join(filepath.Dir(ours), "ovsdb-server-go")
	out, err := exec.Command("go", "build", "-o", oursServer, "../ovsdb-server").CombinedOutput()
	require.NoError(t, err, string(out))

	// Short directories: the sockets' paths must fit sun_path (C's
	// unixctl and punix: remotes need that).
	mkdir := func(p string) string {
		d, err := os.MkdirTemp("", p)
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	cc := &clusterRun{t: t, tool: ctool, server: cserver, dir: mkdir("cc")}
	gc := &clusterRun{t: t, tool: ours, server: oursServer, dir: mkdir("gc")}
	for _, c := range []*clusterRun{cc, gc} {
		c.create()
		c.start()
		c.write()
	}

	files := []string{"s1.db", "s2.db", "s3.db"}
	// While the servers run: each file and all of them are healthy, and
	// the header commands answer.
	for _, c := range []*clusterRun{cc, gc} {
		for _, args := range [][]string{{"s1.db"}, {"s2.db"}, {"s3.db"}, files} {
			for _, bin := range []string{ctool, ours} {
				if c == gc && bin == ctool {
					continue // C's tool cannot read our files
				}
				r := c.run(bin, append([]string{"check-cluster"}, args...)...)
				require.Equal(t, result{}, r, "live check-cluster %v by %s in %s", args, bin, c.dir)
			}
		}
		r := c.run(ours, "db-local-address", "s2.db")
		require.Equal(t, result{stdout: "unix:s2.raft\n"}, r)
		r = c.run(ours, "-mm", "show-log", "s3.db")
		require.Zero(t, r.code, r.stderr)
		require.Contains(t, r.stdout, `table Logical_Switch insert row "sw2"`)
	}
	// A member's server id as the server reports it.
	appctl := testutil.RequireTool(t, "ovs-appctl")
	r := gc.run(appctl, "-t", gc.dir+"/s2.ctl", "cluster/sid", "OVN_Northbound")
	require.Zero(t, r.code)
	require.Equal(t, r.stdout, gc.run(ours, "db-sid", "s2.db").stdout)

	cc.stop()
	gc.stop()

	// C's files: our tool prints what C's prints.
	var cases [][]string
	for _, f := range files {
		for _, c := range []string{"db-name", "db-version", "db-cksum", "db-cid", "db-sid", "db-local-address",
			"db-is-clustered", "db-is-standalone", "check-cluster", "show-log"} {
			cases = append(cases, []string{c, f})
		}
		cases = append(cases, []string{"-m", "show-log", f}, []string{"-mm", "show-log", f},
			[]string{"needs-conversion", f, nbSchema}, []string{"query", f, lsSel}, []string{"transact", f, lsSel},
			[]string{"compact", f}, []string{"convert", f, nbSchema})
	}
	cases = append(cases, append([]string{"check-cluster"}, files...), []string{"check-cluster", "s3.db", "s1.db"})
	for _, args := range cases {
		want, got := cc.run(ctool, args...), cc.run(ours, args...)
		got.stderr = progRE.ReplaceAllString(got.stderr, "ovsdb-tool:")
		want.stderr = progRE.ReplaceAllString(want.stderr, "ovsdb-tool:")
		require.Equal(t, want, got, "C's file: %v", args)
	}

	// Our files: the same output as C's on its files wherever it does
	// not depend on the format (ids differ from cluster to cluster).
	idRE := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	for _, args := range cases {
		if args[0] == "show-log" || args[0] == "-m" || args[0] == "-mm" {
			continue // format-specific, below
		}
		want, got := cc.run(ctool, args...), gc.run(ours, args...)
		want.stdout, got.stdout = idRE.ReplaceAllString(want.stdout, "ID"), idRE.ReplaceAllString(got.stdout, "ID")
		got.stderr = progRE.ReplaceAllString(got.stderr, "ovsdb-tool:")
		want.stderr = progRE.ReplaceAllString(want.stderr, "ovsdb-tool:")
		require.Equal(t, want, got, "our file: %v", args)
	}
	// The same cluster: one cluster id, three server ids.
	cid := gc.run(ours, "db-cid", "s1.db").stdout
	sids := map[string]bool{}
	for _, f := range files {
		require.Equal(t, cid, gc.run(ours, "db-cid", f).stdout)
		sids[gc.run(ours, "db-sid", f).stdout] = true
	}
	require.Len(t, sids, 3)

	// show-log of ours: the header, the snapshot, the configuration
	// changes of the joins and the transactions, as C's records show
	// them.
	r = gc.run(ours, "-mm", "show-log", "s2.db")
	require.Zero(t, r.code, r.stderr)
	for _, want := range []string{
		"record 0:\n name: \"OVN_Northbound\"\n local address: \"unix:s2.raft\"\n",
		" prev_index: 1\n prev_term: 1\n",
		" prev_schema: \"OVN_Northbound\", version=",
		" \"c1\"\n  table Logical_Switch insert row \"sw1\" (",
		"    name=sw1\n",
		"  table Logical_Switch row \"sw1\" (",
		") diff:\n    name=swX\n",
	} {
		require.Contains(t, r.stdout, want)
	}
	require.Regexp(t, `servers: [0-9a-f]{4}\("unix:s[123]\.raft"\), [0-9a-f]{4}\("unix:s[123]\.raft"\), [0-9a-f]{4}\("unix:s[123]\.raft"\)`, r.stdout)

	// cluster-to-standalone: C's tool reads the rows of both results.
	for _, c := range []*clusterRun{cc, gc} {
		bin := ours
		r := c.run(bin, "cluster-to-standalone", "standalone.db", "s3.db")
		require.Zero(t, r.code, r.stderr)
		q := c.run(ctool, "query", "standalone.db", lsSel)
		require.Zero(t, q.code, q.stderr)
		require.Equal(t, `[{"rows":[{"name":"sw2"},{"name":"sw3"},{"name":"swX"}]}]`+"\n", q.stdout)
	}
}

package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/ovsdb-go/ovsdb-server/internal/version"
)

const nbSchema = "/usr/share/ovn/ovn-nb.ovsschema"

type result struct {
	stdout, stderr string
	code           int
}

var (
	dateRE = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}`)
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\([0-9a-f]{8}\)`)
	progRE = regexp.MustCompile(`^\S*ovsdb-tool(-go)?:`)
	timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\|`)
)

// runTool runs a binary in dir; stderr has the program name normalised
// and vlog/slog warning lines dropped.
func runTool(t *testing.T, bin, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OVS_DBDIR="+dir, "OVS_PKGDATADIR="+dir)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	var lines []string
	for _, l := range strings.SplitAfter(e.String(), "\n") {
		if strings.Contains(l, "WARN") {
			continue
		}
		l = timeRE.ReplaceAllString(l, "TIME|")
		lines = append(lines, progRE.ReplaceAllString(l, "ovsdb-tool:"))
	}
	// Files a failed command left behind would change the next run.
	os.Remove(filepath.Join(dir, "x.db"))
	return result{strings.Replace(o.String(), "ovsdb-tool-go ", "ovsdb-tool ", 1), strings.Join(lines, ""), code}
}

func buildOurs(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ovsdb-tool-go")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, b, 0o640))
}

const txn1 = `["OVN_Northbound",{"op":"insert","table":"Logical_Switch","row":{"name":"sw0","external_ids":["map",[["k","v"]]],"ports":["named-uuid","p"]}},` +
	`{"op":"insert","table":"Logical_Switch_Port","uuid-name":"p","row":{"name":"p1","addresses":["set",["00:00:00:00:00:01"]]}},{"op":"comment","comment":"first"}]`
const txn2 = `["OVN_Northbound",{"op":"update","table":"Logical_Switch","where":[["name","==","sw0"]],"row":{"name":"sw1"}},{"op":"delete","table":"ACL","where":[]}]`
const txn3 = `["OVN_Northbound",{"op":"delete","table":"Logical_Switch","where":[]}]`
const sel = `["OVN_Northbound",{"op":"select","table":"Logical_Switch_Port","where":[],"columns":["name","addresses"]}]`

// TestDifferential runs C's ovsdb-tool and ours on copies of the same
// files (written by C and by us) and compares stdout, stderr and status.
func TestDifferential(t *testing.T) {
	ctool := testutil.RequireTool(t, "ovsdb-tool")
	ours := buildOurs(t)
	dir := t.TempDir()
	copyFile(t, nbSchema, filepath.Join(dir, "nb.ovsschema"))
	copyFile(t, nbSchema, filepath.Join(dir, "vswitch.ovsschema")) // the default schema
	copyFile(t, "/usr/share/ovn/ovn-sb.ovsschema", filepath.Join(dir, "sb.ovsschema"))

	// Files: standalone by C, standalone by us (each with transactions
	// written by its own tool), C clustered, C joining.
	for _, f := range []struct{ bin, name string }{{ctool, "c.db"}, {ours, "go.db"}} {
		require.Zero(t, runTool(t, f.bin, dir, "create", f.name, "nb.ovsschema").code)
		for _, tx := range []string{txn1, txn2} {
			r := runTool(t, f.bin, dir, "transact", f.name, tx)
			require.Zero(t, r.code, r.stderr)
			require.NotContains(t, r.stdout, "error")
		}
	}
	require.Zero(t, runTool(t, ctool, dir, "create-cluster", "cl.db", "c.db", "tcp:127.0.0.1:6641").code)
	require.Zero(t, runTool(t, ctool, dir, "join-cluster", "join.db", "OVN_Northbound", "tcp:127.0.0.1:6642", "tcp:127.0.0.1:6641").code)
	require.Zero(t, runTool(t, ctool, dir, "--election-timer=2000", "create-cluster", "timer.db", "c.db", "unix:t.raft").code)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty.db"), nil, 0o640))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk.db"), []byte("hello\n"), 0o640))

	var cases [][]string
	for _, f := range []string{"c.db", "go.db", "cl.db", "join.db", "empty.db", "junk.db", "nosuch.db"} {
		for _, c := range []string{"db-name", "db-version", "db-cksum", "db-is-clustered", "db-is-standalone",
			"db-cid", "db-sid", "db-local-address"} {
			cases = append(cases, []string{c, f})
		}
		cases = append(cases, []string{"needs-conversion", f, "nb.ovsschema"}, []string{"needs-conversion", f, "sb.ovsschema"},
			[]string{"query", f, sel})
	}
	for _, f := range []string{"c.db", "go.db"} {
		cases = append(cases, []string{"show-log", f}, []string{"-m", "show-log", f}, []string{"show-log", "-mm", f},
			[]string{"query", f, "{}"}, []string{"query", f, `["x"]`})
	}
	// C's clustered files: show-log; and every file with check-cluster.
	for _, f := range []string{"cl.db", "join.db", "timer.db"} {
		cases = append(cases, []string{"show-log", f}, []string{"-m", "show-log", f}, []string{"show-log", "-mm", f})
	}
	for _, f := range []string{"c.db", "go.db", "cl.db", "join.db", "timer.db", "empty.db", "junk.db", "nosuch.db"} {
		cases = append(cases, []string{"check-cluster", f})
	}
	cases = append(cases,
		[]string{"check-cluster"}, []string{"check-cluster", "timer.db", "join.db"}, []string{"check-cluster", "join.db", "timer.db"},
		[]string{"check-cluster", "timer.db", "timer.db"}, []string{"check-cluster", "timer.db", "cl.db"},
		[]string{"check-cluster", "timer.db", "c.db"}, []string{"list-commands"}, []string{"--help"}, []string{"--option"},
		[]string{"db-cksum", "timer.db"}, []string{"db-version", "timer.db"}, []string{"compact", "timer.db"},
		[]string{"convert", "timer.db", "nb.ovsschema"}, []string{"transact", "timer.db", sel},
	)
	// Cluster addresses and election timers given to create-cluster and
	// join-cluster (x.db, removed after each run).
	for _, a := range []string{"nonsense", "tcp:1.2.3.4", "tcp:1.2.3.4:99999", "tcp:1.2.3.4:abc", "1.2.3.4:5",
		"tcp:[::1]:5", "tcp:[zz::1]:5", "tcp:nosuchhost.invalid:6641", "unix:x.raft", "unix:/tmp/x.raft"} {
		cases = append(cases, []string{"create-cluster", "x.db", "nb.ovsschema", a},
			[]string{"join-cluster", "x.db", "OVN_Northbound", a, "tcp:127.0.0.1:6641"},
			[]string{"join-cluster", "x.db", "OVN_Northbound", "unix:x.raft", a})
	}
	for _, et := range []string{"99", "100", "600000", "600001", "0", "-5", "abc", " 500", "+700", "1000x", "99999999999999999999"} {
		cases = append(cases, []string{"--election-timer=" + et, "create-cluster", "x.db", "nb.ovsschema", "unix:x.raft"})
	}
	cases = append(cases, []string{"join-cluster", "x.db", "OVN_Northbound", "unix:x.raft", "unix:x.raft"},
		[]string{"join-cluster", "x.db", "OVN_Northbound", "unix:x.raft", "unix:a.raft", "unix:x.raft"},
		[]string{"create-cluster", "x.db", "nosuch.ovsschema", "unix:x.raft"},
		[]string{"create-cluster", "cl.db", "nb.ovsschema", "unix:x.raft"})
	cases = append(cases,
		[]string{}, []string{"foo"}, []string{"db-name", "a", "b"}, []string{"db-cid"}, []string{"-x"}, []string{"--bogus"},
		[]string{"--cid"}, []string{"--cid=zz", "join-cluster", "a", "b", "c", "d"},
		[]string{"--election-timer=5", "create-cluster", "a", "b", "c"},
		[]string{"join-cluster", "x.db", "1bad", "tcp:1.1.1.1:1", "tcp:1.1.1.1:2"},
		[]string{"create", "c.db", "nb.ovsschema"}, []string{"create", "new.db", "nosuch.ovsschema"},
		[]string{"schema-name", "nb.ovsschema"}, []string{"schema-version"}, []string{"schema-cksum", "nb.ovsschema"},
		[]string{"schema-name", "nosuch"}, []string{"db-name"}, []string{"--version"},
		[]string{"compare-versions", "1.2.3", "<", "1.10.0"}, []string{"compare-versions", "1.2.3", "==", "1.10.0"},
		[]string{"compare-versions", "1.2", "<", "1.0.0"}, []string{"compare-versions", "1.2.3", "=~", "1.0.0"},
		[]string{"cluster-to-standalone", "x.db", "c.db"},
	)
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			want := runTool(t, ctool, dir, args...)
			got := runTool(t, ours, dir, args...)
			if len(args) == 1 && args[0] == "--version" {
				// Ours adds a line naming this project.
				got.stdout = testutil.SplitVersion(t, ours, got.stdout)
			}
			if len(args) == 1 && args[0] == "--help" {
				// The program's name, as invoked, throughout.
				got.stdout = strings.ReplaceAll(got.stdout, "ovsdb-tool-go", "ovsdb-tool")
			}
			require.Equal(t, want, got)
		})
	}
}

// TestWritingCommands runs the writing commands with each tool on its own
// copy and compares what C's tool then reads from the results.
func TestWritingCommands(t *testing.T) {
	ctool := testutil.RequireTool(t, "ovsdb-tool")
	ours := buildOurs(t)
	dir := t.TempDir()
	copyFile(t, nbSchema, filepath.Join(dir, "nb.ovsschema"))
	require.Zero(t, runTool(t, ctool, dir, "create", "base.db", "nb.ovsschema").code)
	require.Zero(t, runTool(t, ctool, dir, "create-cluster", "cl.db", "nb.ovsschema", "tcp:127.0.0.1:6641").code)
	read := func(bin, f string) string {
		r := runTool(t, ctool, dir, "-mm", "show-log", f)
		require.Zero(t, r.code, r.stderr)
		s := dateRE.ReplaceAllString(r.stdout, "DATE")
		q := runTool(t, ctool, dir, "query", f, sel)
		require.Zero(t, q.code, q.stderr)
		return s + q.stdout
	}
	for _, tc := range []struct {
		name  string
		steps [][]string
		out   string
	}{
		{"transact", [][]string{{"transact", "DB", txn1}, {"transact", "DB", txn2}, {"transact", "DB", txn3}}, "DB"},
		{"compact in place", [][]string{{"transact", "DB", txn1}, {"transact", "DB", txn2}, {"compact", "DB"}}, "DB"},
		{"compact to target", [][]string{{"transact", "DB", txn1}, {"compact", "DB", "DB.out"}}, "DB.out"},
		{"convert", [][]string{{"transact", "DB", txn1}, {"convert", "DB", "nb.ovsschema", "DB.out"}}, "DB.out"},
		{"cluster-to-standalone", [][]string{{"cluster-to-standalone", "DB.out", "cl.db"}}, "DB.out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outs := map[string]string{}
			for _, bin := range []string{ctool, ours} {
				db := filepath.Base(bin) + "-" + strings.ReplaceAll(tc.name, " ", "_") + ".db"
				copyFile(t, filepath.Join(dir, "base.db"), filepath.Join(dir, db))
				var results []string
				for _, s := range tc.steps {
					args := make([]string, len(s))
					for i, a := range s {
						args[i] = strings.ReplaceAll(a, "DB", db)
					}
					r := runTool(t, bin, dir, args...)
					require.Zero(t, r.code, r.stderr)
					results = append(results, uuidRE.ReplaceAllString(r.stdout, "UUID"))
				}
				out := strings.ReplaceAll(tc.out, "DB", db)
				text := read(bin, out)
				outs[bin] = strings.Join(results, "") + uuidRE.ReplaceAllString(text, "UUID")
			}
			require.Equal(t, outs[ctool], outs[ours])
		})
	}
}

// TestRunInProcess checks option parsing and dispatch without the C tool.
func TestRunInProcess(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"--version"}, 0, "ovsdb-tool (Open vSwitch) 3.1.0\n" + version.Line() + "\n", ""},
		{[]string{"-V"}, 0, "ovsdb-tool (Open vSwitch) 3.1.0\n" + version.Line() + "\n", ""},
		{[]string{}, 1, "", "ovsdb-tool: missing command name; use --help for help\n"},
		{[]string{"compare-versions", "2.0.0", ">", "1.9.9"}, 0, "", ""},
		{[]string{"compare-versions", "2.0.0", "<", "1.9.9"}, 2, "", ""},
		{[]string{"--election-timer", "99", "db-name"}, 1, "", "ovsdb-tool: ovsdb error: election timer must be between 100 and 600000, in msec.\n"},
		{[]string{"--elec=1000", "db-sid"}, 1, "", "ovsdb-tool: 'db-sid' command requires at least 1 arguments\n"},
		{[]string{"--cid=00000000-0000-0000-0000-000000000000", "help"}, 1, "", "ovsdb-tool: 00000000-0000-0000-0000-000000000000: not a valid UUID\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var o, e bytes.Buffer
			code := run(append([]string{"/usr/bin/ovsdb-tool"}, tc.args...), &o, &e)
			require.Equal(t, tc.code, code)
			require.Equal(t, tc.stdout, o.String())
			require.Equal(t, tc.stderr, e.String())
		})
	}
	var o bytes.Buffer
	require.Zero(t, run([]string{"ovsdb-tool", "--help"}, &o, io.Discard))
	require.Contains(t, o.String(), "usage: ovsdb-tool [OPTIONS] COMMAND [ARG...]")
}

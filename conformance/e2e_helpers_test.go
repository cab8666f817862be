package conformance

// Helpers of the end-to-end tests (e2e_*_test.go): OVN databases served by
// either implementation, the real OVN tools (ovn-nbctl, ovn-sbctl,
// ovn-northd) pointed at them through unix sockets in temporary
// directories, and output normalisation.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// e2eWait bounds every wait of the end-to-end tests (a tool's run, a
// client's cache catching up).
const e2eWait = 30 * time.Second

const (
	ovnNBSchema = "/usr/share/ovn/ovn-nb.ovsschema"
	ovnSBSchema = "/usr/share/ovn/ovn-sb.ovsschema"
)

// e2eImpl is one ovsdb-server implementation under test.
type e2eImpl struct {
	name string // "C" or "Go"
	bin  string
}

// e2eImplementations returns the reference (C) and the implementation under
// test (ours, or C again with CONFORMANCE_IMPL=c, which validates the test
// itself).
func e2eImplementations(t *testing.T) []e2eImpl {
	t.Helper()
	ref, test := implementations(t)
	return []e2eImpl{{name: "C", bin: ref}, {name: "Go", bin: test}}
}

// startOVNDB creates an empty OVN database ("nb" or "sb") with C ovsdb-tool
// and serves it with impl on a unix socket in a temporary directory.
func startOVNDB(t *testing.T, impl e2eImpl, kind string) *server {
	t.Helper()
	tool := testutil.RequireTool(t, "ovsdb-tool")
	schemaFile := map[string]string{"nb": ovnNBSchema, "sb": ovnSBSchema}[kind]
	require.NotEmpty(t, schemaFile, "unknown OVN database kind %q", kind)
	if _, err := os.Stat(schemaFile); err != nil {
		if testutil.InCI() {
			t.Fatalf("OVN schema %s missing (CI=true: run `make deps`)", schemaFile)
		}
		testutil.MissingPrerequisite(t, "OVN schema %s missing; run `make deps`", schemaFile)
	}
	dir := t.TempDir()
	orig := filepath.Join(dir, kind+"-orig.db")
	out, err := exec.Command(tool, "create", orig, schemaFile).CombinedOutput()
	require.NoError(t, err, "ovsdb-tool create: %s", out)
	return startServer(t, impl.name, impl.bin, filepath.Join(dir, kind), orig)
}

// ovnToolEnv is the environment of the OVN tools: their run directories are
// the test's temporary directory and no inherited setting redirects them
// (OVN_NB_DAEMON would send ovn-nbctl commands to a daemon).
func ovnToolEnv(rundir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "OVN_NB_DAEMON", "OVN_NB_DB", "OVN_SB_DB", "OVN_RUNDIR", "OVS_RUNDIR",
			"OVN_LOGDIR", "OVS_LOGDIR", "OVN_DBDIR", "OVS_DBDIR", "OVN_SYSCONFDIR", "OVS_SYSCONFDIR":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "OVN_RUNDIR="+rundir, "OVS_RUNDIR="+rundir)
}

// ovnCtl runs one of ovn-nbctl / ovn-sbctl against one database.
type ovnCtl struct {
	bin    string
	db     string // "unix:PATH"
	rundir string
}

func newNbctl(t *testing.T, db *server) *ovnCtl {
	t.Helper()
	return &ovnCtl{bin: testutil.RequireTool(t, "ovn-nbctl"), db: "unix:" + db.sock, rundir: db.dir}
}

func newSbctl(t *testing.T, db *server) *ovnCtl {
	t.Helper()
	return &ovnCtl{bin: testutil.RequireTool(t, "ovn-sbctl"), db: "unix:" + db.sock, rundir: db.dir}
}

// exec runs the tool with the given arguments and returns stdout, stderr and
// the error (nil on exit status 0).
func (c *ovnCtl) exec(args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	full := append([]string{"--db=" + c.db, "--timeout=" + stringSeconds(e2eWait)}, args...)
	cmd := exec.CommandContext(ctx, c.bin, full...)
	cmd.Env = ovnToolEnv(c.rundir)
	cmd.Dir = c.rundir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// run runs the tool and fails the test unless it succeeds; it returns stdout.
func (c *ovnCtl) run(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := c.exec(args...)
	require.NoError(t, err, "%s %s\nstderr: %s", filepath.Base(c.bin), strings.Join(args, " "), errOut)
	return out
}

func stringSeconds(d time.Duration) string {
	return strings.TrimSuffix(d.Round(time.Second).String(), "s")
}

// northd is a running ovn-northd.
type northd struct {
	cmd  *exec.Cmd
	log  string
	ctl  string // unixctl socket
	done chan struct{}
}

// startNorthd starts the real ovn-northd on the two databases. It is stopped
// (by PID) when the test ends.
func startNorthd(t *testing.T, nb, sb *server) *northd {
	t.Helper()
	return startNorthdRemotes(t, "unix:"+nb.sock, "unix:"+sb.sock)
}

// status returns `ovn-appctl status` of ovn-northd: "Status: active" once it
// holds the SB lock "ovn_northd".
func (n *northd) status(t *testing.T) string {
	t.Helper()
	appctl := testutil.RequireTool(t, "ovn-appctl")
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	out, err := exec.CommandContext(ctx, appctl, "-t", n.ctl, "status").CombinedOutput()
	require.NoError(t, err, "ovn-appctl status: %s", out)
	return string(out)
}

func (n *northd) logTail() string { return testutil.LogTail(n.log, 40) }

// sortedLines returns the non-empty lines of s, sorted.
func sortedLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// maskUUIDs replaces every UUID in s by "<uuid>": rows are identified by
// their other columns when outputs of two servers are compared.
func maskUUIDs(s string) string {
	return uuidRE.ReplaceAllString(s, "<uuid>")
}

// sortedRecords splits ovn-nbctl "list"/"find" output into records (blank
// line separated), masks UUIDs and sorts the records, since the tools print
// rows in hash order.
func sortedRecords(s string) []string {
	var out []string
	for _, r := range strings.Split(maskUUIDs(s), "\n\n") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

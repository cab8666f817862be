package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

const plainSchema = `{"name":"S","version":"1.0.0","tables":{"T":{"columns":{"a":{"type":"integer"}}}}}`
const ephemeralSchema = `{"name":"S","version":"1.0.0","tables":{"T":{"columns":{"a":{"type":"integer","ephemeral":true}}}}}`

// runBin runs bin in dir and returns stdout, stderr and the exit status.
func runBin(t *testing.T, bin, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		return o.String(), e.String(), ee.ExitCode()
	}
	return o.String(), e.String(), 0
}

// vlogLine is C's console format: time|seq|module|LEVEL|message.
var vlogLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\|\d{5}\|([a-z_]+)\|([A-Z]+)\|(.*)$`)

// TestCreateClusterLogging checks what create-cluster writes to stderr:
// nothing on success (C's ovsdb-tool is silent; raftstore's snapshot and
// hashicorp/raft lines must not leak), and the ephemeral-column warning as
// one C vlog console line from module "ovsdb".
func TestCreateClusterLogging(t *testing.T) {
	bin := buildOurs(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "plain.ovsschema"), []byte(plainSchema), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "eph.ovsschema"), []byte(ephemeralSchema), 0o644))

	tests := []struct {
		name     string
		args     []string
		code     int
		wantLine *regexp.Regexp // nil: stderr must be empty
		module   string
		level    string
	}{
		{name: "plain schema is silent", args: []string{"create-cluster", "a.db", "plain.ovsschema", "unix:a.sock"}},
		{name: "ephemeral warning", args: []string{"create-cluster", "b.db", "eph.ovsschema", "unix:b.sock"},
			wantLine: regexp.MustCompile(`^eph\.ovsschema: changed 1 columns in 'S' database from ephemeral to persistent, including 'a' column in 'T' table, because clusters do not support ephemeral columns$`),
			module:   "ovsdb", level: "WARN"},
		{name: "-v enables raftstore debug", args: []string{"-vraftstore:dbg", "create-cluster", "c.db", "plain.ovsschema", "unix:c.sock"},
			wantLine: regexp.MustCompile(`^created clustered database file path=c\.db name=S `),
			module:   "raftstore", level: "DBG"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runBin(t, bin, dir, tc.args...)
			require.Equal(t, tc.code, code, stderr)
			require.Empty(t, stdout)
			if tc.wantLine == nil {
				require.Empty(t, stderr)
				return
			}
			m := vlogLine.FindStringSubmatch(firstLine(stderr))
			require.NotNil(t, m, stderr)
			require.Equal(t, tc.module, m[1])
			require.Equal(t, tc.level, m[2])
			require.Regexp(t, tc.wantLine, m[3])
		})
	}

	_, stderr, code := runBin(t, bin, dir, "-vfoo", "db-name", "a.db")
	require.Equal(t, 1, code)
	require.Equal(t, `ovsdb-tool-go: processing "foo": no destination, level, or module "foo"`+"\n", stderr)
}

// TestCreateClusterSilentLikeC confirms with C's ovsdb-tool that a
// successful create-cluster writes nothing to stdout or stderr.
func TestCreateClusterSilentLikeC(t *testing.T) {
	testutil.RequireTool(t, "ovsdb-tool")
	bin := buildOurs(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "plain.ovsschema"), []byte(plainSchema), 0o644))
	for i, b := range []string{"ovsdb-tool", bin} {
		db := []string{"c.db", "go.db"}[i]
		stdout, stderr, code := runBin(t, b, dir, "create-cluster", db, "plain.ovsschema", "unix:x.sock")
		require.Zero(t, code, stderr)
		require.Empty(t, stdout, b)
		require.Empty(t, stderr, b)
	}
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestVersion pins both version lines of --version, of the control
// command "version" and of the startup log: C's line first, unchanged
// (ovs-lib parses the first line of "ovs-appctl version"), then the line
// naming this project, its version and build. A -ldflags -X build sets the
// version.
func TestVersion(t *testing.T) {
	bin := buildBinary(t)
	const cLine = "ovsdb-server (Open vSwitch) 3.1.0\n"
	for _, arg := range []string{"--version", "-V"} {
		r := runCmd(t, bin, arg)
		require.Equal(t, 0, r.status)
		require.Empty(t, r.stderr)
		require.Equal(t, cLine, testutil.SplitVersion(t, bin, r.stdout), arg)
	}

	appctl := testutil.RequireTool(t, "ovs-appctl")
	dir := t.TempDir()
	ctl := startServer(t, bin, dir)
	r := runCmd(t, appctl, "-t", ctl, "version")
	require.Equal(t, 0, r.status, r.stderr)
	require.Equal(t, cLine, testutil.SplitVersion(t, bin, r.stdout))
	logData, err := os.ReadFile(filepath.Join(dir, "log"))
	require.NoError(t, err)
	require.Regexp(t, `\|ovsdb_server\|INFO\|ovsdb-server \(Open vSwitch\) 3\.1\.0\n`+
		`\S+\|ovsdb_server\|INFO\|`+regexp.QuoteMeta(testutil.ProjectLine(t, bin))+`\n`, string(logData))
	require.Equal(t, result{"", "", 0}, runCmd(t, appctl, "-t", ctl, "exit"))

	custom := filepath.Join(t.TempDir(), "ovsdb-server")
	out, err := exec.Command("go", "build", "-ldflags",
		"-X github.com/ovsdb-go/ovsdb-server/internal/version.Version=9.8.7-test", "-o", custom, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	r = runCmd(t, custom, "--version")
	require.Equal(t, 0, r.status)
	lines := strings.Split(r.stdout, "\n")
	require.Len(t, lines, 3, r.stdout)
	require.Equal(t, strings.TrimSuffix(cLine, "\n"), lines[0])
	require.Regexp(t, `^ovsdb-server-go 9\.8\.7-test \(([^()]+, )?go1\.[0-9.]+\)$`, lines[1])
}

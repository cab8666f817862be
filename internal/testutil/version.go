package testutil

import (
	"debug/buildinfo"
	"regexp"
	"strings"
	"testing"

	"github.com/ovsdb-go/ovsdb-server/internal/version"
	"github.com/stretchr/testify/require"
)

// projectLineRE is the shape of the second version line: this project, its
// version, then the module version or commit if recorded, and Go's release.
var projectLineRE = regexp.MustCompile(`^ovsdb-server-go ` + regexp.QuoteMeta(version.Version) +
	` \(([^()]+, )?go1\.[0-9.]+\)$`)

// ProjectLine returns the line that names this project in the version
// output of our binary bin (internal/version for bin's build information),
// after checking its shape.
func ProjectLine(t testing.TB, bin string) string {
	t.Helper()
	bi, err := buildinfo.ReadFile(bin)
	require.NoError(t, err)
	line := version.LineFor(bi)
	require.Regexp(t, projectLineRE, line)
	return line
}

// SplitVersion checks that out, the --version output or the "version"
// reply of our binary bin, is exactly one line followed by ProjectLine, and
// returns that first line (with its newline) to compare with C's output.
func SplitVersion(t testing.TB, bin, out string) string {
	t.Helper()
	lines := strings.SplitAfter(out, "\n")
	require.Len(t, lines, 3, "two lines: %q", out)
	require.Equal(t, "", lines[2], "two lines: %q", out)
	require.Equal(t, ProjectLine(t, bin)+"\n", lines[1])
	return lines[0]
}

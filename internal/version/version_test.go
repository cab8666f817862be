package version

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestText(t *testing.T) {
	lines := strings.Split(Text("ovsdb-tool"), "\n")
	require.Len(t, lines, 2)
	require.Equal(t, "ovsdb-tool (Open vSwitch) 3.1.0", lines[0])
	require.True(t, strings.HasPrefix(lines[1], "ovsdb-server-go "+Version), lines[1])
}

func TestLine(t *testing.T) {
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{nil, "ovsdb-server-go 0.1.0"},
		{&debug.BuildInfo{}, "ovsdb-server-go 0.1.0"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "ovsdb-server-go 0.1.0 (go1.26.8)"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261206201026-e8ff5c0f1234+dirty"},
			Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "e8ff5c0f1234567890abcdef"}, {Key: "vcs.modified", Value: "true"}}},
			"ovsdb-server-go 0.1.0 (v0.0.0-20261206201026-e8ff5c0f1234+dirty, go1.26.8)"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "e8ff5c0f1234567890abcdef"}, {Key: "vcs.modified", Value: "false"}}},
			"ovsdb-server-go 0.1.0 (git e8ff5c0f1234, go1.26.8)"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.1.0"}}, "ovsdb-server-go 0.1.0 (v0.1.0, go1.26.8)"},
	} {
		require.Equal(t, tc.want, LineFor(tc.bi))
	}
}

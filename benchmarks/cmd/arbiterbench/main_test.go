package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

func TestParseStatus(t *testing.T) {
	m, err := parseStatus("Name:\tovsdb-server\nVmHWM:\t  30000 kB\nVmRSS:\t  20480 kB\nRssAnon:\t 10240 kB\nRssFile:\t 9216 kB\n")
	require.NoError(t, err)
	require.Equal(t, memSample{RSS: 20480, HWM: 30000, RSSAnon: 10240, RSSFile: 9216}, m)
	_, err = parseStatus("Name:\tx\n")
	require.Error(t, err)
}

func TestParseClusterStatus(t *testing.T) {
	st, err := parseClusterStatus("abcd\nName: OVN_Northbound\nRole: follower\nTerm: 2\nLog: [2, 1003]\n" +
		"Entries not yet committed: 0\nEntries not yet applied: 3\n")
	require.NoError(t, err)
	require.Equal(t, clusterStatus{role: "follower", logEnd: 1003, notApplied: 3}, st)
	_, err = parseClusterStatus("Role: leader\n")
	require.Error(t, err)
}

func TestRatio(t *testing.T) {
	ms := []memberReport{{Role: "leader", Loaded: memSample{RSS: 100}}, {Role: "follower", Loaded: memSample{RSS: 80}}, {Role: "arbiter", Loaded: memSample{RSS: 16}}}
	require.InDelta(t, 0.2, ratio(ms, func(m memberReport) int64 { return m.Loaded.RSS }), 1e-9)
	require.Zero(t, ratio(ms[:2], func(m memberReport) int64 { return m.Loaded.RSS }))
}

// TestArbiterBenchSmall runs the whole measurement with 500 ports and
// checks the table and the ratio are printed and the arbiter uses less
// memory than the data members.
func TestArbiterBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server and runs a 3-member cluster")
	}
	testutil.RequireTool(t, "ovs-appctl")
	if _, err := loadgen.SchemaName(loadgen.DefaultSchema); err != nil {
		testutil.MissingPrerequisite(t, "OVN NB schema: %v", err)
	}
	dir := t.TempDir()
	server, err := loadgen.BuildOurs("", dir, "ovsdb-server", "../../../cmd/ovsdb-server")
	require.NoError(t, err)
	tool, err := loadgen.BuildOurs("", dir, "ovsdb-tool", "../../../cmd/ovsdb-tool")
	require.NoError(t, err)
	args := []string{"-ours", server, "-ours-tool", tool, "-ports", "500", "-switches", "10", "-settle", "500ms"}

	var b bytes.Buffer
	require.NoError(t, run(args, &b))
	out := b.String()
	require.Contains(t, out, "arbiter RSS / data member RSS (smallest data member):")
	require.Contains(t, out, "| 2 | arbiter |")
	require.Equal(t, 1, strings.Count(out, "| leader |"), out)
	m := regexp.MustCompile(`: ([0-9.]+)x loaded, ([0-9.]+)x compacted`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	loaded, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	require.Positive(t, loaded, out)
	require.Less(t, loaded, 1.0, "arbiter RSS below the data members' after the load:\n%s", out)
}

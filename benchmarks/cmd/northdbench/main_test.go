package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

func TestWriteTables(t *testing.T) {
	rows := map[string]int{"Port_Binding": 50000, "Logical_Flow": 150066}
	rs := []result{
		{Server: "c", Sync: map[string]float64{"initial": 20, "add-ports": 4},
			CPU:    []phaseCPU{{Phase: "initial", NB: 1, SB: 3, Northd: 10}, {Phase: "compact-nb", NB: 2}},
			Stalls: []stall{{DB: "NB", CompactMillis: []float64{100, 300}, During: loadgen.LatencySummary{N: 10, MaxMilli: 250}, Outside: loadgen.LatencySummary{N: 990}}},
			Loaded: memory{SBRSS: 1024 * 1024}, SBRows: rows},
		{Server: "ours", Sync: map[string]float64{"initial": 10, "add-ports": 1},
			CPU:    []phaseCPU{{Phase: "initial", NB: 1, SB: 1, Northd: 10}, {Phase: "compact-nb", NB: 1}},
			Stalls: []stall{{DB: "NB", CompactMillis: []float64{150}, During: loadgen.LatencySummary{N: 500, MaxMilli: 25}, Outside: loadgen.LatencySummary{N: 1500}}},
			Loaded: memory{SBRSS: 512 * 1024}, SBRows: map[string]int{"Port_Binding": 50000, "Logical_Flow": 150000}},
	}
	var b bytes.Buffer
	require.NoError(t, writeTables(&b, rs))
	out := b.String()
	line := func(prefix string) string {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(prefix) + `.*$`).FindString(out)
		require.NotEmpty(t, m, "no line %q in\n%s", prefix, out)
		return m
	}
	require.True(t, strings.HasSuffix(line("initial: northd start"), "0.50x"), out)
	require.True(t, strings.HasSuffix(line("add ports in one txn"), "0.25x"), out)
	require.True(t, strings.HasSuffix(line("SB RSS after initial sync"), "0.50x"), out)
	require.True(t, strings.HasSuffix(line("CPU initial: NB+SB servers"), "0.50x"), out)
	// 2 s over 1000 txns against 1 s over 2000: 2 ms against 0.5 ms.
	require.True(t, strings.HasSuffix(line("CPU compact-nb: NB+SB servers per writer txn"), "0.25x"), out)
	require.True(t, strings.HasSuffix(line("NB compaction with writer, longest"), "0.50x"), out)
	require.True(t, strings.HasSuffix(line("NB writer max latency during compaction"), "0.10x"), out)
	require.Contains(t, out, "150066")
	require.Contains(t, out, "WARNING: the southbound row counts differ")
}

// TestNorthdBenchSmall runs the whole scenario at a tiny scale on both
// kinds and checks every phase was measured and both kinds' ovn-northd
// computed the same southbound database.
func TestNorthdBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server and runs ovn-northd on C's and our servers")
	}
	for _, tool := range []string{"ovsdb-server", "ovsdb-tool", "ovn-northd", "ovn-nbctl", "ovs-appctl"} {
		testutil.RequireTool(t, tool)
	}
	for _, s := range []string{loadgen.DefaultSchema, "/usr/share/ovn/ovn-sb.ovsschema"} {
		if _, err := loadgen.SchemaName(s); err != nil {
			testutil.MissingPrerequisite(t, "OVN schema: %v", err)
		}
	}
	dir := t.TempDir()
	server, err := loadgen.BuildOurs("", dir, "ovsdb-server", "../../../cmd/ovsdb-server")
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, run([]string{"-ours", server, "-switches", "5", "-ports", "4", "-bulk-ports", "7",
		"-compactions", "1", "-gap", "200ms", "-tail", "100ms", "-json"}, &b))
	var rs []result
	require.NoError(t, json.Unmarshal(b.Bytes(), &rs), b.String())
	require.Len(t, rs, 2)
	for _, r := range rs {
		for _, ph := range []string{"initial", "idle", "add-ports", "touch-switches", "del-ports"} {
			require.Positive(t, r.Sync[ph], "%s %s", r.Server, ph)
		}
		require.Equal(t, 5, r.SBRows["Datapath_Binding"], r.Server)
		require.Equal(t, 20, r.SBRows["Port_Binding"], r.Server)
		require.Positive(t, r.Loaded.NBRSS, r.Server)
		require.Positive(t, r.End.SBHWM, r.Server)
		require.Positive(t, r.End.NorthdRSS, r.Server)
		require.Len(t, r.Stalls, 2, r.Server)
		for _, st := range r.Stalls {
			require.Len(t, st.CompactMillis, 1, "%s %s", r.Server, st.DB)
			require.Positive(t, st.IdleCompactMillis, "%s %s", r.Server, st.DB)
			require.Positive(t, st.CompactedFileBytes, "%s %s", r.Server, st.DB)
			require.Positive(t, st.During.N+st.Outside.N, "%s %s writer txns", r.Server, st.DB)
		}
	}
	require.Equal(t, rs[0].SBRows, rs[1].SBRows, "the same NB gives the same SB on C's server and ours")

	saved := filepath.Join(dir, "run.json")
	require.NoError(t, os.WriteFile(saved, b.Bytes(), 0o644))
	var tb bytes.Buffer
	require.NoError(t, run([]string{"-from", saved}, &tb))
	require.Contains(t, tb.String(), "initial: northd start to --wait=sb (s)")
	require.Contains(t, tb.String(), "ours/C")
}

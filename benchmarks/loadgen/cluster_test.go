package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/stretchr/testify/require"
)

func TestClusterToolArgs(t *testing.T) {
	addrs := []string{"tcp:127.0.0.1:1", "tcp:127.0.0.1:2", "tcp:127.0.0.1:3"}
	tests := []struct {
		name  string
		i, et int
		want  []string
	}{
		{"create with timer", 0, 1000, []string{"--election-timer=1000", "create-cluster", "d0", "s.json", addrs[0]}},
		{"create default timer", 0, 0, []string{"create-cluster", "d0", "s.json", addrs[0]}},
		{"second joins first", 1, 1000, []string{"join-cluster", "d1", "NB", addrs[1], addrs[0]}},
		{"third joins both", 2, 1000, []string{"join-cluster", "d2", "NB", addrs[2], addrs[0], addrs[1]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := "d" + string(rune('0'+tt.i))
			require.Equal(t, tt.want, clusterToolArgs(tt.i, db, "NB", "s.json", addrs, tt.et))
		})
	}
}

func TestParseServerStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    MemberStatus
		wantErr bool
	}{
		{"leader", `[{"rows":[{"connected":true,"leader":true}]}]`, MemberStatus{Connected: true, Leader: true}, false},
		{"follower", `[{"rows":[{"connected":true,"leader":false}]}]`, MemberStatus{Connected: true}, false},
		{"disconnected", `[{"rows":[{"connected":false,"leader":false}]}]`, MemberStatus{}, false},
		{"no row", `[{"rows":[]}]`, MemberStatus{}, true},
		{"op error", `[{"error":"unknown database"}]`, MemberStatus{}, true},
		{"missing column", `[{"rows":[{"connected":true}]}]`, MemberStatus{}, true},
		{"not json", `{`, MemberStatus{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseServerStatus(json.RawMessage(tt.in))
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestServerStatusParams(t *testing.T) {
	var v []any
	require.NoError(t, json.Unmarshal(serverStatusParams("OVN_Northbound"), &v))
	require.Equal(t, "_Server", v[0])
	op := v[1].(map[string]any)
	require.Equal(t, "select", op["op"])
	require.Equal(t, []any{[]any{"name", "==", "OVN_Northbound"}}, op["where"])
}

func TestHealthyLeader(t *testing.T) {
	L := MemberStatus{Connected: true, Leader: true}
	F := MemberStatus{Connected: true}
	D := MemberStatus{}
	tests := []struct {
		name string
		st   []MemberStatus
		ok   []bool
		want int
	}{
		{"one leader", []MemberStatus{F, L, F}, []bool{true, true, true}, 1},
		{"no leader", []MemberStatus{F, F, F}, []bool{true, true, true}, -1},
		{"two leaders", []MemberStatus{L, L, F}, []bool{true, true, true}, -1},
		{"disconnected member", []MemberStatus{L, F, D}, []bool{true, true, true}, -1},
		{"unknown member", []MemberStatus{L, F, F}, []bool{true, true, false}, -1},
		{"two live members", []MemberStatus{F, L}, []bool{true, true}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, healthyLeader(tt.st, tt.ok))
		})
	}
}

func TestFirstSuccess(t *testing.T) {
	base := time.Unix(1000, 0)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	boom := errors.New("boom")

	f := newFirstSuccess()
	// Before the kill nothing counts, successes included.
	require.False(t, f.report(at(-10), at(-5), nil))
	f.kill(base)
	// A write issued before the kill does not count even if it ends after.
	require.False(t, f.report(at(-1), at(50), nil))
	require.False(t, f.report(at(10), at(20), boom))
	require.Equal(t, int64(1), f.errs)
	require.Equal(t, "boom", f.first)
	select {
	case <-f.done:
		t.Fatal("done before any qualifying success")
	default:
	}
	require.True(t, f.report(at(100), at(900), nil))
	<-f.done
	// An earlier completion of a write issued after the kill wins.
	require.True(t, f.report(at(200), at(700), nil))
	require.Equal(t, at(700), f.at)
	require.True(t, f.report(at(300), at(800), nil))
	require.Equal(t, at(700), f.at)
	// Errors after the decision (connections closed) are not counted.
	require.True(t, f.report(at(400), at(1000), boom))
	require.Equal(t, int64(1), f.errs)
}

func TestMedianDuration(t *testing.T) {
	require.Equal(t, time.Duration(0), MedianDuration(nil))
	require.Equal(t, 3*time.Second, MedianDuration([]time.Duration{5 * time.Second, 3 * time.Second, time.Second}))
	in := []time.Duration{4, 1, 3, 2}
	require.Equal(t, time.Duration(2), MedianDuration(in))
	require.Equal(t, []time.Duration{4, 1, 3, 2}, in, "input left unsorted")
}

// TestClusterSmokeC builds a 3-member C cluster, runs a short spread load
// and one leader kill, and checks the figures are sane.
func TestClusterSmokeC(t *testing.T) {
	server := testutil.RequireTool(t, "ovsdb-server")
	tool := testutil.RequireTool(t, "ovsdb-tool")
	schemaPath := "/usr/share/ovn/ovn-nb.ovsschema"
	if _, err := os.Stat(schemaPath); err != nil {
		schemaPath = "../testdata/bench.ovsschema"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := StartCluster(ctx, ClusterOptions{
		Server: server, Tool: tool, SchemaPath: schemaPath,
		ElectionTimerMS: 500, TempDir: t.TempDir(),
	})
	require.NoError(t, err)
	defer c.Stop()
	require.Len(t, c.Members, 3)
	table, column := "Logical_Switch", "name"
	if c.DBName != "OVN_Northbound" {
		testutil.MissingPrerequisite(t, "NB schema not installed")
	}

	res, err := ClusterLoad(ctx, c, "c", table, column, 3, 100*time.Millisecond, 400*time.Millisecond)
	require.NoError(t, err)
	require.Zero(t, res.Errors, res.FirstError)
	require.Positive(t, res.Txns)
	require.Positive(t, res.P50Micros)
	require.GreaterOrEqual(t, res.P99Micros, res.P50Micros)

	before, err := c.WaitHealthy(ctx, 10*time.Second)
	require.NoError(t, err)
	fr, err := c.Failover(ctx, FailoverOptions{Table: table, Column: column, Timeout: 20 * time.Second})
	require.NoError(t, err)
	require.Equal(t, before.Index, fr.Leader)
	require.NotEqual(t, fr.Leader, fr.Via)
	require.Positive(t, fr.Recovery)
	// The killed member was restarted and the cluster is whole again.
	for _, m := range c.Members {
		require.True(t, m.Alive(), "member %d", m.Index)
	}
	_, err = c.WaitHealthy(ctx, 10*time.Second)
	require.NoError(t, err)
}

// TestClusterPick: "spread" (or "") is every member, without asking the
// cluster anything; an unknown placement is refused before any wait.
func TestClusterPick(t *testing.T) {
	c := &Cluster{Members: []*Member{{Index: 0}, {Index: 1}, {Index: 2}}}
	for _, via := range []string{"", "spread"} {
		on, err := c.Pick(context.Background(), via, time.Second)
		require.NoError(t, err)
		require.Equal(t, c.Members, on)
	}
	_, err := c.Pick(context.Background(), "candidate", time.Second)
	require.ErrorContains(t, err, `via "candidate": want spread, leader or follower`)
}

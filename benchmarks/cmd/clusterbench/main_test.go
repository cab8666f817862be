package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
	"github.com/stretchr/testify/require"
)

func TestParseInts(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"1,32", []int{1, 32}, false},
		{" 8 ", []int{8}, false},
		{"0", nil, true},
		{"1,x", nil, true},
	}
	for _, tt := range tests {
		got, err := parseInts(tt.in)
		if tt.wantErr {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
	}
}

func TestMedianRunAndRatio(t *testing.T) {
	m := medianRun([]loadgen.Result{{TxnPerSec: 300}, {TxnPerSec: 100}, {TxnPerSec: 200}})
	require.Equal(t, 200.0, m.TxnPerSec)
	require.Equal(t, 3, m.Rounds)
	require.Equal(t, []float64{300, 100, 200}, m.TxnPerSecRuns)
	require.Equal(t, "2.50x", ratio(5, 2))
	require.Equal(t, "-", ratio(5, 0))
}

func TestWriteReport(t *testing.T) {
	rep := report{
		Load: []loadgen.Result{
			{Server: "c", Clients: 32, TxnPerSec: 600, P50Micros: 50000, P99Micros: 100000},
			{Server: "ours", Clients: 32, TxnPerSec: 6000, P50Micros: 5000, P99Micros: 20000},
		},
		Failovers: map[string][]loadgen.FailoverRound{
			"c":    {{Recovery: 1200 * time.Millisecond}, {Recovery: 1000 * time.Millisecond}, {Recovery: 1500 * time.Millisecond}},
			"ours": {{Recovery: 600 * time.Millisecond, Errors: 2, First: "not leader"}},
		},
	}
	var b strings.Builder
	writeReport(&b, rep, []int{32})
	out := b.String()
	require.Contains(t, out, "| 32 | c | 600 | 50.00 | 100.00 |")
	require.Contains(t, out, "| 32 | ours/C | 10.00x | 0.10x | 0.20x |")
	require.Contains(t, out, "| c | 1200 1000 1500 | 1200 | 0 |")
	require.Contains(t, out, "| ours | 600 | 600 | 2 |")
	require.Contains(t, out, "| ours/C | | 0.50x | |")
	require.Contains(t, out, "first failover write error (ours): not leader")
}

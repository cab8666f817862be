package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
	"github.com/stretchr/testify/require"
)

func TestWriteReport(t *testing.T) {
	rep := report{
		Load: []loadgen.Result{
			{Server: "c", Clients: 32, TxnPerSec: 600, P50Micros: 50000, P99Micros: 100000, Txns: 1800, ServerCPU: 3.6},
			{Server: "ours", Clients: 32, TxnPerSec: 6000, P50Micros: 5000, P99Micros: 20000, Txns: 18000, ServerCPU: 3.6},
		},
		Failovers: map[string][]loadgen.FailoverRound{
			"c":    {{Recovery: 1200 * time.Millisecond}, {Recovery: 1000 * time.Millisecond}, {Recovery: 1500 * time.Millisecond}},
			"ours": {{Recovery: 600 * time.Millisecond, Errors: 2, First: "not leader"}},
		},
	}
	var b strings.Builder
	writeReport(&b, rep, []int{32})
	out := b.String()
	require.Contains(t, out, "| 32 | c | 600 | 50.00 | 100.00 | 3.60 | 2000 |")
	require.Contains(t, out, "| 32 | ours | 6000 | 5.00 | 20.00 | 3.60 | 200 |")
	require.Contains(t, out, "| 32 | ours/C | 10.00x | 0.10x | 0.20x | | 0.10x |")
	require.Contains(t, out, "| c | 1200 1000 1500 | 1200 | 0 |")
	require.Contains(t, out, "| ours | 600 | 600 | 2 |")
	require.Contains(t, out, "| ours/C | | 0.50x | |")
	require.Contains(t, out, "first failover write error (ours): not leader")
}

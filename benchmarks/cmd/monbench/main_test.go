package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
)

func TestWriteTables(t *testing.T) {
	rep := report{
		Fanout: []loadgen.FanoutResult{
			{Server: "c", Clients: 100, P50Micros: 2000, P99Micros: 4000, MeanMicros: 2500},
			{Server: "ours", Clients: 100, P50Micros: 1000, P99Micros: 3000, MeanMicros: 1000},
		},
		Initial: []loadgen.InitialResult{
			{Server: "c", Ports: 50000, MedianMilli: 100, FirstMilli: 100, RSSLoadedKiB: 1024},
			{Server: "ours", Ports: 50000, MedianMilli: 50, FirstMilli: 200, RSSLoadedKiB: 2048},
		},
	}
	var b bytes.Buffer
	require.NoError(t, writeTables(&b, rep, 50))
	out := b.String()
	require.Contains(t, out, "0.50x") // fan-out p50 and initial median
	require.Contains(t, out, "0.40x") // fan-out mean
	require.Contains(t, out, "2.00x") // first initial run and RSS
	require.Contains(t, out, "(50000 ports)")
}

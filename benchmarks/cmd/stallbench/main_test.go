package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
)

func TestParseModes(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"standalone,cluster", []string{"standalone", "cluster"}, false},
		{" cluster ", []string{"cluster"}, false},
		{"snapshot", nil, true},
	} {
		got, err := parseModes(tc.in)
		if tc.wantErr {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got)
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeTable(&b, []loadgen.StallResult{{
		Server: "ours", Mode: "cluster", Rows: 50050, CompactMillis: []float64{12, 340}, WindowMaxMillis: []float64{3, 77},
		During:  loadgen.LatencySummary{N: 7, P50Milli: 1.5, P999Milli: 9.25, MaxMilli: 9.25},
		Outside: loadgen.LatencySummary{N: 900, P50Milli: 1.25, P999Milli: 4, MaxMilli: 5},
	}}))
	out := b.String()
	require.Contains(t, out, "12 340")
	require.Contains(t, out, "9.25")
	require.Contains(t, out, "50050")
	require.Contains(t, out, "3 77")
}

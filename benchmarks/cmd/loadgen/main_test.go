package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
)

func TestParseFlags(t *testing.T) {
	ints, err := parseInts("1, 8,32")
	require.NoError(t, err)
	require.Equal(t, []int{1, 8, 32}, ints)
	for _, bad := range []string{"", "0", "x", "1,,2", "-3"} {
		_, err := parseInts(bad)
		require.Error(t, err, bad)
	}
	wls, err := parseWorkloads("insert1,insert100")
	require.NoError(t, err)
	require.Equal(t, []loadgen.Workload{{Name: "insert1", RowsPerTxn: 1}, {Name: "insert100", RowsPerTxn: 100}}, wls)
	for _, bad := range []string{"insert", "insert0", "update5", ""} {
		_, err := parseWorkloads(bad)
		require.Error(t, err, bad)
	}
}

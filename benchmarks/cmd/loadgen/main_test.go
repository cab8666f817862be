package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
)

func TestParseWorkloads(t *testing.T) {
	wls, err := parseWorkloads("insert1,insert100")
	require.NoError(t, err)
	require.Equal(t, []loadgen.Workload{{Name: "insert1", RowsPerTxn: 1}, {Name: "insert100", RowsPerTxn: 100}}, wls)
	for _, bad := range []string{"insert", "insert0", "update5", ""} {
		_, err := parseWorkloads(bad)
		require.Error(t, err, bad)
	}
}

package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
)

func TestWriteTables(t *testing.T) {
	rep := report{
		Lag: []loadgen.LagResult{
			{Pair: "c->c", Txns: 20000, Rate: 999.6, P50Micros: 400, P99Micros: 2600, ActiveCore: 0.187},
			{Pair: "ours->ours", Txns: 20000, Rate: 1000, P50Micros: 108, P99Micros: 1961, BackupCore: 0.2},
			{Pair: "c->none", Txns: 20000, Rate: 1000, CommitP50Micros: 180, ActiveCore: 0.14},
		},
		Initial: []loadgen.InitialSyncResult{
			{Pair: "c->c", Ports: 50000, Millis: 10096, BackupCPU: 3.97},
			{Pair: "ours->ours", Ports: 50000, Millis: 6377, BackupCPU: 3.49},
		},
	}
	var b bytes.Buffer
	require.NoError(t, writeTables(&b, rep, 1000, 20*time.Second))
	out := b.String()
	require.Contains(t, out, "replication lag at 1000 txn/s for 20s")
	require.Contains(t, out, "0.400")
	require.Contains(t, out, "18.7%")
	require.Contains(t, out, "14.0%")
	require.Contains(t, out, "initial sync of 50000 Logical_Switch_Port rows")
	require.Contains(t, out, "10096")
}

func TestMedians(t *testing.T) {
	l := medianLag([]loadgen.LagResult{{P50Micros: 3}, {P50Micros: 1}, {P50Micros: 2}})
	require.Equal(t, 2.0, l.P50Micros)
	i := medianInitial([]loadgen.InitialSyncResult{{Millis: 30}, {Millis: 10}, {Millis: 20}})
	require.Equal(t, 20.0, i.Millis)
}

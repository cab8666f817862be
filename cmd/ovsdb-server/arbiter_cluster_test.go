package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newArbiterCluster makes and starts a cluster of database "C" with our
// ovsdb-tool: nData data members (create-cluster, join-cluster), then nArb
// arbiters (join-cluster --arbiter). It returns the data members and the
// arbiters (tc.members holds all, data first).
func newArbiterCluster(t *testing.T, nData, nArb int) (tc *testCluster, data, arbs []*member) {
	dir := t.TempDir()
	tc = &testCluster{t: t, dir: dir, server: buildBinary(t), tool: buildTool(t, "../ovsdb-tool", "ovsdb-tool")}
	schemaPath := filepath.Join(dir, "c.ovsschema")
	require.NoError(t, os.WriteFile(schemaPath, []byte(clusterTestSchema), 0o644))
	tc.createMembersArb(nData+nArb, nArb, "m", schemaPath, "C")
	return tc, tc.members[:nData], tc.members[nData:]
}

// TestClusterArbiter (issue 13, scope 1): two data members and one
// arbiter. The arbiter is marked in every member's cluster/status, refuses
// clients with an error naming the data members, and shows itself
// disconnected in _Server; the cluster keeps accepting writes after
// kill -9 of either data member and of the arbiter, and no acknowledged
// write is lost when the killed member returns.
func TestClusterArbiter(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	tc, data, arbs := newArbiterCluster(t, 2, 1)
	arb := arbs[0]
	all := tc.members
	tc.waitMembers(all, 3)

	arbSID, err := tc.appctl(arb, "cluster/sid", "C")
	require.NoError(t, err)
	arbNick := strings.TrimSpace(arbSID)[:4]
	tc.waitFor("every member marks the arbiter in cluster/status", 30*time.Second, func() bool {
		for _, m := range all {
			s, err := tc.appctl(m, "cluster/status", "C")
			if err != nil || strings.Count(s, "(arbiter)") != 1 ||
				!strings.Contains(s, fmt.Sprintf("    %s (%s at %s)", arbNick, arbNick, arb.addr)) {
				return false
			}
			for _, line := range strings.Split(s, "\n") {
				if strings.Contains(line, "(arbiter)") && !strings.HasPrefix(line, "    "+arbNick+" ") {
					return false
				}
			}
		}
		return true
	})

	// Clients of the arbiter get a clear error naming the data members;
	// list_dbs and _Server still answer, showing it disconnected.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, req := range [][]any{
		{"transact", "C", map[string]any{"op": "select", "table": "T", "where": []any{}}},
		{"get_schema", "C"},
		{"monitor", "C", nil, map[string]any{"T": map[string]any{}}},
	} {
		_, err := call(ctx, arb.sock, req[0].(string), req[1:]...)
		require.Error(t, err, "%v on the arbiter", req[0])
		require.Contains(t, err.Error(), "is a Raft arbiter", "%v", req[0])
		require.Contains(t, err.Error(), data[0].addr, "%v", req[0])
		require.Contains(t, err.Error(), data[1].addr, "%v", req[0])
	}
	dbs, err := call(ctx, arb.sock, "list_dbs")
	require.NoError(t, err)
	require.Equal(t, []any{"C", "_Server"}, dbs)
	row := serverRow(t, arb)
	require.Equal(t, false, row["connected"], "arbiter's _Server row: %v", row)
	require.Equal(t, false, row["leader"], "arbiter's _Server row: %v", row)

	var acked sync.Map
	tc.addKeys(data, "start", 10, &acked)
	for _, victim := range []*member{data[0], data[1], arb} {
		name := filepath.Base(victim.db)
		tc.kill(victim)
		live := without(data, victim)
		tc.addKeys(live, "without-"+name, 15, &acked)
		tc.start(victim)
		tc.waitMembers(all, 3)
		tc.requireExactlyOnce(data, &acked)
	}
	// The arbiter alone holds the latest writes: data[1] is down while
	// data[0] commits with the arbiter, then data[0] dies and data[1]
	// returns. data[1] cannot be elected (the arbiter's log is longer), so
	// the arbiter leads, brings data[1] up to date from its log and hands
	// its leadership over; nothing acknowledged is lost.
	tc.kill(data[1])
	tc.addKeys(data[:1], "lagging", 15, &acked)
	tc.kill(data[0])
	tc.start(data[1])
	tc.addKeys(data[1:], "from-arbiter", 5, &acked)
	require.True(t, logContains(arb, "this arbiter is the leader: transferring leadership"), "the arbiter led and handed over")
	tc.start(data[0])
	tc.waitMembers(all, 3)
	tc.requireExactlyOnce(data, &acked)

	// The data members hold the rows; the arbiter, which executes
	// nothing, none.
	cells := func(m *member) int {
		out, err := tc.appctl(m, "memory/show")
		require.NoError(t, err)
		n := 0
		if mm := regexp.MustCompile(`cells:(\d+)`).FindStringSubmatch(out); mm != nil {
			n, _ = strconv.Atoi(mm[1])
		}
		return n
	}
	// (memory/show counts the _Server database's cells too.)
	nKeys := 0
	acked.Range(func(any, any) bool { nKeys++; return true })
	dataCells, arbCells := cells(data[0]), cells(arb)
	require.GreaterOrEqual(t, dataCells-arbCells, nKeys, "cells: data member %d, arbiter %d", dataCells, arbCells)
}

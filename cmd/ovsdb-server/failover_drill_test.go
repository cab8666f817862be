package main

// The failover drill of active-backup replication: a writer commits
// through the active server, the active server is killed with SIGKILL,
// the backup is promoted, and the acknowledged transactions missing on
// the promoted backup are counted, for C's servers and ours.

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
	"github.com/stretchr/testify/require"
)

// drillResult is one trial of the drill, summed over the writers.
type drillResult struct {
	acked    int // transactions the writers had a successful reply for
	promoted int // the writers' rows on the promoted backup
	missing  int // acknowledged transactions not on the promoted backup
	oldFile  int // the writers' rows in the killed active server's file
}

// TestFailoverDrill runs the drill for C's servers (C active, C backup),
// ours, and the two mixed pairings; with one writer and with 8
// concurrent writers, each with the promotion at once after the kill and
// (with DRILL_TRIALS set) one second later (a cluster manager notices the
// failure after some time; the backup has then read everything the
// killed server had sent).
// What is asserted is what holds by design of asynchronous replication,
// in C as in ours:
//   - the promoted backup's rows of each writer are a prefix w<W>-0 ..
//     w<W>-(k-1) of its sequence: nothing reordered, none skipped;
//   - k is at most the writer's acknowledged count plus one (the
//     transaction in flight when the active server died may have
//     committed and been replicated without its reply reaching the
//     writer): nothing invented;
//   - the killed active server's file, served again, has every
//     acknowledged transaction (written before the reply), also as
//     prefixes.
//
// The number of acknowledged transactions missing on the promoted backup
// (the window of asynchronous replication) is printed, not asserted.
// DRILL_TRIALS=N runs N trials of each (default 1); the figures of
// benchmarks/RESULTS.md come from
//
//	DRILL_TRIALS=5 go test -count=1 -run TestFailoverDrill -v ./cmd/ovsdb-server
func TestFailoverDrill(t *testing.T) {
	trials := 1
	waits := []time.Duration{0}
	if s := os.Getenv("DRILL_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "DRILL_TRIALS")
		trials = n
		waits = append(waits, time.Second)
	}
	pairs := abPairings(t)
	cbin := pairs[0].active
	pairs = append([]abPairing{{"C/C", cbin, cbin}}, pairs...)
	var summary []string
	for _, p := range pairs {
		for _, writers := range []int{1, 8} {
			for _, wait := range waits {
				name := fmt.Sprintf("%s/writers-%d/promote-after-%v", p.name, writers, wait)
				t.Run(name, func(t *testing.T) {
					var figs []string
					for i := 0; i < trials; i++ {
						r := failoverTrial(t, p, writers, wait, int64(i))
						figs = append(figs, fmt.Sprintf("%d/%d", r.missing, r.acked))
						t.Logf("trial %d: %d acknowledged, %d on the promoted backup (%d acknowledged missing), %d in the killed server's file",
							i, r.acked, r.promoted, r.missing, r.oldFile)
					}
					summary = append(summary, fmt.Sprintf("%-55s missing/acknowledged: %s", name, strings.Join(figs, " ")))
				})
			}
		}
	}
	t.Logf("failover drill:\n%s", strings.Join(summary, "\n"))
}

// drillRows returns, for each writer, how many of its rows the server
// has, after checking that they are a prefix of its sequence.
func drillRows(t *testing.T, s *abServer, writers int) []int {
	t.Helper()
	res, err := abTransact(s.dial(), map[string]any{"op": "select", "table": "Logical_Switch", "where": []any{}, "columns": []any{"name"}})
	require.NoError(t, err)
	seen := make([]map[int]bool, writers)
	for i := range seen {
		seen[i] = map[int]bool{}
	}
	for _, row := range res[0].(map[string]any)["rows"].([]any) {
		var w, n int
		name := row.(map[string]any)["name"].(string)
		_, err := fmt.Sscanf(name, "w%d-%d", &w, &n)
		require.NoError(t, err, "row %q", name)
		require.Less(t, w, writers, "row %q", name)
		seen[w][n] = true
	}
	counts := make([]int, writers)
	for w, m := range seen {
		counts[w] = len(m)
		for n := 0; n < len(m); n++ {
			require.True(t, m[n], "%s: writer %d's rows are not a prefix of its sequence: %d rows, w%d-%d missing", s.bin, w, len(m), w, n)
		}
	}
	return counts
}

// failoverTrial runs one drill and checks what holds by design.
func failoverTrial(t *testing.T, p abPairing, writers int, promoteAfter time.Duration, seed int64) drillResult {
	dir := t.TempDir()
	a := newABServer(t, p.active, filepath.Join(dir, "a"))
	r := runCmd(t, testutil.RequireTool(t, "ovn-nbctl"), "--db=unix:"+a.sock, "init")
	require.Equal(t, 0, r.status, r.stderr)
	b := newABServer(t, p.backup, filepath.Join(dir, "b"), "--sync-from=unix:"+a.sock)
	b.waitReplicating()

	// The writers: one transaction at a time each, a new switch
	// w<writer>-<N>.
	acked := make([]atomic.Int64, writers)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := jsonrpc.Dial("unix:" + a.sock)
			if err != nil {
				return
			}
			defer c.Close()
			for n := 0; ; n++ {
				res, err := abTransact(c, map[string]any{"op": "insert", "table": "Logical_Switch",
					"row": map[string]any{"name": fmt.Sprintf("w%d-%d", w, n)}})
				if err != nil || abTxnError(res) != "" {
					return
				}
				acked[w].Store(int64(n + 1))
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	// Kill the active server at a random point of the stream, after the
	// backup has followed for a while.
	bc := b.dial()
	deadline := time.Now().Add(30 * time.Second)
	for !b.hasSwitch(bc, "w0-100") {
		require.True(t, time.Now().Before(deadline), "the backup did not follow the writer: %s",
			testutil.LogTail(filepath.Join(b.dir, "log"), 20))
		time.Sleep(5 * time.Millisecond)
	}
	rng := rand.New(rand.NewSource(seed))
	time.Sleep(time.Duration(200+rng.Intn(500)) * time.Millisecond)
	a.stop(true)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the writers did not notice the killed server")
	}
	time.Sleep(promoteAfter)
	require.Equal(t, result{"", "", 0}, b.appctl("ovsdb-server/disconnect-active-ovsdb-server"))
	require.Equal(t, "state: active\n", b.syncStatus())
	var res drillResult
	have := drillRows(t, b, writers)
	for w := range have {
		n := int(acked[w].Load())
		require.LessOrEqual(t, have[w], n+1, "writer %d: nothing it did not send (the one in flight at most)", w)
		res.acked += n
		res.promoted += have[w]
		res.missing += max(0, n-have[w])
	}

	// The killed server's file has every acknowledged transaction.
	a.start()
	old := drillRows(t, a, writers)
	for w := range old {
		require.GreaterOrEqual(t, old[w], int(acked[w].Load()), "writer %d: every acknowledged transaction is in the active server's file", w)
		res.oldFile += old[w]
	}
	a.noRace()
	b.noRace()
	return res
}

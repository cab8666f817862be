package standalone

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/stretchr/testify/require"
)

// insertMany inserts root rows named prefix-0, prefix-1, ... and returns the
// names whose transactions succeeded.
func insertMany(t *testing.T, d *DB, prefix string, n int) []string {
	t.Helper()
	var names []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		res := cjson.String(insertA(d, name))
		require.Contains(t, res, `"uuid"`)
		require.NotContains(t, res, "error")
		names = append(names, name)
	}
	return names
}

// TestCompactConcurrentCommits commits transactions while compactions run
// (from other goroutines, and from the compaction's own unlocked phases so
// that the tail rounds surely have work), then checks that every
// acknowledged transaction is in the reopened file, that the file is the
// compacted one plus the records after it, and that C ovsdb-tool agrees.
func TestCompactConcurrentCommits(t *testing.T) {
	for _, tt := range []struct {
		name        string
		hookInserts int // inserts at each "prepared" hook
		roundInsert int // inserts at each "round" hook
		writers     int
		compactions int
	}{
		{"tail under lock only", 10, 0, 0, 1},
		{"tail in unlocked rounds", 3 * tailUnlocked, 2 * tailUnlocked, 0, 1},
		{"concurrent writers", tailUnlocked + 1, 5, 4, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, path := newTestDB(t)
			var want []string
			want = append(want, insertMany(t, d, "before", 50)...)
			var mu sync.Mutex
			stages := map[string]int{}
			rounds := 0
			d.compactHook = func(stage string) {
				mu.Lock()
				stages[stage]++
				rounds++
				r := rounds
				mu.Unlock()
				n := tt.hookInserts
				if stage == "round" {
					n = tt.roundInsert
				}
				names := insertMany(t, d, fmt.Sprintf("hook%d", r), n)
				mu.Lock()
				want = append(want, names...)
				mu.Unlock()
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, tt.writers)
			for w := 0; w < tt.writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						name := fmt.Sprintf("w%d-%d", w, i)
						res := cjson.String(insertA(d, name))
						if strings.Contains(res, "error") || !strings.Contains(res, `"uuid"`) {
							errs <- fmt.Errorf("insert %s: %v", name, res)
							return
						}
						mu.Lock()
						want = append(want, name)
						mu.Unlock()
					}
				}()
			}
			for c := 0; c < tt.compactions; c++ {
				require.NoError(t, d.Compact())
			}
			close(stop)
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			require.Equal(t, tt.compactions, stages["prepared"])
			if tt.hookInserts > tailUnlocked {
				require.GreaterOrEqual(t, stages["round"], 1, "no tail round ran without the lock")
			}
			want = append(want, insertMany(t, d, "after", 3)...)
			live := ourContents(t, d)
			require.NoError(t, d.Close())

			// schema + snapshot + tail of the last compaction + "after".
			require.Less(t, countRecords(t, path), len(want), "file was not compacted")
			d2, err := Open(path)
			require.NoError(t, err)
			defer d2.Close()
			got := ourContents(t, d2)
			require.Equal(t, live, got)
			for _, name := range want {
				require.True(t, strings.Contains(got, fmt.Sprintf("%q", name)), "acknowledged %s lost", name)
			}
			res := transact(t, d2, `["T",{"op":"select","table":"A","where":[],"columns":["o"]}]`)
			require.Len(t, res[0].(map[string]any)["rows"], len(want))
			require.Equal(t, got, cContents(t, path))
		})
	}
}

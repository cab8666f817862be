package standalone

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/stretchr/testify/require"
)

func newTestDB(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	require.NoError(t, Create(path, testSchema(t)))
	d, err := Open(path)
	require.NoError(t, err)
	return d, path
}

// insertA inserts a root row (B rows are garbage: nothing refers to them).
func insertA(d *DB, name string) []any {
	return d.Database().Transact(context.Background(), []any{map[string]any{
		"op": "insert", "table": "A", "row": map[string]any{"o": name}}}, ovsdb.TransactOptions{})
}

// Transactions committed while a write is in progress share the next
// write; every record reaches the file.
func TestGroupCommitSharesWrites(t *testing.T) {
	d, path := newTestDB(t)
	var mu sync.Mutex
	var writes []int // records per write
	release := make(chan struct{})
	first := true
	d.writeHook = func(recs []byte) error {
		mu.Lock()
		writes = append(writes, bytes.Count(recs, []byte("OVSDB JSON ")))
		blk := first
		first = false
		mu.Unlock()
		if blk {
			<-release // hold the first write until the others queued
		}
		return nil
	}
	const n = 5
	var wg sync.WaitGroup
	results := make([]string, n+1)
	wg.Add(1)
	go func() { defer wg.Done(); results[0] = cjson.String(insertA(d, "first")) }()
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return !first },
		10*time.Second, time.Millisecond)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = cjson.String(insertA(d, fmt.Sprint("b", i))) }()
	}
	// The first is written (not yet published), n are queued.
	require.Eventually(t, func() bool { return d.Database().Pending() == 1+n }, 10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	for _, r := range results {
		require.NotContains(t, r, "error")
	}
	require.Equal(t, []int{1, n}, writes)
	require.NoError(t, d.Close())
	require.Equal(t, 2+n, countRecords(t, path)) // schema + first + n

	d2, err := Open(path)
	require.NoError(t, err)
	defer d2.Close()
	require.Equal(t, ourContents(t, d), ourContents(t, d2))
}

// A failed write reports the I/O error to its transaction, which is not
// applied and not in the file; the next write succeeds. Also through a
// compaction and a restart.
func TestGroupCommitWriteFailure(t *testing.T) {
	for _, compact := range []bool{false, true} {
		t.Run(fmt.Sprint("compact=", compact), func(t *testing.T) {
			d, path := newTestDB(t)
			require.NotContains(t, cjson.String(insertA(d, "w")), "error")
			fail := true
			d.writeHook = func([]byte) error {
				if fail {
					return ovsdberr.New(ovsdberr.TagIOError, "injected")
				}
				return nil
			}
			res := cjson.String(insertA(d, "x"))
			require.Contains(t, res, `{"details":"injected","error":"I/O error"}`)
			require.NotContains(t, ourContents(t, d), `"x"`)
			require.Zero(t, d.Database().Pending())
			require.Equal(t, 2, countRecords(t, path))

			fail = false
			require.NotContains(t, cjson.String(insertA(d, "y")), "error")
			require.Equal(t, 3, countRecords(t, path))
			if compact {
				require.NoError(t, d.Compact())
				require.Equal(t, 2, countRecords(t, path))
			}
			want := ourContents(t, d)
			require.Contains(t, want, `"y"`)
			require.NoError(t, d.Close())
			d2, err := Open(path)
			require.NoError(t, err)
			defer d2.Close()
			require.Equal(t, want, ourContents(t, d2))
			require.Equal(t, want, cContents(t, path))
		})
	}
}

// Many concurrent clients, some durable: every acknowledged row is in the
// file after Close, in an order that replays.
func TestGroupCommitConcurrent(t *testing.T) {
	d, path := newTestDB(t)
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				ops := []any{map[string]any{"op": "insert", "table": "A",
					"row": map[string]any{"o": fmt.Sprint(c, "-", i)}}}
				if i%5 == 0 {
					ops = append(ops, map[string]any{"op": "commit", "durable": true})
				}
				res := d.Database().Transact(context.Background(), ops, ovsdb.TransactOptions{})
				require.NotContains(t, cjson.String(res), "error")
			}
		}()
	}
	wg.Wait()
	want := ourContents(t, d)
	require.NoError(t, d.Close())
	require.Equal(t, 1+8*20, countRecords(t, path))
	d2, err := Open(path)
	require.NoError(t, err)
	defer d2.Close()
	require.Equal(t, want, ourContents(t, d2))
}

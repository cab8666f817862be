package raftstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// legacyLog makes the test's stores keep the log in bucket "log".
func legacyLog(t *testing.T) { t.Setenv(walEnv, "0") }

// withWAL makes the test's stores use a WAL, with small segments so that
// a few hundred entries rotate them.
func withWAL(t *testing.T) {
	t.Setenv(walEnv, "1")
	old := walSegmentSize
	walSegmentSize = 64 << 10
	t.Cleanup(func() { walSegmentSize = old })
}

// entries makes from..to with data that varies in size and content.
func entries(from, to, term uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, &raft.Log{Index: i, Term: term, Type: raft.LogCommand,
			Data: []byte(strings.Repeat(fmt.Sprintf("%d/%d;", i, term), int(i%37)+1))})
	}
	return out
}

func storeAll(t *testing.T, ls raft.LogStore, logs []*raft.Log, batch int) {
	t.Helper()
	for len(logs) > 0 {
		n := min(batch, len(logs))
		require.NoError(t, ls.StoreLogs(logs[:n]))
		logs = logs[n:]
	}
}

// requireLog checks that ls holds exactly from..to with the given terms
// (term(i)) and entries' data.
func requireLog(t *testing.T, ls raft.LogStore, from, to uint64, term func(uint64) uint64) {
	t.Helper()
	requireRange(t, ls, from, to)
	for i := from; i <= to && from > 0; i++ {
		var l raft.Log
		require.NoError(t, ls.GetLog(i, &l), "index %d", i)
		want := entries(i, i, term(i))[0]
		require.Equal(t, want.Index, l.Index)
		require.Equal(t, want.Term, l.Term)
		require.Equal(t, want.Data, l.Data)
	}
}

func boltLogCount(t *testing.T, s *Store) int {
	n := 0
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bktLog).Stats().KeyN
		return nil
	}))
	return n
}

func term1(uint64) uint64 { return 1 }

// TestWALRoundTrip: entries stored in the WAL (several segments) read back
// after a reopen; compaction hides what it deleted; the bbolt log bucket
// stays empty and an append costs no bbolt commit.
func TestWALRoundTrip(t *testing.T) {
	withWAL(t)
	s, path := newStore(t)
	require.NotNil(t, s.wal)
	ls := s.LogStore()
	before := s.writeTxns.Load()
	require.NoError(t, ls.StoreLogs(entries(1, 1, 1)))
	require.Equal(t, before, s.writeTxns.Load(), "an append is no bbolt commit")
	storeAll(t, ls, entries(2, 3000, 1), 100)
	requireLog(t, ls, 1, 3000, term1)
	require.NoError(t, s.Close())

	segs, err := filepath.Glob(filepath.Join(WALDir(path), "*.wal"))
	require.NoError(t, err)
	require.Greater(t, len(segs), 2, "segments rotated")

	s, err = Open(path)
	require.NoError(t, err)
	ls = s.LogStore()
	requireLog(t, ls, 1, 3000, term1)
	require.Zero(t, boltLogCount(t, s))

	require.NoError(t, ls.DeleteRange(1, 2000)) // compaction
	requireLog(t, ls, 2001, 3000, term1)
	var l raft.Log
	require.ErrorIs(t, ls.GetLog(2000, &l), raft.ErrLogNotFound)
	require.NoError(t, s.Close())
	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	requireLog(t, s.LogStore(), 2001, 3000, term1)
	segs2, err := filepath.Glob(filepath.Join(WALDir(path), "*.wal"))
	require.NoError(t, err)
	require.Less(t, len(segs2), len(segs), "compacted segments removed")
}

// TestWALDeleteRange: a tail deletion is deferred to the next append; if
// that append fails after the WAL's truncation, the old entries are still
// read (hashicorp/raft keeps their last index in memory) until an append
// succeeds; a later append stores the ghost entries below it again.
func TestWALDeleteRange(t *testing.T) {
	withWAL(t)
	s, path := newStore(t)
	ls := s.LogStore()
	require.NoError(t, ls.StoreLogs(entries(1, 10, 1)))
	require.NoError(t, ls.DeleteRange(6, 10))
	requireLog(t, ls, 1, 5, term1)

	s.failAppend = func() error { return errors.New("injected: no space left on device") }
	require.Error(t, ls.StoreLogs(entries(6, 8, 2)))
	requireLog(t, ls, 1, 10, term1) // as before the deletion

	// The leader retries from a later point: 6 and 7 are kept (ghosts,
	// stored again with the batch), 8.. replaced.
	require.NoError(t, ls.DeleteRange(8, 10))
	requireLog(t, ls, 1, 7, term1)
	s.failAppend = nil
	require.NoError(t, ls.StoreLogs(entries(8, 9, 2)))
	termOf := func(i uint64) uint64 {
		if i >= 8 {
			return 2
		}
		return 1
	}
	requireLog(t, ls, 1, 9, termOf)
	require.NoError(t, s.Close())
	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	requireLog(t, s.LogStore(), 1, 9, termOf)

	// A deletion of everything, then an append at a later index (after
	// install-snapshot).
	ls = s.LogStore()
	require.NoError(t, ls.DeleteRange(1, 9))
	requireRange(t, ls, 0, 0)
	require.NoError(t, ls.StoreLogs(entries(50, 52, 3)))
	requireLog(t, ls, 50, 52, func(uint64) uint64 { return 3 })
}

// TestWALBoundToFile: a WAL directory is read only by the file that names
// its id. Create sets aside a directory left by a removed file; Open
// refuses a file whose directory is missing or another file's.
func TestWALBoundToFile(t *testing.T) {
	withWAL(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	require.NoError(t, Create(path, testMeta()))
	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.LogStore().StoreLogs(entries(1, 20, 1)))
	require.NoError(t, s.Close())

	// The operator removes the file only, and creates a new member.
	require.NoError(t, os.Remove(path))
	require.NoError(t, Create(path, testMeta()))
	stale, err := filepath.Glob(WALDir(path) + ".stale-*")
	require.NoError(t, err)
	require.Len(t, stale, 1, "old log set aside")
	s, err = Open(path)
	require.NoError(t, err)
	requireRange(t, s.LogStore(), 0, 0) // the old log is not read
	require.NoError(t, s.LogStore().StoreLogs(entries(1, 3, 5)))
	require.NoError(t, s.Close())

	// Another file's directory in its place.
	other := filepath.Join(dir, "other")
	require.NoError(t, Create(other, testMeta()))
	require.NoError(t, os.Rename(WALDir(path), filepath.Join(dir, "mine.wal")))
	require.NoError(t, os.Rename(WALDir(other), WALDir(path)))
	_, err = Open(path)
	require.ErrorContains(t, err, "belongs to another database file")
	_, err = OpenReadOnly(path)
	require.ErrorContains(t, err, "belongs to another database file")

	// The file moved without its directory.
	require.NoError(t, os.RemoveAll(WALDir(path)))
	_, err = Open(path)
	require.EqualError(t, err, "ovsdb error: "+path+": its log directory "+WALDir(path)+
		" is missing (a member's file and its .wal directory are moved, copied and removed together)")
	_, err = OpenReadOnly(path)
	require.ErrorContains(t, err, "its log directory "+WALDir(path)+" is missing")

	// Moved together, it opens.
	require.NoError(t, os.Rename(filepath.Join(dir, "mine.wal"), WALDir(path)))
	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	requireLog(t, s.LogStore(), 1, 3, func(uint64) uint64 { return 5 })
}

// TestWALMigration: a file with its log in bucket "log" is migrated by
// Open; a crash after any step (the hook fails there, leaving the files
// as they are) leaves a file whose next Open has the whole log, with
// nothing set aside.
func TestWALMigration(t *testing.T) {
	for _, step := range []string{"", "pending", "dir", "copying", "copied", "bound"} {
		t.Run("crash after "+step, func(t *testing.T) {
			legacyLog(t)
			path := filepath.Join(t.TempDir(), "db")
			require.NoError(t, Create(path, testMeta()))
			s, err := Open(path)
			require.NoError(t, err)
			require.Nil(t, s.wal)
			storeAll(t, s.LogStore(), entries(1, 2500, 1), 500)
			require.NoError(t, s.LogStore().DeleteRange(1, 100))
			require.NoError(t, s.StableStore().SetUint64([]byte("CurrentTerm"), 7))
			require.NoError(t, s.RecordApplied(Applied{Index: 2400, Term: 1}))
			require.NoError(t, s.LogStore().StoreLogs(entries(2501, 2501, 1)))
			require.NoError(t, s.Close())

			withWAL(t)
			if step != "" {
				crash := errors.New("crash at " + step)
				migrateHook = func(at string) error {
					if at == step {
						return crash
					}
					return nil
				}
				_, err = Open(path)
				migrateHook = nil
				require.ErrorIs(t, err, crash)
			}
			s, err = Open(path)
			require.NoError(t, err)
			defer s.Close()
			require.NotNil(t, s.wal)
			requireLog(t, s.LogStore(), 101, 2501, term1)
			require.Zero(t, boltLogCount(t, s))
			term, err := s.StableStore().GetUint64([]byte("CurrentTerm"))
			require.NoError(t, err)
			require.Equal(t, uint64(7), term)
			require.Contains(t, s.AppliedHints(), Applied{Index: 2400, Term: 1})
			stale, err := filepath.Glob(WALDir(path) + ".stale-*")
			require.NoError(t, err)
			require.Empty(t, stale)

			// Read-only, and the migrated log keeps working.
			require.NoError(t, s.LogStore().StoreLogs(entries(2502, 2510, 2)))
			ro, err := OpenReadOnly(path)
			require.NoError(t, err)
			n := 0
			require.NoError(t, ro.ForEachLog(func(l *raft.Log, err error) error {
				require.NoError(t, err)
				require.Equal(t, uint64(101+n), l.Index)
				n++
				return nil
			}))
			require.Equal(t, 2410, n)
			require.NoError(t, ro.Close())
		})
	}
	t.Run("a stale directory is set aside", func(t *testing.T) {
		legacyLog(t)
		path := filepath.Join(t.TempDir(), "db")
		require.NoError(t, Create(path, testMeta()))
		s, err := Open(path)
		require.NoError(t, err)
		require.NoError(t, s.LogStore().StoreLogs(entries(1, 5, 1)))
		require.NoError(t, s.Close())
		// Another member's log, with entries, at this file's WAL name.
		withWAL(t)
		other := filepath.Join(filepath.Dir(path), "other")
		require.NoError(t, Create(other, testMeta()))
		o, err := Open(other)
		require.NoError(t, err)
		require.NoError(t, o.LogStore().StoreLogs(entries(1, 9, 4)))
		require.NoError(t, o.Close())
		require.NoError(t, os.Rename(WALDir(other), WALDir(path)))
		s, err = Open(path)
		require.NoError(t, err)
		defer s.Close()
		requireLog(t, s.LogStore(), 1, 5, term1)
		stale, err := filepath.Glob(WALDir(path) + ".stale-*")
		require.NoError(t, err)
		require.Len(t, stale, 1)
	})
	t.Run("an empty stale directory is removed", func(t *testing.T) {
		legacyLog(t)
		path := filepath.Join(t.TempDir(), "db")
		require.NoError(t, Create(path, testMeta()))
		require.NoError(t, makeWALDir(WALDir(path), newWALID()))
		withWAL(t)
		s, err := Open(path)
		require.NoError(t, err)
		defer s.Close()
		stale, err := filepath.Glob(WALDir(path) + ".stale-*")
		require.NoError(t, err)
		require.Empty(t, stale)
	})
}

// TestWALReadOnlyWhileRunning: OpenReadOnly reads a running member's WAL
// (the server holds the bbolt file's lock) while it appends, rotates
// segments and compacts, and always gets a contiguous log that holds
// what was stored before the read began.
func TestWALReadOnlyWhileRunning(t *testing.T) {
	withWAL(t)
	s, path := newStore(t)
	ls := s.LogStore()
	storeAll(t, ls, entries(1, 500, 1), 50)
	var stored atomic.Uint64
	stored.Store(500)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		next := uint64(501)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := ls.StoreLogs(entries(next, next+19, 1)); err != nil {
				t.Error(err)
				return
			}
			next += 20
			stored.Store(next - 1)
			if next%400 == 1 {
				if err := ls.DeleteRange(1, next-300); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	for range 20 {
		least := stored.Load()
		ro, err := OpenReadOnly(path)
		require.NoError(t, err)
		require.NotEmpty(t, ro.copyPath, "server holds the file")
		var prev uint64
		require.NoError(t, ro.ForEachLog(func(l *raft.Log, err error) error {
			require.NoError(t, err)
			if prev > 0 {
				require.Equal(t, prev+1, l.Index)
			}
			prev = l.Index
			require.Equal(t, entries(l.Index, l.Index, 1)[0].Data, l.Data)
			return nil
		}))
		require.GreaterOrEqual(t, prev, least)
		require.NoError(t, ro.Close())
	}
	close(stop)
	wg.Wait()
}

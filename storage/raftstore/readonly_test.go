package raftstore

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// TestOpenReadOnly: a file nobody has open is read in place; one that a
// server (here: a Store in this process, whose flock excludes any other
// open file description) has open is read through a private copy. Either
// way nothing can be written, and Close leaves no copy behind.
func TestOpenReadOnly(t *testing.T) {
	s, path := newStore(t)
	require.NoError(t, s.LogStore().StoreLogs(mkLogs(1, 5, 2)))
	require.NoError(t, s.StableStore().SetUint64([]byte("CurrentTerm"), 3))
	require.NoError(t, s.StableStore().SetUint64([]byte("LastVoteTerm"), 3))
	require.NoError(t, s.StableStore().Set([]byte("LastVoteCand"), []byte("tcp:1.2.3.4:5")))
	require.NoError(t, s.RecordApplied(Applied{Index: 4, Term: 2}))
	require.NoError(t, s.LogStore().StoreLogs(mkLogs(6, 6, 3)))
	writeSnap(t, s, 3, 2, payload(100, 1))

	tmp := t.TempDir()
	check := func(t *testing.T, ro *Store, copied bool) {
		t.Helper()
		require.True(t, ro.ReadOnly())
		require.Equal(t, copied, ro.copyPath != "")
		require.Equal(t, s.Meta(), ro.Meta())
		st, err := ro.Stable()
		require.NoError(t, err)
		wantApplied := Applied{Index: 4, Term: 2}
		if s.wal != nil && copied {
			// With a WAL the bbolt copy is written at Close (and with
			// compactions), not with each append.
			wantApplied = Applied{}
		}
		require.Equal(t, StableState{CurrentTerm: 3, LastVoteTerm: 3, LastVoteCand: "tcp:1.2.3.4:5",
			Applied: wantApplied}, st)
		a, ok := ro.SideApplied()
		require.True(t, ok)
		require.Equal(t, Applied{Index: 4, Term: 2}, a)
		snaps, torn, err := ro.Snapshots()
		require.NoError(t, err)
		require.Zero(t, torn)
		require.Len(t, snaps, 1)
		require.Equal(t, uint64(3), snaps[0].Meta.Index)
		require.Equal(t, snaps[0].Chunks, snaps[0].Stored)
		var idx []uint64
		require.NoError(t, ro.ForEachLog(func(l *raft.Log, err error) error {
			require.NoError(t, err)
			idx = append(idx, l.Index)
			return nil
		}))
		require.Equal(t, []uint64{1, 2, 3, 4, 5, 6}, idx)
		_, data := readSnap(t, ro, snaps[0].Meta.ID)
		require.Equal(t, payload(100, 1), data)
		require.ErrorIs(t, ro.StableStore().SetUint64([]byte("CurrentTerm"), 9), bolt.ErrDatabaseReadOnly)
		require.Error(t, ro.LogStore().StoreLogs(mkLogs(7, 7, 3)))
		require.Error(t, ro.SetMeta(ro.Meta()))
		require.NoError(t, ro.Close())
		if copied {
			_, err := os.Stat(ro.copyPath)
			require.True(t, os.IsNotExist(err), "copy removed")
		}
		left, err := os.ReadDir(tmp)
		require.NoError(t, err)
		require.Empty(t, left)
	}

	t.Run("in use", func(t *testing.T) {
		ro, err := OpenReadOnlyWithOptions(path, ReadOnlyOptions{TempDir: tmp})
		require.NoError(t, err)
		check(t, ro, true)
	})
	t.Run("not in use", func(t *testing.T) {
		require.NoError(t, s.Close())
		ro, err := OpenReadOnlyWithOptions(path, ReadOnlyOptions{TempDir: tmp})
		require.NoError(t, err)
		// A writer waits for the reader's shared lock.
		_, err = OpenWithOptions(path, Options{LockTimeout: 10 * time.Millisecond})
		require.ErrorContains(t, err, "failed to lock lockfile")
		check(t, ro, false)
	})

	// Errors: C's texts for missing and foreign files; no file is made.
	missing := filepath.Join(tmp, "missing.db")
	_, err := OpenReadOnly(missing)
	require.EqualError(t, err, "I/O error: "+missing+": open failed (No such file or directory)")
	_, err = os.Stat(missing)
	require.True(t, os.IsNotExist(err))
	other := filepath.Join(tmp, "standalone.db")
	require.NoError(t, os.WriteFile(other, []byte("OVSDB JSON 2 0000000000000000000000000000000000000000\n{}\n"), 0o644))
	_, err = OpenReadOnly(other)
	require.ErrorContains(t, err, "not a clustered database file of this server (standalone)")
}

// TestOpenReadOnlyWhileWriting: a copy is used only if no commit ended
// during it. With a writer committing all the time, every store that
// opens reads a log whose entries are all whole and contiguous; a writer
// that never pauses makes OpenReadOnly give up with C's lock error.
func TestOpenReadOnlyWhileWriting(t *testing.T) {
	s, path := newStore(t)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var pause atomic.Int64
	pause.Store(int64(2 * time.Millisecond))
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(1); !stop.Load(); i += 16 {
			var logs []*raft.Log
			for j := i; j < i+16; j++ {
				logs = append(logs, &raft.Log{Index: j, Term: 1, Type: raft.LogCommand,
					Data: []byte(fmt.Sprintf("entry %d %0200d", j, j))})
			}
			if err := s.LogStore().StoreLogs(logs); err != nil {
				return
			}
			if p := time.Duration(pause.Load()); p > 0 {
				time.Sleep(p)
			}
		}
	}()
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	opened := 0
	for range 20 {
		ro, err := OpenReadOnlyWithOptions(path, ReadOnlyOptions{CopyTimeout: 2 * time.Second})
		if err != nil {
			require.ErrorContains(t, err, "failed to lock lockfile")
			continue
		}
		opened++
		var prev uint64
		require.NoError(t, ro.ForEachLog(func(l *raft.Log, err error) error {
			require.NoError(t, err)
			require.Equal(t, prev+1, l.Index)
			require.Equal(t, fmt.Sprintf("entry %d %0200d", l.Index, l.Index), string(l.Data))
			prev = l.Index
			return nil
		}))
		require.Zero(t, prev%16, "whole batches only")
		require.NoError(t, ro.Close())
	}
	require.NotZero(t, opened, "no consistent copy in 20 attempts")

	pause.Store(0)
	time.Sleep(10 * time.Millisecond)
	start := time.Now()
	_, err := OpenReadOnlyWithOptions(path, ReadOnlyOptions{CopyTimeout: 300 * time.Millisecond})
	if err != nil {
		require.EqualError(t, err, "I/O error: "+path+": failed to lock lockfile (Resource temporarily unavailable)")
		require.Less(t, time.Since(start), 5*time.Second)
	}
}

// TestTruncatedFileRefused: a file shorter than the pages its meta page
// counts is refused by Open and OpenReadOnly (bbolt would read past the
// end of its memory map).
func TestTruncatedFileRefused(t *testing.T) {
	s, path := newStore(t)
	require.NoError(t, s.LogStore().StoreLogs(mkLogs(1, 200, 1)))
	require.NoError(t, s.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	_, n, err := TrailingBytes(path)
	require.NoError(t, err)
	require.Zero(t, n)
	require.NoError(t, os.WriteFile(path, b[:3*4096], 0o640)) // the meta pages and one more
	_, err = Open(path)
	require.ErrorContains(t, err, "unexpected file format (truncated: ")
	_, err = OpenReadOnly(path)
	require.ErrorContains(t, err, "unexpected file format (truncated: ")
	require.NoError(t, os.WriteFile(path, append(b, 1, 2, 3), 0o640))
	off, n, err := TrailingBytes(path)
	require.NoError(t, err)
	require.Equal(t, int64(len(b)), off)
	require.Equal(t, int64(3), n)
}

package raftstore

import (
	"bytes"
	"io"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

var testConfig = raft.Configuration{Servers: []raft.Server{
	{Suffrage: raft.Voter, ID: "a", Address: "addr-a"},
	{Suffrage: raft.Nonvoter, ID: "b", Address: "addr-b"},
}}

// smallChunks makes snapshots span several chunks with little data.
func smallChunks(t *testing.T, n int) {
	old := chunkSize
	chunkSize = n
	t.Cleanup(func() { chunkSize = old })
}

func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func writeSnap(t *testing.T, s *Store, index, term uint64, data []byte) string {
	t.Helper()
	sink, err := s.SnapshotStore().Create(1, index, term, testConfig, index-1, nil)
	require.NoError(t, err)
	// Uneven writes cross chunk boundaries.
	for rest := data; len(rest) > 0; {
		k := min(len(rest), 13)
		n, err := sink.Write(rest[:k])
		require.NoError(t, err)
		require.Equal(t, k, n)
		rest = rest[k:]
	}
	require.NoError(t, sink.Close())
	require.NoError(t, sink.Close(), "Close is idempotent: raft closes after the FSM's Persist did")
	return sink.ID()
}

func readSnap(t *testing.T, s *Store, id string) (*raft.SnapshotMeta, []byte) {
	t.Helper()
	meta, rc, err := s.SnapshotStore().Open(id)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return meta, b
}

func listIDs(t *testing.T, s *Store) []string {
	t.Helper()
	metas, err := s.SnapshotStore().List()
	require.NoError(t, err)
	var ids []string
	for _, m := range metas {
		ids = append(ids, m.ID)
	}
	return ids
}

func TestSnapshotRoundTrip(t *testing.T) {
	smallChunks(t, 64)
	tests := []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"one byte", 1},
		{"exact chunk", 64},
		{"several chunks", 64*5 + 17},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t)
			data := payload(tc.size, byte(tc.size))
			before := s.writeTxns.Load()
			id := writeSnap(t, s, 10, 2, data)
			// One transaction per chunk (at least one to create the
			// chunk bucket) plus one to record it: never one big one.
			chunks := max(1, (tc.size+63)/64)
			require.LessOrEqual(t, s.writeTxns.Load()-before, uint64(chunks+1))

			meta, got := readSnap(t, s, id)
			require.Equal(t, data, got)
			require.Equal(t, id, meta.ID)
			require.Equal(t, raft.SnapshotVersion(1), meta.Version)
			require.Equal(t, uint64(10), meta.Index)
			require.Equal(t, uint64(2), meta.Term)
			require.Equal(t, uint64(9), meta.ConfigurationIndex)
			require.Equal(t, testConfig, meta.Configuration)
			require.Equal(t, int64(tc.size), meta.Size)
			require.Equal(t, []string{id}, listIDs(t, s))
		})
	}
}

func TestSnapshotRetainAndOrder(t *testing.T) {
	smallChunks(t, 32)
	s, path := newStore(t)
	id1 := writeSnap(t, s, 10, 1, payload(100, 1))
	id2 := writeSnap(t, s, 20, 1, payload(100, 2))
	require.Equal(t, []string{id2, id1}, listIDs(t, s))

	// A reader of the oldest snapshot keeps it until it is closed.
	_, rc, err := s.SnapshotStore().Open(id1)
	require.NoError(t, err)
	id3 := writeSnap(t, s, 30, 2, payload(100, 3))
	require.Equal(t, []string{id3, id2}, listIDs(t, s))
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.Equal(t, payload(100, 1), b)
	require.NoError(t, rc.Close())

	_, _, err = s.SnapshotStore().Open(id1)
	require.ErrorIs(t, err, ErrSnapshotNotFound)
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		require.Nil(t, tx.Bucket(bktSnapData).Bucket([]byte(id1)), "reaped snapshot's chunks must be gone")
		return nil
	}))

	// Persisted across reopen.
	require.NoError(t, s.Close())
	s2, err := Open(path)
	require.NoError(t, err)
	defer s2.Close()
	require.Equal(t, []string{id3, id2}, listIDs(t, s2))
	_, got := readSnap(t, s2, id3)
	require.Equal(t, payload(100, 3), got)
}

func TestSnapshotCancel(t *testing.T) {
	smallChunks(t, 16)
	s, _ := newStore(t)
	keep := writeSnap(t, s, 5, 1, payload(40, 9))
	sink, err := s.SnapshotStore().Create(1, 9, 1, testConfig, 1, nil)
	require.NoError(t, err)
	_, err = sink.Write(payload(100, 1))
	require.NoError(t, err)
	require.NoError(t, sink.Cancel())
	_, err = sink.Write([]byte("x"))
	require.ErrorIs(t, err, errClosed)
	require.ErrorIs(t, sink.Close(), errClosed, "a cancelled sink cannot be completed")
	require.Equal(t, []string{keep}, listIDs(t, s))
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		require.Nil(t, tx.Bucket(bktSnapData).Bucket([]byte(sink.ID())))
		return nil
	}))
}

func TestSnapshotInterruptedIsDiscarded(t *testing.T) {
	// The store is closed (as by a crash) while a snapshot is half written:
	// on reopen the partial chunks are removed and the previous snapshot
	// is still the newest.
	smallChunks(t, 16)
	s, path := newStore(t)
	keep := writeSnap(t, s, 5, 1, payload(40, 9))
	sink, err := s.SnapshotStore().Create(1, 9, 1, testConfig, 1, nil)
	require.NoError(t, err)
	_, err = sink.Write(payload(100, 1)) // 6 chunks written, 4 bytes buffered
	require.NoError(t, err)
	require.NoError(t, s.LogStore().StoreLogs(mkLogs(1, 3, 1)))
	require.NoError(t, s.Close())
	require.Error(t, sink.Close(), "a sink cannot complete on a closed store")

	s2, err := Open(path)
	require.NoError(t, err)
	defer s2.Close()
	require.Equal(t, []string{keep}, listIDs(t, s2))
	require.NoError(t, s2.db.View(func(tx *bolt.Tx) error {
		require.Nil(t, tx.Bucket(bktSnapData).Bucket([]byte(sink.ID())))
		return nil
	}))
	_, got := readSnap(t, s2, keep)
	require.Equal(t, payload(40, 9), got)
	requireRange(t, s2.LogStore(), 1, 3)
}

func TestSnapshotCorruptChunkDetected(t *testing.T) {
	smallChunks(t, 16)
	s, _ := newStore(t)
	id := writeSnap(t, s, 5, 1, payload(40, 9))
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktSnapData).Bucket([]byte(id))
		return b.Put(indexKey(1), bytes.Repeat([]byte{0xff}, 16))
	}))
	_, rc, err := s.SnapshotStore().Open(id)
	require.NoError(t, err)
	defer rc.Close()
	_, err = io.ReadAll(rc)
	require.ErrorContains(t, err, "does not match its checksum")

	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bktSnapData).Bucket([]byte(id)).Delete(indexKey(2))
	}))
	_, rc2, err := s.SnapshotStore().Open(id)
	require.NoError(t, err)
	defer rc2.Close()
	_, err = io.ReadAll(rc2)
	require.ErrorContains(t, err, "chunk 2 missing")
}

func TestSnapshotVersionAndUnknownID(t *testing.T) {
	s, _ := newStore(t)
	_, err := s.SnapshotStore().Create(0, 1, 1, testConfig, 1, nil)
	require.ErrorContains(t, err, "unsupported snapshot version 0")
	_, _, err = s.SnapshotStore().Open("1-1-1")
	require.ErrorIs(t, err, ErrSnapshotNotFound)
	ids := listIDs(t, s)
	require.Empty(t, ids)
}

// TestAppendsInterleaveWithSnapshot writes a many-chunk snapshot while
// another goroutine appends log batches: both complete intact, with no
// race (run with -race). That appends are not held up for the whole
// snapshot follows from one transaction per chunk (TestSnapshotRoundTrip).
func TestAppendsInterleaveWithSnapshot(t *testing.T) {
	smallChunks(t, 64)
	s, _ := newStore(t)
	sink, err := s.SnapshotStore().Create(1, 100, 1, testConfig, 1, nil)
	require.NoError(t, err)

	appended := make(chan uint64, 1)
	started := make(chan struct{})
	go func() {
		var last uint64
		for i := uint64(1); i <= 50; i++ {
			if err := s.LogStore().StoreLogs(mkLogs(i*4-3, i*4, 1)); err != nil {
				break
			}
			last = i * 4
			if i == 1 {
				close(started)
			}
		}
		appended <- last
	}()
	<-started
	data := payload(64*40, 5)
	for i := 0; i < len(data); i += 64 {
		_, err := sink.Write(data[i : i+64])
		require.NoError(t, err)
	}
	require.NoError(t, sink.Close())
	require.Equal(t, uint64(200), <-appended)
	requireRange(t, s.LogStore(), 1, 200)
	_, got := readSnap(t, s, sink.ID())
	require.Equal(t, data, got)
}

package raftstore

import (
	"os"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/schema"
)

// TestAppliedHints: the side file keeps the latest recorded position across
// a reopen, the bbolt file the one recorded before the last StoreLogs; a
// side file of another member or a torn one is ignored, and a store that
// records nothing creates no side file.
func TestAppliedHints(t *testing.T) {
	legacyLog(t) // the bbolt copy rides on StoreLogs only there
	s, path := newStore(t)
	require.Empty(t, s.AppliedHints())
	ls := s.LogStore()
	require.NoError(t, ls.StoreLogs([]*raft.Log{{Index: 1, Term: 1}, {Index: 2, Term: 1}}))
	_, err := os.Stat(appliedPath(path))
	require.ErrorIs(t, err, os.ErrNotExist, "no side file before the first record")

	require.NoError(t, s.RecordApplied(Applied{Index: 1, Term: 1}))
	require.NoError(t, ls.StoreLogs([]*raft.Log{{Index: 3, Term: 2}})) // carries 1/1
	require.NoError(t, s.RecordApplied(Applied{Index: 2, Term: 1}))    // side file only
	require.Equal(t, []Applied{{2, 1}, {1, 1}}, s.AppliedHints())
	require.NoError(t, s.Close())

	s, err = Open(path)
	require.NoError(t, err)
	require.Equal(t, []Applied{{2, 1}, {1, 1}}, s.AppliedHints())
	require.NoError(t, s.Close())

	// Torn side file: only the bbolt record is left.
	b, err := os.ReadFile(appliedPath(path))
	require.NoError(t, err)
	require.Len(t, b, appliedSize)
	require.NoError(t, os.WriteFile(appliedPath(path), b[:appliedSize-3], 0o640))
	s, err = Open(path)
	require.NoError(t, err)
	require.Equal(t, []Applied{{1, 1}}, s.AppliedHints())
	require.NoError(t, s.Close())

	// Another member's side file (same name, a new file at the path).
	require.NoError(t, os.WriteFile(appliedPath(path), encodeApplied(schema.NewUUID(), Applied{9, 9}), 0o640))
	s, err = Open(path)
	require.NoError(t, err)
	require.Equal(t, []Applied{{1, 1}}, s.AppliedHints())
	// Corrupt checksum.
	bad := encodeApplied(s.sid, Applied{9, 9})
	bad[30] ^= 1
	require.NoError(t, os.WriteFile(appliedPath(path), bad, 0o640))
	require.Equal(t, []Applied{{1, 1}}, s.AppliedHints())
	require.NoError(t, s.Close())
}

// TestStoreLogsAppliedIsFree: the applied position rides in the log
// append's transaction (one commit) and, the stable bucket being inline,
// costs no extra page.
func TestStoreLogsAppliedIsFree(t *testing.T) {
	legacyLog(t)
	s, _ := newStore(t)
	ls := s.LogStore()
	ss := s.StableStore()
	require.NoError(t, ss.SetUint64([]byte("CurrentTerm"), 3))
	require.NoError(t, ss.Set([]byte("LastVoteCand"), []byte("tcp:127.0.0.1:6643")))
	require.NoError(t, ss.SetUint64([]byte("LastVoteTerm"), 3))
	pages := func(i uint64) int {
		st := s.db.Stats()
		before := st.TxStats.GetWrite()
		require.NoError(t, ls.StoreLogs([]*raft.Log{{Index: i, Term: 3, Data: []byte("x")}}))
		st = s.db.Stats()
		return int(st.TxStats.GetWrite() - before)
	}
	for i := uint64(1); i <= 10; i++ {
		pages(i)
	}
	without := pages(11)
	require.NoError(t, s.RecordApplied(Applied{Index: 10, Term: 3}))
	n := s.writeTxns.Load()
	with := pages(12)
	require.Equal(t, n+1, s.writeTxns.Load())
	require.Equal(t, without, with)
	require.Equal(t, []Applied{{10, 3}}, s.AppliedHints(), "side file and bbolt agree")
}

package raftstore

import (
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

func mkLogs(from, to uint64, term uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: []byte{byte(i), 'x'}})
	}
	return out
}

func requireRange(t *testing.T, ls raft.LogStore, first, last uint64) {
	t.Helper()
	f, err := ls.FirstIndex()
	require.NoError(t, err)
	l, err := ls.LastIndex()
	require.NoError(t, err)
	require.Equal(t, [2]uint64{first, last}, [2]uint64{f, l})
}

func TestLogStoreEmpty(t *testing.T) {
	s, _ := newStore(t)
	ls := s.LogStore()
	requireRange(t, ls, 0, 0)
	var l raft.Log
	require.ErrorIs(t, ls.GetLog(1, &l), raft.ErrLogNotFound)
	require.NoError(t, ls.DeleteRange(1, 10))
	require.NoError(t, ls.StoreLogs(nil))
}

func TestLogStoreRoundTrip(t *testing.T) {
	legacyLog(t) // non-contiguous indexes; with a WAL, TestWALRoundTrip
	at := time.Unix(1700000000, 123456789)
	tests := []struct {
		name string
		log  raft.Log
	}{
		{"command", raft.Log{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte(`["T",{"op":"insert"}]`)}},
		{"noop no data", raft.Log{Index: 2, Term: 3, Type: raft.LogNoop}},
		{"config with extensions", raft.Log{Index: 3, Term: 1 << 40, Type: raft.LogConfiguration,
			Data: []byte{0, 1, 2}, Extensions: []byte("ext")}},
		{"appended at", raft.Log{Index: 4, Term: 2, Type: raft.LogBarrier, Data: []byte("d"), AppendedAt: at}},
		{"large", raft.Log{Index: 1 << 50, Term: 9, Type: raft.LogCommand, Data: make([]byte, 300000)}},
	}
	s, path := newStore(t)
	ls := s.LogStore()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.log
			require.NoError(t, ls.StoreLog(&in))
			var got raft.Log
			require.NoError(t, ls.GetLog(tc.log.Index, &got))
			require.True(t, tc.log.AppendedAt.Equal(got.AppendedAt))
			got.AppendedAt, in.AppendedAt = time.Time{}, time.Time{}
			require.Equal(t, in, got)
		})
	}
	// Survives reopen.
	require.NoError(t, s.Close())
	s2, err := Open(path)
	require.NoError(t, err)
	defer s2.Close()
	var got raft.Log
	require.NoError(t, s2.LogStore().GetLog(3, &got))
	require.Equal(t, []byte("ext"), got.Extensions)
	requireRange(t, s2.LogStore(), 1, 1<<50)
}

func TestStoreLogsIsOneTransaction(t *testing.T) {
	legacyLog(t) // with a WAL, TestWALAppendIsNoBoltCommit
	s, _ := newStore(t)
	ls := s.LogStore()
	before := s.writeTxns.Load()
	require.NoError(t, ls.StoreLogs(mkLogs(1, 500, 1)))
	require.Equal(t, before+1, s.writeTxns.Load())
	requireRange(t, ls, 1, 500)
	for _, i := range []uint64{1, 250, 500} {
		var l raft.Log
		require.NoError(t, ls.GetLog(i, &l))
		require.Equal(t, []byte{byte(i), 'x'}, l.Data)
	}
}

func TestDeleteRange(t *testing.T) {
	legacyLog(t) // a range in the middle; with a WAL, TestWALDeleteRange
	tests := []struct {
		name        string
		min, max    uint64
		first, last uint64
		present     []uint64
		absent      []uint64
	}{
		{"compact prefix", 1, 60, 61, 100, []uint64{61, 100}, []uint64{1, 60}},
		{"truncate suffix", 71, 100, 1, 70, []uint64{1, 70}, []uint64{71, 100}},
		{"middle", 10, 20, 1, 100, []uint64{9, 21}, []uint64{10, 15, 20}},
		{"all", 1, 100, 0, 0, nil, []uint64{1, 100}},
		{"beyond", 200, 300, 1, 100, []uint64{1, 100}, nil},
		{"empty range", 50, 40, 1, 100, []uint64{40, 50}, nil},
		{"overlapping end", 90, 1000, 1, 89, []uint64{89}, []uint64{90, 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t)
			ls := s.LogStore()
			require.NoError(t, ls.StoreLogs(mkLogs(1, 100, 1)))
			require.NoError(t, ls.DeleteRange(tc.min, tc.max))
			requireRange(t, ls, tc.first, tc.last)
			var l raft.Log
			for _, i := range tc.present {
				require.NoError(t, ls.GetLog(i, &l), "index %d", i)
			}
			for _, i := range tc.absent {
				require.ErrorIs(t, ls.GetLog(i, &l), raft.ErrLogNotFound, "index %d", i)
			}
		})
	}
}

func TestLogOverwriteAfterTruncate(t *testing.T) {
	// A follower truncates a conflicting suffix and appends the leader's.
	s, _ := newStore(t)
	ls := s.LogStore()
	require.NoError(t, ls.StoreLogs(mkLogs(1, 10, 1)))
	require.NoError(t, ls.DeleteRange(6, 10))
	require.NoError(t, ls.StoreLogs(mkLogs(6, 8, 2)))
	requireRange(t, ls, 1, 8)
	var l raft.Log
	require.NoError(t, ls.GetLog(7, &l))
	require.Equal(t, uint64(2), l.Term)
}

func TestDecodeLogCorrupt(t *testing.T) {
	good := encodeLog(&raft.Log{Term: 5, Type: raft.LogCommand, Data: []byte("abc"), Extensions: []byte("e"),
		AppendedAt: time.Unix(5, 0)})
	var l raft.Log
	require.NoError(t, decodeLog(7, good, &l))
	require.Equal(t, uint64(7), l.Index)
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad version", append([]byte{9}, good[1:]...)},
		{"truncated", good[:len(good)-3]},
		{"trailing", append(append([]byte(nil), good...), 0)},
		{"only version", good[:1]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, decodeLog(7, tc.b, &l), errCorruptLog)
		})
	}
}

func TestStableStore(t *testing.T) {
	s, path := newStore(t)
	ss := s.StableStore()

	// hashicorp/raft tests err.Error() == "not found" for missing keys.
	_, err := ss.Get([]byte("CurrentTerm"))
	require.EqualError(t, err, "not found")
	n, err := ss.GetUint64([]byte("CurrentTerm"))
	require.EqualError(t, err, "not found")
	require.Zero(t, n)

	tests := []struct {
		key string
		val []byte
		u   uint64
	}{
		{"LastVoteCand", []byte("server-1"), 0},
		{"empty", []byte{}, 0},
		{"CurrentTerm", nil, 42},
		{"big", nil, 1<<64 - 1},
	}
	for _, tc := range tests {
		if tc.val != nil {
			require.NoError(t, ss.Set([]byte(tc.key), tc.val))
		} else {
			require.NoError(t, ss.SetUint64([]byte(tc.key), tc.u))
		}
	}
	require.NoError(t, s.Close())
	s2, err := Open(path)
	require.NoError(t, err)
	defer s2.Close()
	ss = s2.StableStore()
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			if tc.val != nil {
				got, err := ss.Get([]byte(tc.key))
				require.NoError(t, err)
				require.Equal(t, tc.val, got)
				return
			}
			got, err := ss.GetUint64([]byte(tc.key))
			require.NoError(t, err)
			require.Equal(t, tc.u, got)
		})
	}
	_, err = ss.GetUint64([]byte("empty"))
	require.ErrorContains(t, err, "not a uint64")
}

// A follower's deletion of its log's tail happens with the append that
// follows it, or, when that append fails (disk full), not at all: the log
// then still ends where hashicorp/raft, which keeps its last index and term
// in memory after a failed append, believes it does.
func TestLogStoreTailDeletionWithAppend(t *testing.T) {
	s, _ := newStore(t)
	ls := s.LogStore()
	require.NoError(t, ls.StoreLogs(mkLogs(1, 10, 1)))

	// Conflict at 6: delete 6..10, then the append fails.
	require.NoError(t, ls.DeleteRange(6, 10))
	s.failWrite = func() error { return errors.New("injected") }
	require.Error(t, ls.StoreLogs(mkLogs(6, 7, 2)))
	s.failWrite = nil
	requireRange(t, ls, 1, 10)
	var l raft.Log
	require.NoError(t, ls.GetLog(8, &l))
	require.Equal(t, uint64(1), l.Term)

	// Again, and the append succeeds: the old tail is gone.
	require.NoError(t, ls.DeleteRange(6, 10))
	require.NoError(t, ls.StoreLogs(mkLogs(6, 7, 2)))
	requireRange(t, ls, 1, 7)
	require.NoError(t, ls.GetLog(7, &l))
	require.Equal(t, uint64(2), l.Term)
	require.ErrorIs(t, ls.GetLog(8, &l), raft.ErrLogNotFound)

	// Compaction (from the first entry) is not deferred.
	require.NoError(t, ls.DeleteRange(1, 3))
	requireRange(t, ls, 4, 7)
}

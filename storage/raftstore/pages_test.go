package raftstore

import (
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// DropMappedPages loses nothing: the entries read before are read again,
// equal, after it, and writes go on.
func TestDropMappedPages(t *testing.T) {
	s, _ := newStore(t)
	ls := s.LogStore()
	require.NoError(t, ls.StoreLogs(mkLogs(1, 200, 1)))
	var before raft.Log
	require.NoError(t, ls.GetLog(150, &before))
	require.NoError(t, s.DropMappedPages())
	var after raft.Log
	require.NoError(t, ls.GetLog(150, &after))
	require.Equal(t, before.Data, after.Data)
	require.Equal(t, before.Term, after.Term)
	require.NoError(t, ls.StoreLogs(mkLogs(201, 210, 1)))
	requireRange(t, ls, 1, 210)
	require.NoError(t, s.DropMappedPages())
	requireRange(t, ls, 1, 210)
}

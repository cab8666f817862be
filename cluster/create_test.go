package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

func TestCreateAndJoinFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := schema.ParseSchemaBytes([]byte(`{"name":"C","version":"1.0.0","tables":{"T":{"columns":{
		"k":{"type":"string"},"e":{"type":"integer","ephemeral":true}}}}}`))
	require.NoError(t, err)

	created := filepath.Join(dir, "a.db")
	require.NoError(t, Create(created, s, "tcp:127.0.0.1:6641"))
	require.True(t, IsClusteredFile(created))
	// The caller's schema is untouched; the stored one has no ephemeral
	// column.
	require.False(t, s.Tables["T"].ByName["e"].Persistent)
	st, err := raftstore.Open(created)
	require.NoError(t, err)
	m := st.Meta()
	snaps, err := st.SnapshotStore().List()
	require.NoError(t, err)
	require.NoError(t, st.Close())
	require.False(t, m.ClusterID.IsZero())
	require.False(t, m.ServerID.IsZero())
	require.Equal(t, "C", m.Name)
	require.Equal(t, "tcp:127.0.0.1:6641", m.LocalAddress)
	stored, err := schema.ParseSchemaBytes(m.Schema)
	require.NoError(t, err)
	require.True(t, stored.Tables["T"].ByName["e"].Persistent)
	require.Len(t, snaps, 1)
	require.Equal(t, uint64(1), snaps[0].Index)

	// An existing file and a bad address are refused; the latter leaves
	// no file.
	require.Error(t, Create(created, s, "tcp:127.0.0.1:6641"))
	require.EqualError(t, Create(filepath.Join(dir, "bad.db"), s, "nonsense"), "syntax error: nonsense: bad address")
	_, err = os.Stat(filepath.Join(dir, "bad.db"))
	require.True(t, os.IsNotExist(err))

	joined := filepath.Join(dir, "b.db")
	require.NoError(t, JoinWith(joined, "C", "tcp:127.0.0.1:6642",
		[]string{"tcp:127.0.0.1:6641", "tcp:127.0.0.1:6641"}, JoinOptions{ClusterID: m.ClusterID}))
	st, err = raftstore.Open(joined)
	require.NoError(t, err)
	jm := st.Meta()
	require.NoError(t, st.Close())
	require.True(t, jm.Joining())
	require.Equal(t, []string{"tcp:127.0.0.1:6641"}, jm.RemoteAddresses)
	require.Equal(t, m.ClusterID, jm.ClusterID)
	require.Empty(t, jm.Schema)

	require.Error(t, Join(filepath.Join(dir, "c.db"), "C", "tcp:127.0.0.1:6643", nil))
	require.Error(t, Join(filepath.Join(dir, "c.db"), "not a name", "tcp:127.0.0.1:6643", []string{"tcp:127.0.0.1:6641"}))
	require.EqualError(t, Join(filepath.Join(dir, "c.db"), "C", "tcp:127.0.0.1:6643", []string{"ssl:1.2.3.4:5"}),
		"syntax error: ssl:1.2.3.4:5: ssl cluster addresses are not supported")
}

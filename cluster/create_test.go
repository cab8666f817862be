package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
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
	require.EqualError(t, Create(filepath.Join(dir, "bad.db"), s, "nonsense"), `ovsdb error: nonsense: expected "tcp" or "ssl" address`)
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
	require.EqualError(t, Join(filepath.Join(dir, "c.db"), "C", "tcp:127.0.0.1:6643", []string{"ssl:1.2.3.4"}),
		"ovsdb error: ssl:1.2.3.4: syntax error in address")
	require.EqualError(t, Join(filepath.Join(dir, "c.db"), "C", "unix:c.raft", []string{"unix:a.raft", "unix:c.raft"}),
		"ovsdb error: remote addresses cannot be the same as the local address")
	require.EqualError(t, Join(filepath.Join(dir, "c.db"), "C", "tcp:1.2.3.4", []string{"unix:a.raft"}),
		"ovsdb error: tcp:1.2.3.4: syntax error in address")
	_, err = os.Stat(filepath.Join(dir, "c.db"))
	require.True(t, os.IsNotExist(err))

	// unix: addresses are stored as given.
	require.NoError(t, Join(filepath.Join(dir, "u.db"), "C", "unix:u.raft", []string{"unix:a.raft"}))
	st, err = raftstore.Open(filepath.Join(dir, "u.db"))
	require.NoError(t, err)
	require.Equal(t, "unix:u.raft", st.Meta().LocalAddress)
	require.Equal(t, []string{"unix:a.raft"}, st.Meta().RemoteAddresses)
	require.NoError(t, st.Close())
}

// TestCreateElectionTimer: C's bounds (100..600000 ms) at create time; the
// timer is stored only when given (0: the default, as C writes no record).
func TestCreateElectionTimer(t *testing.T) {
	dir := t.TempDir()
	s, err := schema.ParseSchemaBytes([]byte(`{"name":"C","version":"1.0.0","tables":{"T":{"columns":{"k":{"type":"string"}}}}}`))
	require.NoError(t, err)
	for _, ms := range []uint64{99, 600001} {
		require.EqualError(t, CreateWith(filepath.Join(dir, "bad.db"), s, "unix:a.raft", CreateOptions{ElectionTimerMS: ms}),
			"ovsdb error: election timer must be between 100 and 600000, in msec.")
		_, err = os.Stat(filepath.Join(dir, "bad.db"))
		require.True(t, os.IsNotExist(err))
	}
	for _, tc := range []struct {
		ms   uint64
		want int
	}{{0, 0}, {100, 100}, {600000, 600000}, {2500, 2500}} {
		path := filepath.Join(dir, fmt.Sprintf("t%d.db", tc.ms))
		require.NoError(t, CreateWith(path, s, "unix:a.raft", CreateOptions{ElectionTimerMS: tc.ms}))
		st, err := raftstore.Open(path)
		require.NoError(t, err)
		require.Equal(t, tc.want, st.Meta().ElectionTimerMS)
		require.NoError(t, st.Close())
	}
	require.NoError(t, ValidateElectionTimer(MinElectionTimerMS))
	require.NoError(t, ValidateElectionTimer(MaxElectionTimerMS))
	require.Error(t, ValidateElectionTimer(0))
}

// TestUnixAddressCluster: three members made by Create and Join with
// unix: addresses relative to the run directory ($OVS_RUNDIR), as C's own
// cluster tests make them (unix:s1.raft), join, replicate, and take a
// write through a follower, all over unix sockets.
func TestUnixAddressCluster(t *testing.T) {
	run, err := os.MkdirTemp("", "cu") // short: socket paths fit sun_path
	require.NoError(t, err)
	defer os.RemoveAll(run)
	t.Setenv("OVS_RUNDIR", run)
	dir := t.TempDir()
	s, err := schema.ParseSchemaBytes([]byte(`{"name":"C","version":"1.0.0","tables":{"T":{"columns":{"k":{"type":"string"}}}}}`))
	require.NoError(t, err)
	paths := []string{filepath.Join(dir, "s1.db"), filepath.Join(dir, "s2.db"), filepath.Join(dir, "s3.db")}
	require.NoError(t, CreateWith(paths[0], s, "unix:s1.raft", CreateOptions{ElectionTimerMS: 500}))
	require.NoError(t, Join(paths[1], "C", "unix:s2.raft", []string{"unix:s1.raft"}))
	require.NoError(t, Join(paths[2], "C", "unix:s3.raft", []string{"unix:s1.raft", "unix:s2.raft"}))
	var ms []*Member
	defer func() {
		for _, m := range ms {
			m.Close()
		}
	}()
	for _, p := range paths {
		m, err := Open(p)
		require.NoError(t, err)
		ms = append(ms, m)
	}
	deadline := time.Now().Add(60 * time.Second)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			require.True(t, time.Now().Before(deadline), "timed out waiting for %s", what)
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("every member joined", func() bool {
		for _, m := range ms {
			if m.Meta().Joining() {
				return false
			}
		}
		return len(ms[0].Node().Raft().GetConfiguration().Configuration().Servers) == 3
	})
	for i, m := range ms {
		require.Equal(t, fmt.Sprintf("unix:s%d.raft", i+1), m.Address())
		_, err := os.Lstat(filepath.Join(run, fmt.Sprintf("s%d.raft", i+1)))
		require.NoError(t, err, "socket in the run directory")
	}
	follower := ms[0]
	for _, m := range ms {
		if !m.IsLeader() {
			follower = m
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := follower.Transact(ctx, []any{map[string]any{"op": "insert", "table": "T", "row": map[string]any{"k": "x"}}},
		ovsdb.TransactOptions{})
	require.Len(t, res, 1)
	require.NotContains(t, res[0], "error")
	waitFor("the row on every member", func() bool {
		for _, m := range ms {
			n := 0
			m.Database().Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) { n = len(tables["T"]) })
			if n != 1 {
				return false
			}
		}
		return true
	})
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

// TestClusterRecover: cluster-recover refuses without --force, on a
// locked file (a running server) and on a member that has not joined; with
// --force the file is a one-member cluster of the same cluster and server
// ids that keeps its data.
func TestClusterRecover(t *testing.T) {
	dir := t.TempDir()
	schemaPath := filepath.Join(dir, "s.ovsschema")
	require.NoError(t, os.WriteFile(schemaPath, []byte(`{"name":"C","version":"1.0.0","tables":{"T":{"columns":{"k":{"type":"string"}}}}}`), 0o644))
	db := filepath.Join(dir, "c.db")
	tool := func(args ...string) (int, string) {
		var o, e bytes.Buffer
		code := run(append([]string{"ovsdb-tool"}, args...), &o, &e)
		return code, o.String() + e.String()
	}
	code, out := tool("create-cluster", db, schemaPath, "tcp:127.0.0.1:6641")
	require.Zero(t, code, out)
	before, err := readMeta(db)
	require.NoError(t, err)

	code, out = tool("cluster-recover", db)
	require.Equal(t, 1, code)
	require.Contains(t, out, "refusing to recover")
	require.Contains(t, out, "--force")

	st, err := raftstore.Open(db) // as a running server holds it
	require.NoError(t, err)
	code, out = tool("--force", "cluster-recover", db)
	require.Equal(t, 1, code)
	require.Contains(t, out, "failed to lock lockfile")
	require.NoError(t, st.Close())

	join := filepath.Join(dir, "j.db")
	code, out = tool("join-cluster", join, "C", "tcp:127.0.0.1:6642", "tcp:127.0.0.1:6641")
	require.Zero(t, code, out)
	code, out = tool("cluster-recover", "--force", join)
	require.Equal(t, 1, code)
	require.Contains(t, out, "has not joined")

	code, out = tool("cluster-recover", "--force", db)
	require.Zero(t, code, out)
	after, err := readMeta(db)
	require.NoError(t, err)
	require.Equal(t, before.ClusterID, after.ClusterID)
	require.Equal(t, before.ServerID, after.ServerID)

	st, err = raftstore.OpenReadOnly(db)
	require.NoError(t, err)
	defer st.Close()
	snaps, err := st.SnapshotStore().List()
	require.NoError(t, err)
	require.NotEmpty(t, snaps)
	require.Equal(t, []hraft.Server{{Suffrage: hraft.Voter, ID: hraft.ServerID(before.ServerID.String()),
		Address: "tcp:127.0.0.1:6641"}}, snaps[0].Configuration.Servers)
}

func readMeta(path string) (raftstore.Meta, error) {
	st, err := raftstore.OpenReadOnly(path)
	if err != nil {
		return raftstore.Meta{}, err
	}
	defer st.Close()
	return st.Meta(), nil
}

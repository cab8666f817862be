package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

const clusterSchema = `{"name":"C","version":"1.0.0","tables":{"T":{"columns":{"k":{"type":"string"},"n":{"type":"integer"}}}}}`

func TestBoltClusterStore(t *testing.T) {
	dir := t.TempDir()
	s, err := schema.ParseSchemaBytes([]byte(clusterSchema))
	require.NoError(t, err)
	id := schema.NewUUID()
	data := map[string]any{
		"T":        map[string]any{id.String(): map[string]any{"k": "a", "n": 7}},
		"_comment": "ignored", "_date": 1,
	}
	b := boltCluster{}
	created := filepath.Join(dir, "a.db")
	m := clusterMeta{ClusterID: schema.NewUUID(), ServerID: schema.NewUUID(), LocalAddress: "tcp:127.0.0.1:6641", Name: "C"}
	require.NoError(t, b.Create(created, m, cjson.Marshal(s.CJSON()), data, 2000))
	require.True(t, b.IsCluster(created))
	got, err := b.Meta(created)
	require.NoError(t, err)
	require.Equal(t, m, got)

	// Errors: an existing file, a bad address.
	require.Error(t, b.Create(created, m, cjson.Marshal(s.CJSON()), data, 0))
	require.EqualError(t, b.Create(filepath.Join(dir, "bad.db"), m2(m, "nonsense"), cjson.Marshal(s.CJSON()), data, 0),
		"syntax error: nonsense: bad address")
	_, err = os.Stat(filepath.Join(dir, "bad.db"))
	require.True(t, os.IsNotExist(err))

	joined := filepath.Join(dir, "b.db")
	jm := clusterMeta{ServerID: schema.NewUUID(), LocalAddress: "tcp:127.0.0.1:6642", Name: "C"}
	require.NoError(t, b.Join(joined, jm, []string{"tcp:127.0.0.1:6641"}))
	got, err = b.Meta(joined)
	require.NoError(t, err)
	require.Equal(t, jm, got)
	_, _, err = b.Standalone(joined)
	require.EqualError(t, err, joined+": member has not joined its cluster yet")

	// cluster-to-standalone of the created file holds the initial data.
	schemaRec, dataRec, err := b.Standalone(created)
	require.NoError(t, err)
	out := filepath.Join(dir, "s.db")
	require.NoError(t, writeStandalone(out, true, schemaRec, dataRec))
	db, err := loadStandalone(out)
	require.NoError(t, err)
	row := db.Row("T", id)
	require.NotNil(t, row)
	require.Equal(t, "a", row.Field(s.Table("T").Column("k").Index).Keys[0])
	require.Equal(t, int64(7), row.Field(s.Table("T").Column("n").Index).Keys[0])
	require.False(t, b.IsCluster(out))

	if testutil.RequireTool(t, "ovsdb-tool") != "" {
		q, err := exec.Command("ovsdb-tool", "query", out,
			`["C",{"op":"select","table":"T","where":[],"columns":["k","n"]}]`).CombinedOutput()
		require.NoError(t, err, string(q))
		require.Equal(t, `[{"rows":[{"k":"a","n":7}]}]`+"\n", string(q))
	}
}

func m2(m clusterMeta, addr string) clusterMeta {
	m.LocalAddress = addr
	return m
}

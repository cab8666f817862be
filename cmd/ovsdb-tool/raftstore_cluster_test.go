package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/cluster"
	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/raft"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
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
		`ovsdb error: nonsense: expected "tcp" or "ssl" address`)
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

// TestClusterLogReplay: cluster-to-standalone and show-log replay a
// member's log on its snapshot, batches and online conversions included:
// the standalone result has the converted schema and every row.
func TestClusterLogReplay(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.db")
	s, err := schema.ParseSchemaBytes([]byte(clusterSchema))
	require.NoError(t, err)
	require.NoError(t, cluster.CreateWith(path, s, "unix:m.raft", cluster.CreateOptions{}))
	v2 := `{"name":"C","version":"1.1.0","tables":{"T":{"columns":{"k":{"type":"string"},"n":{"type":"integer"},"z":{"type":"string"}}}}}`
	enc := func(e *raft.Entry) []byte {
		e.TxnID, e.DB, e.TimeMS = schema.NewUUID(), "C", 1700000000000
		b, err := e.MarshalBinary()
		require.NoError(t, err)
		return b
	}
	insert := func(row map[string]any) []any {
		return []any{map[string]any{"op": "insert", "table": "T", "row": row}}
	}
	st, err := raftstore.Open(path)
	require.NoError(t, err)
	one := enc(&raft.Entry{Ops: insert(map[string]any{"k": "a", "n": 1})})
	two := enc(&raft.Entry{Ops: insert(map[string]any{"k": "b"})})
	// A batch (raft/entry.go): version 2, count, then length and bytes
	// of each entry.
	batch := binary.AppendUvarint([]byte{2}, 2)
	batch = append(binary.AppendUvarint(batch, uint64(len(one))), one...)
	batch = append(binary.AppendUvarint(batch, uint64(len(two))), two...)
	conv := enc(&raft.Entry{Schema: []byte(v2)})
	three := enc(&raft.Entry{Ops: insert(map[string]any{"k": "c", "z": "new"})})
	require.NoError(t, st.LogStore().StoreLogs([]*hraft.Log{
		{Index: 2, Term: 2, Type: hraft.LogNoop},
		{Index: 3, Term: 2, Type: hraft.LogCommand, Data: batch},
		{Index: 4, Term: 2, Type: hraft.LogCommand, Data: conv},
		{Index: 5, Term: 2, Type: hraft.LogCommand, Data: three},
	}))
	require.NoError(t, st.StableStore().SetUint64([]byte("CurrentTerm"), 2))
	require.NoError(t, st.Close())

	var o, e bytes.Buffer
	require.Zero(t, run([]string{"ovsdb-tool", "cluster-to-standalone", filepath.Join(dir, "s.db"), path}, &o, &e), e.String())
	require.Empty(t, e.String())
	db, err := loadStandalone(filepath.Join(dir, "s.db"))
	require.NoError(t, err)
	require.Equal(t, "1.1.0", db.Schema().Version)
	var ks []string
	db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
		for _, r := range tables["T"] {
			ks = append(ks, r.Field(db.Schema().Table("T").Column("k").Index).Keys[0].(string))
		}
	})
	sort.Strings(ks)
	require.Equal(t, []string{"a", "b", "c"}, ks)

	o.Reset()
	require.Zero(t, run([]string{"ovsdb-tool", "-mm", "show-log", path}, &o, &e), e.String())
	require.Empty(t, e.String())
	for _, want := range []string{
		"record 3:\n term: 2\n index: 3\n transactions: 2\n eid: ",
		"  table T insert row ", "    k=a\n    n=1\n", "    k=b\n",
		"record 4:\n term: 2\n index: 4\n eid: ",
		" schema: \"C\", version=\"1.1.0\", cksum=\"\"\n 2023-11-14 22:13:20.000\n",
		"    k=c\n    z=new\n",
	} {
		require.Contains(t, o.String(), want)
	}
	require.Equal(t, result{}, checkRun(t, path))
}

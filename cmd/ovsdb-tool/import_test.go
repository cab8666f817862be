package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage"
)

const importSchema1 = `{"name":"S","version":"1.0.0","cksum":"12345 678","tables":{"T":{"columns":{"n":{"type":"string"},"a":{"type":"integer"}}}}}`
const importSchema2 = `{"name":"S","version":"2.0.0","tables":{"T":{"columns":{"n":{"type":"string"},"a":{"type":"integer"},"z":{"type":"string"}}}}}`

// Row UUIDs of the synthetic C files.
const (
	uA = "aaaaaaaa-0000-0000-0000-000000000001"
	uB = "bbbbbbbb-0000-0000-0000-000000000002"
	uC = "cccccccc-0000-0000-0000-000000000003"
	uD = "dddddddd-0000-0000-0000-000000000004"
	uX = "eeeeeeee-0000-0000-0000-000000000005"
)

// writeCClustered writes a C clustered file ("OVSDB CLUSTER") whose
// records are the JSON texts recs (the first one the header).
func writeCClustered(t *testing.T, path string, recs ...string) {
	t.Helper()
	l, err := storage.Open(path, storage.MagicClustered, storage.CreateExcl)
	require.NoError(t, err)
	for _, r := range recs {
		require.True(t, json.Valid([]byte(r)), r)
		require.NoError(t, l.WriteRaw([]byte(r+"\n")))
	}
	require.NoError(t, l.Commit())
	require.NoError(t, l.Close())
}

// cHeader1 is the header of a C member whose snapshot (index 1) holds
// importSchema1 and row A.
func cHeader1() string {
	sid := schema.NewUUID().String()
	return `{"cluster_id":"` + schema.NewUUID().String() + `","server_id":"` + sid + `","name":"S","local_address":"unix:s1.raft",` +
		`"prev_index":1,"prev_term":1,"prev_eid":"` + schema.NewUUID().String() + `","prev_servers":{"` + sid + `":"unix:s1.raft"},` +
		`"prev_data":[` + importSchema1 + `,{"T":{"` + uA + `":{"n":"a","a":1}}}]}`
}

func cLogEntry(term, index int, data string) string {
	return `{"term":` + itoa(term) + `,"index":` + itoa(index) + `,"eid":"` + schema.NewUUID().String() + `","data":` + data + `}`
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// importedState returns the schema and rows (table -> uuid -> row) of our
// clustered file path, as its standalone form holds them.
func importedState(t *testing.T, path string) (*schema.DatabaseSchema, map[string]map[string]map[string]any) {
	t.Helper()
	schemaRec, dataRec, err := clusterStore.Standalone(path)
	require.NoError(t, err)
	s, err := schema.ParseSchemaBytes(schemaRec)
	require.NoError(t, err)
	var data map[string]any
	require.NoError(t, json.Unmarshal(dataRec, &data))
	rows := map[string]map[string]map[string]any{}
	for tname, tj := range data {
		if strings.HasPrefix(tname, "_") {
			continue
		}
		rows[tname] = map[string]map[string]any{}
		for id, rj := range tj.(map[string]any) {
			rows[tname][id] = rj.(map[string]any)
		}
	}
	return s, rows
}

// TestCreateClusterImportsCClusteredFile: create-cluster with a C
// clustered file as CONTENTS makes a new cluster holding the file's
// committed state: the snapshot, then the log entries up to the last
// commit_index record (a truncated entry replaced, a conversion entry
// replacing schema and data); entries past it are left out with a warning
// naming how many; the schema (version, checksum) is kept.
func TestCreateClusterImportsCClusteredFile(t *testing.T) {
	bin := buildOurs(t)
	dir := t.TempDir()

	t.Run("commit index", func(t *testing.T) {
		src := filepath.Join(dir, "c1.db")
		writeCClustered(t, src, cHeader1(),
			cLogEntry(1, 2, `[null,{"T":{"`+uB+`":{"n":"b","a":2}}}]`),
			`{"commit_index":2}`,
			cLogEntry(1, 3, `[null,{"T":{"`+uA+`":{"a":10}}}]`),
			cLogEntry(1, 4, `[null,{"T":{"`+uC+`":{"n":"c"}}}]`),
			`{"term":2,"vote":"`+schema.NewUUID().String()+`"}`,
			cLogEntry(2, 4, `[null,{"T":{"`+uD+`":{"n":"d"}}}]`), // replaces entry 4 (C)
			`{"commit_index":4}`,
			cLogEntry(2, 5, `[null,{"T":{"`+uB+`":null}}]`), // past the commit index
			`{"term":2,"index":6,"servers":{"`+schema.NewUUID().String()+`":"unix:s1.raft"}}`,
		)
		o, e, code := runBin(t, bin, dir, "create-cluster", "o1.db", src, "unix:o1.raft")
		require.Zero(t, code, "stdout %s\nstderr %s", o, e)
		require.Contains(t, e, "c1.db: left out 2 log entries (1 of them transactions) past the last recorded commit index 4: they may never have been committed")
		require.Equal(t, 1, strings.Count(e, "\n"), "one warning line expected: %s", e)

		s, rows := importedState(t, filepath.Join(dir, "o1.db"))
		require.Equal(t, "S", s.Name)
		require.Equal(t, "1.0.0", s.Version)
		require.Equal(t, "12345 678", s.Cksum)
		require.Len(t, rows["T"], 3)
		require.Equal(t, map[string]any{"n": "a", "a": 10.0}, rows["T"][uA])
		require.Equal(t, map[string]any{"n": "b", "a": 2.0}, rows["T"][uB])
		require.Equal(t, map[string]any{"n": "d"}, rows["T"][uD])

		// A new cluster: not the C file's cluster id.
		m, err := readClusterMeta(filepath.Join(dir, "o1.db"))
		require.NoError(t, err)
		cm, err := readClusterMeta(src)
		require.NoError(t, err)
		require.NotEqual(t, cm.ClusterID, m.ClusterID)
		require.NotEqual(t, cm.ServerID, m.ServerID)
		require.Equal(t, "unix:o1.raft", m.LocalAddress)
	})

	t.Run("conversion entry", func(t *testing.T) {
		src := filepath.Join(dir, "c2.db")
		writeCClustered(t, src, cHeader1(),
			cLogEntry(1, 2, `[null,{"T":{"`+uB+`":{"n":"b","a":2}}}]`),
			cLogEntry(1, 3, `[`+importSchema2+`,{"T":{"`+uX+`":{"n":"x","z":"new"}}}]`),
			cLogEntry(1, 4, `[null,{"T":{"`+uD+`":{"n":"d","z":"zz"}}}]`),
			`{"commit_index":4}`,
		)
		o, e, code := runBin(t, bin, dir, "create-cluster", "o2.db", src, "unix:o2.raft")
		require.Zero(t, code, "stdout %s\nstderr %s", o, e)
		require.Empty(t, e, "nothing left out: no warning")
		s, rows := importedState(t, filepath.Join(dir, "o2.db"))
		require.Equal(t, "2.0.0", s.Version)
		require.Equal(t, map[string]map[string]any{
			uX: {"n": "x", "z": "new"},
			uD: {"n": "d", "z": "zz"},
		}, rows["T"])
	})

	t.Run("inconsistent log", func(t *testing.T) {
		src := filepath.Join(dir, "c3.db")
		writeCClustered(t, src, cHeader1(),
			cLogEntry(1, 2, `[null,{"T":{"`+uB+`":{"n":"b"}}}]`),
			`{"commit_index":2}`,
			cLogEntry(1, 4, `[null,{"T":{"`+uD+`":{"n":"d"}}}]`),
		)
		_, e, code := runBin(t, bin, dir, "create-cluster", "o3.db", src, "unix:o3.raft")
		require.Equal(t, 1, code)
		require.Contains(t, e, "record 3 with index 4 skips past expected index 3")
		require.NoFileExists(t, filepath.Join(dir, "o3.db"))
	})

	t.Run("unreplayable transaction", func(t *testing.T) {
		src := filepath.Join(dir, "c4.db")
		writeCClustered(t, src, cHeader1(),
			cLogEntry(1, 2, `[null,{"NoSuchTable":{"`+uB+`":{"n":"b"}}}]`),
			`{"commit_index":2}`,
		)
		_, e, code := runBin(t, bin, dir, "create-cluster", "o4.db", src, "unix:o4.raft")
		require.Equal(t, 1, code)
		require.Contains(t, e, "a committed transaction cannot be replayed")
		require.NoFileExists(t, filepath.Join(dir, "o4.db"))
	})
}

// TestCreateClusterImportsCToolFiles runs create-cluster (ours) on files
// made by C's ovsdb-tool: a standalone database with data, a clustered
// database C created from it (the data in its snapshot), and the file of
// a member that never joined (refused, with a clear error). The imported
// data is checked by C's own ovsdb-tool query on our cluster-to-standalone
// output, and the schema by C's db-version / db-cksum.
func TestCreateClusterImportsCToolFiles(t *testing.T) {
	ctool := testutil.RequireTool(t, "ovsdb-tool")
	if _, err := os.Stat(nbSchema); err != nil {
		testutil.MissingPrerequisite(t, "%s missing", nbSchema)
	}
	bin := buildOurs(t)
	dir := t.TempDir()
	mustRun := func(b string, args ...string) string {
		t.Helper()
		o, e, code := runBin(t, b, dir, args...)
		require.Zero(t, code, "%s %v: %s", b, args, e)
		return o
	}
	mustRun(ctool, "create", "sa.db", nbSchema)
	mustRun(ctool, "transact", "sa.db", txn1)
	want := mustRun(ctool, "query", "sa.db", sel)
	require.Contains(t, want, "p1")
	mustRun(ctool, "create-cluster", "c.db", "sa.db", "unix:c.raft")
	wantVersion := mustRun(ctool, "schema-version", nbSchema)
	wantCksum := mustRun(ctool, "schema-cksum", nbSchema)

	for _, src := range []string{"sa.db", "c.db"} {
		t.Run(src, func(t *testing.T) {
			ours := "ours-" + src
			mustRun(bin, "create-cluster", ours, src, "unix:"+ours+".raft")
			out := "out-" + src
			mustRun(bin, "cluster-to-standalone", out, ours)
			require.Equal(t, want, mustRun(ctool, "query", out, sel))
			require.Equal(t, wantVersion, mustRun(ctool, "db-version", out))
			require.Equal(t, wantCksum, mustRun(ctool, "db-cksum", out))
		})
	}

	t.Run("never joined", func(t *testing.T) {
		mustRun(ctool, "join-cluster", "j.db", "OVN_Northbound", "unix:j.raft", "unix:c.raft")
		_, e, code := runBin(t, bin, dir, "create-cluster", "ours-j.db", "j.db", "unix:oj.raft")
		require.Equal(t, 1, code)
		require.Equal(t, "j.db: this C cluster member never joined its cluster (its file holds no snapshot and no schema); import the file of a member that did",
			strings.TrimSpace(strings.SplitN(e, ": ", 2)[1]))
		require.NoFileExists(t, filepath.Join(dir, "ours-j.db"))
	})
}

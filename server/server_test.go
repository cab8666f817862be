package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/stretchr/testify/require"
)

// memStorage is a test double: a schema file opened as an in-memory
// database.
type memStorage struct {
	db        *ovsdb.Database
	compacted int
	closed    bool
}

func (m *memStorage) Database() *ovsdb.Database { return m.db }
func (m *memStorage) Compact() error            { m.compacted++; return nil }
func (m *memStorage) Close() error              { m.closed = true; return nil }
func (m *memStorage) Transact(ctx context.Context, ops []any, opts ovsdb.TransactOptions) []any {
	return m.db.Transact(ctx, ops, opts)
}
func (m *memStorage) Info() (Info, <-chan struct{}) {
	return Info{Model: "standalone", Connected: true, Leader: true}, nil
}
func (m *memStorage) Convert(*schema.DatabaseSchema) (Mode, error) { return nil, ErrUnsupported }
func (m *memStorage) Control(string, []string) (string, error)     { return "", ErrUnsupported }
func (m *memStorage) Memory() map[string]int                       { return nil }

func memOpener(opened map[string]*memStorage) Opener {
	return func(path string) (Mode, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		sch, err := schema.ParseSchemaBytes(data)
		if err != nil {
			return nil, err
		}
		m := &memStorage{db: ovsdb.NewDatabase(sch, ovsdb.NopCommitter{})}
		if opened != nil {
			opened[path] = m
		}
		return m, nil
	}
}

func writeSchema(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name+".ovsschema")
	js := `{"name":"` + name + `","version":"1.0.0","tables":{"T":{"columns":{"k":{"type":"string"}}}}}`
	require.NoError(t, os.WriteFile(p, []byte(js), 0o644))
	return p
}

func call(t *testing.T, c *jsonrpc.Client, method string, params any) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := c.Call(ctx, method, params)
	require.NoError(t, err)
	d := json.NewDecoder(bytesReader(raw))
	d.UseNumber()
	var v any
	require.NoError(t, d.Decode(&v))
	return v
}

func TestServeAndServerDB(t *testing.T) {
	dir := t.TempDir()
	opened := map[string]*memStorage{}
	s := New(Options{Open: memOpener(opened)})
	defer s.Close()
	pathB := writeSchema(t, dir, "B")
	pathA := writeSchema(t, dir, "A_db")
	require.NoError(t, s.AddDatabase(pathB))
	require.NoError(t, s.AddDatabase(pathA))
	sock := filepath.Join(dir, "db.sock")
	require.NoError(t, s.AddRemote("punix:"+sock))
	require.NoError(t, s.AddRemote("ptcp:0:127.0.0.1"))
	require.Equal(t, []string{"A_db", "B", "_Server"}, s.ListDatabases())
	require.Equal(t, []string{"ptcp:0:127.0.0.1", "punix:" + sock}, s.ListRemotes())

	for _, remote := range []string{"unix:" + sock, "tcp:" + s.RemoteAddr("ptcp:0:127.0.0.1").String()} {
		c, err := jsonrpc.Dial(remote)
		require.NoError(t, err)
		require.Equal(t, []any{"A_db", "B", "_Server"}, call(t, c, "list_dbs", []any{}))
		require.NoError(t, c.Close())
	}

	c, err := jsonrpc.Dial("unix:" + sock)
	require.NoError(t, err)
	defer c.Close()

	got := call(t, c, "get_schema", []any{"_Server"})
	var want any
	d := json.NewDecoder(bytesReader([]byte(ServerSchemaJSON)))
	d.UseNumber()
	require.NoError(t, d.Decode(&want))
	require.Equal(t, want, got)

	res := call(t, c, "transact", []any{"_Server", map[string]any{"op": "select", "table": "Database", "where": []any{},
		"columns": []any{"name", "model", "connected", "leader", "cid", "sid", "index"}}})
	rows := res.([]any)[0].(map[string]any)["rows"].([]any)
	require.Len(t, rows, 3)
	byName := map[string]map[string]any{}
	for _, r := range rows {
		m := r.(map[string]any)
		byName[m["name"].(string)] = m
	}
	for _, n := range []string{"A_db", "B", "_Server"} {
		require.Equal(t, map[string]any{"name": n, "model": "standalone", "connected": true, "leader": true,
			"cid": []any{"set", []any{}}, "sid": []any{"set", []any{}}, "index": []any{"set", []any{}}}, byName[n])
	}
	res = call(t, c, "transact", []any{"_Server", map[string]any{"op": "select", "table": "Database",
		"where": []any{[]any{"name", "==", "B"}}, "columns": []any{"schema"}}})
	schemaText := res.([]any)[0].(map[string]any)["rows"].([]any)[0].(map[string]any)["schema"].(string)
	// The schema column holds the get_schema reply as text.
	d = json.NewDecoder(bytesReader([]byte(schemaText)))
	d.UseNumber()
	var fromRow any
	require.NoError(t, d.Decode(&fromRow))
	require.Equal(t, call(t, c, "get_schema", []any{"B"}), fromRow)

	res = call(t, c, "transact", []any{"_Server", map[string]any{"op": "delete", "table": "Database", "where": []any{}}})
	require.Equal(t, []any{map[string]any{"error": "not allowed",
		"details": "delete operation not allowed on table in reserved database _Server"}}, res)

	// A transaction on a served database.
	res = call(t, c, "transact", []any{"B", map[string]any{"op": "insert", "table": "T", "row": map[string]any{"k": "v"}}})
	require.Len(t, res.([]any), 1)
	require.Contains(t, res.([]any)[0].(map[string]any), "uuid")

	// Removing a database removes its _Server row. Sessions that are not
	// db-change-aware are disconnected by remove-db, as C does.
	require.Equal(t, map[string]any{}, call(t, c, "set_db_change_aware", []any{true}))
	require.NoError(t, s.RemoveDatabase("A_db"))
	require.True(t, opened[pathA].closed)
	require.Equal(t, []any{"B", "_Server"}, call(t, c, "list_dbs", []any{}))
	res = call(t, c, "transact", []any{"_Server", map[string]any{"op": "select", "table": "Database", "where": []any{}, "columns": []any{"name"}}})
	require.Len(t, res.([]any)[0].(map[string]any)["rows"], 2)
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	opened := map[string]*memStorage{}
	s := New(Options{Open: memOpener(opened)})
	defer s.Close()
	p := writeSchema(t, dir, "B")
	require.NoError(t, s.AddDatabase(p))
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"already open", s.AddDatabase(p), "ovsdb error: " + p + ": already open"},
		{"duplicate", s.AddDatabase(writeSchema(t, t.TempDir(), "B")), "ovsdb error: B: duplicate database name"},
		{"reserved name", s.AddDatabase(writeSchema(t, dir, "_X")), "ovsdb error: _X: names beginning with \"_\" are reserved"},
		{"remove unknown db", s.RemoveDatabase("nope"), "Failed to find the database."},
		{"remove _Server", s.RemoveDatabase("_Server"), "Cannot remove reserved database."},
		{"remove unknown remote", s.RemoveRemote("punix:/x"), "no such remote"},
		{"compact unknown", s.Compact("nope"), "no database by that name"},
		{"compact builtin", s.Compact("_Server"), "cannot compact built-in databases"},
		{"bad ptcp", s.AddRemote("ptcp:notaport"), "ptcp:notaport: bad port number"},
		{"bad pssl", s.AddRemote("pssl:notaport"), "pssl:notaport: bad port number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.EqualError(t, tc.err, tc.want)
		})
	}
	require.Equal(t, []string{"B", "_Server"}, s.ListDatabases())
	// Remotes that cannot be opened are still listed, as C lists any configured remote.
	require.Equal(t, []string{"pssl:notaport", "ptcp:notaport"}, s.ListRemotes())
	require.NoError(t, s.RemoveRemote("pssl:notaport"))

	require.NoError(t, s.Compact())
	require.NoError(t, s.Compact("B"))
	require.Equal(t, 2, opened[p].compacted)
}

func TestRemoveRemoteClosesSessions(t *testing.T) {
	dir := t.TempDir()
	s := New(Options{Open: memOpener(nil)})
	defer s.Close()
	sock := filepath.Join(dir, "s")
	require.NoError(t, s.AddRemote("punix:"+sock))
	c, err := jsonrpc.Dial("unix:" + sock)
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, []any{"_Server"}, call(t, c, "list_dbs", []any{}))
	require.NoError(t, s.RemoveRemote("punix:"+sock))
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("session not closed by remove-remote")
	}
	_, err = os.Stat(sock)
	require.True(t, os.IsNotExist(err), "socket file removed")
}

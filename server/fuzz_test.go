package server

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
)

// FuzzServerSession drives whole client sessions of arbitrary bytes through
// the real server: the real JSON-RPC layer, the real engine, and the
// all-types test schema (every column type and constraint). After each
// session another client must still be able to transact, and the database
// must still answer a select: no input crashes or wedges the server.
func FuzzServerSession(f *testing.F) {
	const db = "AllTypes"
	for _, s := range []string{
		`{"method":"transact","params":["AllTypes",{"op":"insert","table":"Root","row":{"name":"a","i":5,"e":["set",["red"]],"m":["map",[["x",1]]]},"uuid-name":"r"},{"op":"insert","table":"Child","row":{"v":1.5},"uuid-name":"c"},{"op":"update","table":"Root","where":[["_uuid","==",["named-uuid","r"]]],"row":{"ref":["named-uuid","c"]}}],"id":1}`,
		`{"method":"transact","params":["AllTypes",{"op":"mutate","table":"Root","where":[],"mutations":[["i","+=",9223372036854775807],["m","insert",["map",[["y",2]]]]]}],"id":2}`,
		`{"method":"transact","params":["AllTypes",{"op":"wait","table":"Root","where":[],"columns":["name"],"until":"==","rows":[],"timeout":100}],"id":3}{"method":"cancel","params":[3],"id":null}`,
		`{"method":"transact","params":["AllTypes",{"op":"delete","table":"Child","where":[["v","includes",1.5]]},{"op":"select","table":"Root","where":[["wref","excludes",["set",[]]]]}],"id":4}`,
		`{"method":"transact","params":["AllTypes",{"op":"insert","table":"Root","row":{"name":"b","i":-6}},{"op":"commit","durable":true},{"op":"abort"}],"id":5}`,
		`{"method":"transact","params":["AllTypes",{"op":"assert","lock":"l"},{"op":"comment","comment":"x"}],"id":6}`,
		`{"method":"get_schema","params":["AllTypes"],"id":7}{"method":"list_dbs","params":[],"id":8}`,
		`{"method":"transact","params":["_Server",{"op":"select","table":"Database","where":[]}],"id":9}`,
		`{"method":"transact","params":["AllTypes",{"op":"insert","table":"Root","row":{"name":"c"},"uuid":"00000000-0000-0000-0000-000000000001"}],"id":[]}`,
		`{"method":"transact","params":["AllTypes",{"op":"select","table":"Root","where":[["m","<",1]]}]`,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	srv := New(Options{Open: memOpener(nil), JSONRPC: jsonrpc.Options{MaxMessageSize: 1 << 16}})
	f.Cleanup(func() { srv.Close() })
	require.NoError(f, srv.AddDatabase(copyFile(f, "../schema/testdata/all-types.ovsschema", dir)))
	f.Fuzz(func(t *testing.T, data []byte) {
		client, conn := net.Pipe()
		ss, err := srv.JSONRPC().ServeConn(conn, 0)
		require.NoError(t, err)
		go func() { _, _ = io.Copy(io.Discard, client) }()
		_ = client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = client.Write(data)
		_ = client.Close()
		ss.Close()
		select {
		case <-ss.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end")
		}

		c2, s2 := net.Pipe()
		defer c2.Close()
		_, err = srv.JSONRPC().ServeConn(s2, 0)
		require.NoError(t, err)
		cl := jsonrpc.NewClient(c2)
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := cl.Call(ctx, "transact", []any{db,
			map[string]any{"op": "select", "table": "Child", "where": []any{}, "columns": []any{"_uuid"}}})
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(res, []byte(`[{"rows":`)), string(res))
	})
}

func copyFile(tb testing.TB, src, dir string) string {
	tb.Helper()
	data, err := readFile(src)
	require.NoError(tb, err)
	dst := dir + "/AllTypes.ovsschema"
	require.NoError(tb, writeFile(dst, data))
	return dst
}

package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/standalone"
	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/server"
)

// Example opens a database file, serves it in-process on a unix socket and
// runs a transaction through a JSON-RPC client.
func Example() {
	dir, err := os.MkdirTemp("", "server-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	// A database file, as `ovsdb-tool create` would make it.
	sch, err := schema.ParseSchemaBytes([]byte(`{"name":"Inventory","version":"1.0.0",
		"tables":{"Item":{"columns":{"name":{"type":"string"}}}}}`))
	if err != nil {
		panic(err)
	}
	dbPath := filepath.Join(dir, "inventory.db")
	if err := standalone.Create(dbPath, sch); err != nil {
		panic(err)
	}

	srv := server.New(server.Options{})
	defer srv.Close()
	if err := srv.AddDatabase(dbPath); err != nil {
		panic(err)
	}
	sock := filepath.Join(dir, "db.sock")
	if err := srv.AddRemote("punix:" + sock); err != nil {
		panic(err)
	}
	fmt.Println(srv.ListDatabases())

	client, err := jsonrpc.Dial("unix:" + sock)
	if err != nil {
		panic(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := client.Call(ctx, "transact", []any{"Inventory",
		map[string]any{"op": "insert", "table": "Item", "row": map[string]any{"name": "widget"}},
		map[string]any{"op": "select", "table": "Item", "where": []any{}, "columns": []any{"name"}},
	})
	if err != nil {
		panic(err)
	}
	// One result per operation: the new row's uuid, then the selected rows.
	var results []json.RawMessage
	if err := json.Unmarshal(reply, &results); err != nil {
		panic(err)
	}
	fmt.Println(len(results), string(results[1]))
	// Output:
	// [Inventory _Server]
	// 2 {"rows":[{"name":"widget"}]}
}

package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/ovsdb-go/ovsdb-server/cluster"
	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/server"
)

// The schema of the examples' database: one table of named items, the
// names unique.
const inventorySchema = `{"name":"Inventory","version":"1.0.0",
	"tables":{"Item":{"columns":{"name":{"type":"string"}},"indexes":[["name"]]}}}`

// Example creates a standalone database file, serves it on a unix socket
// and runs a transaction through a JSON-RPC client.
func Example() {
	dir, err := os.MkdirTemp("", "server-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	// A database file, as `ovsdb-tool create` would make it.
	sch, err := schema.ParseSchemaBytes([]byte(inventorySchema))
	if err != nil {
		panic(err)
	}
	dbPath := filepath.Join(dir, "inventory.db")
	if err := server.CreateStandalone(dbPath, sch); err != nil {
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

// ExampleServer_Transact runs transactions in-process, without a socket.
// A failed transaction commits nothing and returns the error it reported.
func ExampleServer_Transact() {
	dir, err := os.MkdirTemp("", "server-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	sch, err := schema.ParseSchemaBytes([]byte(inventorySchema))
	if err != nil {
		panic(err)
	}
	dbPath := filepath.Join(dir, "inventory.db")
	if err := server.CreateStandalone(dbPath, sch); err != nil {
		panic(err)
	}
	srv := server.New(server.Options{})
	defer srv.Close()
	if err := srv.AddDatabase(dbPath); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	insert := func(name string) map[string]any {
		return map[string]any{"op": "insert", "table": "Item", "row": map[string]any{"name": name}}
	}
	if _, err := srv.Transact(ctx, "Inventory", []any{insert("widget"), insert("gadget")}); err != nil {
		panic(err)
	}

	// "widget" exists: the index on "name" refuses a second one, and the
	// whole transaction ("sprocket" too) is rolled back.
	_, err = srv.Transact(ctx, "Inventory", []any{insert("sprocket"), insert("widget")})
	var oe *ovsdberr.Error
	if errors.As(err, &oe) {
		fmt.Println("refused:", oe.Tag)
	}

	res, err := srv.Transact(ctx, "Inventory", []any{
		map[string]any{"op": "select", "table": "Item", "where": []any{}, "columns": []any{"name"},
			"sort": []any{"name"}},
	})
	if err != nil {
		panic(err)
	}
	out, _ := json.Marshal(res[0])
	fmt.Println(string(out))
	// Output:
	// refused: constraint violation
	// {"rows":[{"name":"gadget"},{"name":"widget"}]}
}

// ExampleServer_Observe watches every change of a database in-process,
// without JSON-RPC: the first update is the contents when observation
// starts, then one update per committed transaction.
func ExampleServer_Observe() {
	dir, err := os.MkdirTemp("", "server-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	sch, err := schema.ParseSchemaBytes([]byte(inventorySchema))
	if err != nil {
		panic(err)
	}
	dbPath := filepath.Join(dir, "inventory.db")
	if err := server.CreateStandalone(dbPath, sch); err != nil {
		panic(err)
	}
	srv := server.New(server.Options{})
	defer srv.Close()
	if err := srv.AddDatabase(dbPath); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	updates := make(chan server.Update, 16)
	stop, err := srv.Observe("Inventory", func(u server.Update) { updates <- u })
	if err != nil {
		panic(err)
	}
	defer stop()
	next := func() server.Update {
		select {
		case u := <-updates:
			return u
		case <-ctx.Done():
			panic("no update")
		}
	}
	fmt.Println("items at start:", len(next()["Item"]))

	transact := func(op map[string]any) {
		if _, err := srv.Transact(ctx, "Inventory", []any{op}); err != nil {
			panic(err)
		}
	}
	named := func(name string) []any { return []any{[]any{"name", "==", name}} }
	transact(map[string]any{"op": "insert", "table": "Item", "row": map[string]any{"name": "widget"}})
	transact(map[string]any{"op": "update", "table": "Item", "where": named("widget"), "row": map[string]any{"name": "gadget"}})
	transact(map[string]any{"op": "delete", "table": "Item", "where": named("gadget")})
	for i := 0; i < 3; i++ {
		for _, ch := range next()["Item"] {
			switch {
			case ch.Old == nil:
				fmt.Println("inserted", ch.New["name"])
			case ch.New == nil:
				fmt.Println("deleted", ch.Old["name"])
			default:
				fmt.Println("renamed", ch.Old["name"], "to", ch.New["name"])
			}
		}
	}
	// Output:
	// items at start: 0
	// inserted widget
	// renamed widget to gadget
	// deleted gadget
}

// Example_cluster starts a three-member cluster in-process on 127.0.0.1,
// writes through one member and reads the write on another. Each member
// is a Server serving its member file of the clustered database.
func Example_cluster() {
	dir, err := os.MkdirTemp("", "server-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	sch, err := schema.ParseSchemaBytes([]byte(inventorySchema))
	if err != nil {
		panic(err)
	}

	// The members' cluster addresses: free ports, chosen now (all held
	// open until chosen, so they differ).
	addrs := make([]string, 3)
	var ls []net.Listener
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		ls = append(ls, l)
		addrs[i] = "tcp:" + l.Addr().String()
	}
	for _, l := range ls {
		l.Close()
	}
	// The member files, as `ovsdb-tool create-cluster` and
	// `ovsdb-tool join-cluster` would make them: the first member creates
	// the cluster, the others join it through the first.
	paths := make([]string, 3)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("inventory%d.db", i))
		if i == 0 {
			err = cluster.Create(paths[i], sch, addrs[i])
		} else {
			err = cluster.Join(paths[i], "Inventory", addrs[i], addrs[:1])
		}
		if err != nil {
			panic(err)
		}
	}
	// One Server per member: cluster.Opener opens clustered files. A
	// joining member learns the schema from the first member when opened.
	srvs := make([]*server.Server, 3)
	for i := range srvs {
		srvs[i] = server.New(server.Options{Open: cluster.Opener(nil)})
		defer srvs[i].Close()
		if err := srvs[i].AddDatabase(paths[i]); err != nil {
			panic(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The cluster has formed when every member has joined and knows a
	// leader: its row in _Server.Database says it is connected.
	connected := func(srv *server.Server) bool {
		res, err := srv.Transact(ctx, "_Server", []any{map[string]any{"op": "select", "table": "Database",
			"where": []any{[]any{"name", "==", "Inventory"}}, "columns": []any{"connected"}}})
		if err != nil {
			panic(err)
		}
		rows := res[0].(map[string]any)["rows"].([]any)
		return len(rows) == 1 && rows[0].(map[string]any)["connected"] == true
	}
	waitFor := func(what string, cond func() bool) {
		for !cond() {
			select {
			case <-ctx.Done():
				panic("timed out waiting for " + what)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	for i, srv := range srvs {
		waitFor(fmt.Sprintf("member %d to connect", i+1), func() bool { return connected(srv) })
	}
	for i, srv := range srvs {
		fmt.Printf("member %d: %s, connected\n", i+1, srv.Model("Inventory"))
	}

	// Write through the second member: the write is committed by the
	// cluster before Transact returns.
	if _, err := srvs[1].Transact(ctx, "Inventory", []any{
		map[string]any{"op": "insert", "table": "Item", "row": map[string]any{"name": "widget"}},
	}); err != nil {
		panic(err)
	}
	// The third member applies it soon after.
	items := func(srv *server.Server) []any {
		res, err := srv.Transact(ctx, "Inventory", []any{
			map[string]any{"op": "select", "table": "Item", "where": []any{}, "columns": []any{"name"}}})
		if err != nil {
			panic(err)
		}
		return res[0].(map[string]any)["rows"].([]any)
	}
	waitFor("the write on member 3", func() bool { return len(items(srvs[2])) > 0 })
	fmt.Println("member 3 reads:", items(srvs[2])[0].(map[string]any)["name"])
	// Output:
	// member 1: clustered, connected
	// member 2: clustered, connected
	// member 3: clustered, connected
	// member 3 reads: widget
}

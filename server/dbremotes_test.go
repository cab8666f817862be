package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// localConfigSchema is Open vSwitch's Local_Config schema
// (/usr/share/openvswitch/local-config.ovsschema), which Kube-OVN serves
// beside OVN's databases with --remote=db:Local_Config,Config,connections.
const localConfigSchema = `{
    "name": "Local_Config",
    "version": "1.0.0",
    "cksum": "2048726482 1858",
    "tables": {
        "Config": {
            "columns": {
                "connections": {
                    "type": {"key": {"type": "uuid",
                                     "refTable": "Connection"},
                                     "min": 0,
                                     "max": "unlimited"}}},
            "maxRows": 1,
            "isRoot": true},
        "Connection": {
            "columns": {
                "target": {"type": "string"},
                "max_backoff": {"type": {"key": {"type": "integer",
                                         "minInteger": 1000},
                                         "min": 0,
                                         "max": 1}},
                "inactivity_probe": {"type": {"key": "integer",
                                              "min": 0,
                                              "max": 1}},
                "read_only": {"type": "boolean"},
                "role": {"type": "string"},
                "other_config": {"type": {"key": "string",
                                          "value": "string",
                                          "min": 0,
                                          "max": "unlimited"}},
                "external_ids": {"type": {"key": "string",
                                 "value": "string",
                                 "min": 0,
                                 "max": "unlimited"}},
                "is_connected": {"type": "boolean", "ephemeral": true},
                "status": {"type": {"key": "string",
                                    "value": "string",
                                    "min": 0,
                                    "max": "unlimited"},
                                    "ephemeral": true}},
            "indexes": [["target"]]}
    }
}`

// strSchema has a column of target strings, and a reference to a table
// without status columns.
const strSchema = `{"name":"S","version":"1.0.0","tables":{
	"Top":{"isRoot":true,"columns":{"targets":{"type":{"key":"string","min":0,"max":"unlimited"}},
		"conns":{"type":{"key":{"type":"uuid","refTable":"Conn"},"min":0,"max":"unlimited"}},
		"n":{"type":"integer"}}},
	"Conn":{"columns":{"target":{"type":"string"},"inactivity_probe":{"type":{"key":"integer","min":0,"max":1}}}}}}`

// dbrServer is a server whose remotes are reconciled and whose status is
// written every 50 ms, with its log.
func dbrServer(t *testing.T) (*Server, *testutil.SyncBuffer) {
	t.Helper()
	var logs testutil.SyncBuffer
	s := New(Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	s.dbRemotes.interval = 50 * time.Millisecond
	t.Cleanup(func() { _ = s.Close() })
	return s, &logs
}

// addDB creates a standalone database from schema text and serves it.
func addDB(t *testing.T, s *Server, dir, text string) string {
	t.Helper()
	sch, err := schema.ParseSchemaBytes([]byte(text))
	require.NoError(t, err)
	p := filepath.Join(dir, sch.Name+".db")
	require.NoError(t, CreateStandalone(p, sch))
	require.NoError(t, s.AddDatabase(p))
	return p
}

// tx runs ops on db in-process and fails the test on an error; the
// results are returned as JSON decodes them.
func tx(t *testing.T, s *Server, db string, ops ...any) []any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.Transact(ctx, db, ops)
	require.NoError(t, err)
	b, err := json.Marshal(res)
	require.NoError(t, err)
	var out []any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

// addConnection inserts a Connection row with the given columns into the
// Local_Config database and links it from the Config row (made if
// absent), as `ovs-vsctl`-like tools do; it returns the row's uuid.
func addConnection(t *testing.T, s *Server, row map[string]any) string {
	t.Helper()
	res := tx(t, s, "Local_Config", map[string]any{"op": "select", "table": "Config", "where": []any{}})
	link := map[string]any{"op": "insert", "table": "Config", "row": map[string]any{"connections": []any{"named-uuid", "c"}}}
	if rows := res[0].(map[string]any)["rows"].([]any); len(rows) > 0 {
		link = map[string]any{"op": "mutate", "table": "Config", "where": []any{}, "mutations": []any{
			[]any{"connections", "insert", []any{"named-uuid", "c"}}}}
	}
	res = tx(t, s, "Local_Config",
		map[string]any{"op": "insert", "table": "Connection", "row": row, "uuid-name": "c"}, link)
	return res[0].(map[string]any)["uuid"].([]any)[1].(string)
}

// connRow returns the Connection row with that uuid as selected JSON.
func connRow(t *testing.T, s *Server, id string) map[string]any {
	t.Helper()
	res := tx(t, s, "Local_Config", map[string]any{"op": "select", "table": "Connection",
		"where": []any{[]any{"_uuid", "==", []any{"uuid", id}}}})
	rows := res[0].(map[string]any)["rows"].([]any)
	require.Len(t, rows, 1)
	return rows[0].(map[string]any)
}

// statusOf returns the status map of a Connection row.
func statusOf(t *testing.T, s *Server, id string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range connRow(t, s, id)["status"].([]any)[1].([]any) {
		kv := p.([]any)
		out[kv[0].(string)] = kv[1].(string)
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 10*time.Millisecond, what)
}

func sessionNamed(s *Server, name string) *jsonrpc.Session {
	for _, ss := range s.JSONRPC().Sessions() {
		if ss.Name() == name {
			return ss
		}
	}
	return nil
}

// TestDBRemoteValidationServed: AddRemote refuses "db:" remotes naming a missing
// database, table or column with C's texts (checked against C by
// cmd/ovsdb-server's TestAddRemoteDBDifferential) and does not record
// them; valid ones are recorded and served (a column of any type is
// accepted, as C).
func TestDBRemoteValidationServed(t *testing.T) {
	dir := t.TempDir()
	s := New(Options{Open: memOpener(nil)})
	defer s.Close()
	require.NoError(t, s.AddDatabase(writeSchema(t, dir, "A")))
	for remote, want := range map[string]string{
		"db:x,y,z":       `"db:x,y,z": no database named x`,
		"db:A,y,z":       `"db:A,y,z": no table named y`,
		"db:A,T,z":       `"db:A,T,z": table "T" has no column "z"`,
		"db:A,T":         `"db:A,T": invalid syntax`,
		"db:":            `"db:": invalid syntax`,
		"db:,,A,T,z":     `"db:,,A,T,z": table "T" has no column "z"`,
		"db::A,T,k":      `"db::A,T,k": no database named :A`,
		"db:_Server,X,y": `"db:_Server,X,y": no table named X`,
	} {
		err := s.AddRemote(remote)
		var inv *InvalidRemoteError
		require.ErrorAs(t, err, &inv, remote)
		require.EqualError(t, err, want)
	}
	for _, remote := range []string{"db:A,T,k", "db:A,T,_uuid", "db:A,T,_version", "db:A,T,k,extra", "db:_Server,Database,name", "db:,A,,T,k"} {
		require.NoError(t, s.AddRemote(remote), remote)
	}
	require.Equal(t, []string{"db:,A,,T,k", "db:A,T,_uuid", "db:A,T,_version", "db:A,T,k", "db:A,T,k,extra", "db:_Server,Database,name"}, s.ListRemotes())
}

// TestDBRemoteRows: a db: remote over Local_Config's Config.connections
// serves the target of each Connection row, follows the rows as they
// change (listener opened, probe changed on the open sessions, listener
// closed and its sessions dropped when the row goes, logged as C) and
// keeps each row's status as C writes it for a listener.
func TestDBRemoteRows(t *testing.T) {
	s, logs := dbrServer(t)
	dir := t.TempDir()
	dbPath := addDB(t, s, dir, localConfigSchema)
	require.NoError(t, s.AddRemote("db:Local_Config,Config,connections"))
	require.Empty(t, s.RemoteTargets())

	target := "ptcp:0:127.0.0.1"
	id := addConnection(t, s, map[string]any{"target": target})
	var addr net.Addr
	waitFor(t, "listener opened", func() bool { addr = s.RemoteAddr(target); return addr != nil })
	require.Equal(t, []string{target}, s.RemoteTargets())
	require.Equal(t, []string{"db:Local_Config,Config,connections"}, s.ListRemotes())
	port := strconv.Itoa(addr.(*net.TCPAddr).Port)
	require.Contains(t, logs.String(), "0:127.0.0.1: listening on port "+port)

	// The status C writes for a listener without connections.
	waitFor(t, "status written", func() bool {
		st := statusOf(t, s, id)
		return st["bound_port"] == port
	})
	require.Equal(t, map[string]string{"bound_port": port, "sec_since_connect": "0", "sec_since_disconnect": "0"}, statusOf(t, s, id))
	require.Equal(t, false, connRow(t, s, id)["is_connected"])

	// Two clients: is_connected, n_connections; C's default probe.
	var clients []*jsonrpc.Client
	for range 2 {
		c, err := jsonrpc.Dial("tcp:" + addr.String())
		require.NoError(t, err)
		defer c.Close()
		require.Equal(t, []any{"Local_Config", "_Server"}, call(t, c, "list_dbs", []any{}))
		clients = append(clients, c)
	}
	waitFor(t, "two connections", func() bool { return statusOf(t, s, id)["n_connections"] == "2" })
	require.Equal(t, true, connRow(t, s, id)["is_connected"])
	var sess []*jsonrpc.Session
	for _, ss := range s.JSONRPC().Sessions() {
		if strings.HasPrefix(ss.Name(), "tcp:") {
			sess = append(sess, ss)
		}
	}
	require.Len(t, sess, 2)
	for _, ss := range sess {
		require.Equal(t, jsonrpc.DefaultProbeInterval, ss.ProbeInterval())
		require.False(t, ss.ReadOnly())
	}

	// inactivity_probe changes the open sessions' probe (0: none; below
	// 1 s: 1 s, as C).
	for probe, want := range map[int64]time.Duration{0: 0, 300: time.Second, 7000: 7 * time.Second} {
		tx(t, s, "Local_Config", map[string]any{"op": "update", "table": "Connection",
			"where": []any{[]any{"_uuid", "==", []any{"uuid", id}}}, "row": map[string]any{"inactivity_probe": probe}})
		waitFor(t, "probe changed", func() bool {
			return sess[0].ProbeInterval() == want && sess[1].ProbeInterval() == want
		})
	}
	require.NoError(t, clients[1].Close())
	waitFor(t, "one connection", func() bool { _, ok := statusOf(t, s, id)["n_connections"]; return !ok })

	// The row goes: the listener closes, its session ends.
	tx(t, s, "Local_Config", map[string]any{"op": "mutate", "table": "Config", "where": []any{},
		"mutations": []any{[]any{"connections", "delete", []any{"uuid", id}}}})
	waitFor(t, "listener closed", func() bool { return s.RemoteAddr(target) == nil })
	select {
	case <-clients[0].Done():
	case <-time.After(10 * time.Second):
		t.Fatal("session of a deconfigured remote not closed")
	}
	require.Contains(t, logs.String(), `msg="ptcp:0:127.0.0.1: remote deconfigured" module=ovsdb_jsonrpc_server`)
	_, err := net.Dial("tcp", addr.String())
	require.Error(t, err)

	// Only ephemeral columns were written: the file has the rows and
	// mutations above, and no status.
	data, err := os.ReadFile(dbPath)
	require.NoError(t, err)
	require.NotContains(t, string(data), "bound_port")
}

// TestDBRemoteReadOnlyAndRole: a read_only row's sessions refuse writes
// and locks with C's errors; the role is kept on the session; as C, a
// change of read_only applies when the remote is made again.
func TestDBRemoteReadOnlyAndRole(t *testing.T) {
	s, _ := dbrServer(t)
	dir := t.TempDir()
	addDB(t, s, dir, localConfigSchema)
	require.NoError(t, s.AddRemote("db:Local_Config,Config,connections"))
	sock := filepath.Join(dir, "ro.sock")
	id := addConnection(t, s, map[string]any{"target": "punix:" + sock, "read_only": true, "role": "ovn-controller"})
	waitFor(t, "listener opened", func() bool { return s.RemoteAddr("punix:"+sock) != nil })

	c, err := jsonrpc.Dial("unix:" + sock)
	require.NoError(t, err)
	defer c.Close()
	res := call(t, c, "transact", []any{"Local_Config", map[string]any{"op": "insert", "table": "Connection", "row": map[string]any{"target": "x"}}})
	require.Equal(t, []any{map[string]any{"error": "not allowed", "details": "insert operation not allowed when database server is in read only mode"}}, res)
	// Reads work.
	res = call(t, c, "transact", []any{"Local_Config", map[string]any{"op": "select", "table": "Config", "where": []any{}, "columns": []any{}}})
	require.Len(t, res.([]any)[0].(map[string]any)["rows"], 1)
	for _, m := range []string{"lock", "steal", "unlock"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Call(ctx, m, []any{"l"})
		cancel()
		var ce *jsonrpc.CallError
		require.ErrorAs(t, err, &ce, m)
		require.JSONEq(t, `"lock and unlock methods not allowed, DB server is read only."`, string(ce.Raw), m)
	}
	var ss *jsonrpc.Session
	for _, x := range s.JSONRPC().Sessions() {
		if strings.HasPrefix(x.Name(), "unix#") && x.ReadOnly() {
			ss = x
		}
	}
	require.NotNil(t, ss)
	require.Equal(t, "ovn-controller", ss.Role())

	// read_only=false on the existing remote: as C, its sessions (and
	// new ones) stay read-only until the remote is made again.
	tx(t, s, "Local_Config", map[string]any{"op": "update", "table": "Connection",
		"where": []any{[]any{"_uuid", "==", []any{"uuid", id}}}, "row": map[string]any{"read_only": false}})
	s.kickRemotes()
	c2, err := jsonrpc.Dial("unix:" + sock)
	require.NoError(t, err)
	defer c2.Close()
	res = call(t, c2, "transact", []any{"Local_Config", map[string]any{"op": "delete", "table": "Connection", "where": []any{[]any{"target", "==", "none"}}}})
	require.Equal(t, "not allowed", res.([]any)[0].(map[string]any)["error"])
}

// TestDBRemoteStringsAndRefs: a column of strings is a list of targets;
// referred rows of a table without status columns are served and left
// unwritten; a literal remote and a row naming the same target share one
// listener, which stays while either wants it.
func TestDBRemoteStringsAndRefs(t *testing.T) {
	s, _ := dbrServer(t)
	dir := t.TempDir()
	addDB(t, s, dir, strSchema)
	a, b := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	require.NoError(t, s.AddRemote("db:S,Top,targets"))
	require.NoError(t, s.AddRemote("db:S,Top,conns"))
	require.NoError(t, s.AddRemote("punix:"+a))
	tx(t, s, "S",
		map[string]any{"op": "insert", "table": "Conn", "row": map[string]any{"target": "punix:" + b, "inactivity_probe": 2000}, "uuid-name": "c"},
		map[string]any{"op": "insert", "table": "Top", "row": map[string]any{
			"targets": []any{"set", []any{"punix:" + a, "ptcp:0:127.0.0.1"}},
			"conns":   []any{"named-uuid", "c"}}})
	waitFor(t, "three targets", func() bool { return len(s.RemoteTargets()) == 3 })
	require.Equal(t, []string{"ptcp:0:127.0.0.1", "punix:" + a, "punix:" + b}, s.RemoteTargets())

	// The unix socket of a row gets the row's probe.
	c, err := jsonrpc.Dial("unix:" + b)
	require.NoError(t, err)
	defer c.Close()
	call(t, c, "list_dbs", []any{})
	var got time.Duration
	for _, ss := range s.JSONRPC().Sessions() {
		got = max(got, ss.ProbeInterval())
	}
	require.Equal(t, 2*time.Second, got)

	// The strings go: the shared target stays (configured by name).
	tx(t, s, "S", map[string]any{"op": "update", "table": "Top", "where": []any{},
		"row": map[string]any{"targets": []any{"set", []any{}}}})
	waitFor(t, "ptcp gone", func() bool { return len(s.RemoteTargets()) == 2 })
	require.Equal(t, []string{"punix:" + a, "punix:" + b}, s.RemoteTargets())
	require.NoError(t, s.RemoveRemote("punix:"+a))
	require.Equal(t, []string{"punix:" + b}, s.RemoteTargets())
	require.Equal(t, []string{"db:S,Top,conns", "db:S,Top,targets"}, s.ListRemotes())
	require.NoError(t, s.RemoveRemote("db:S,Top,conns"))
	require.Empty(t, s.RemoteTargets())
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("session not closed")
	}
}

// TestDBRemoteDatabaseGone: the remotes of a database that is removed
// stop (C's error reported once); they come back when it is added again;
// after a conversion the new engine is followed.
func TestDBRemoteDatabaseGone(t *testing.T) {
	s, logs := dbrServer(t)
	dir := t.TempDir()
	p := addDB(t, s, dir, localConfigSchema)
	require.NoError(t, s.AddRemote("db:Local_Config,Config,connections"))
	sock := filepath.Join(dir, "lc.sock")
	addConnection(t, s, map[string]any{"target": "punix:" + sock})
	waitFor(t, "listener", func() bool { return s.RemoteAddr("punix:"+sock) != nil })

	require.NoError(t, s.RemoveDatabase("Local_Config"))
	waitFor(t, "listener closed", func() bool { return s.RemoteAddr("punix:"+sock) == nil })
	want := `level=WARN msg="\"db:Local_Config,Config,connections\": no database named Local_Config\n"`
	waitFor(t, "error logged", func() bool { return strings.Contains(logs.String(), want) })
	time.Sleep(200 * time.Millisecond) // several reconciliations: logged once
	require.Equal(t, 1, strings.Count(logs.String(), want))
	require.Equal(t, []string{"db:Local_Config,Config,connections"}, s.ListRemotes())

	require.NoError(t, s.AddDatabase(p))
	waitFor(t, "listener back", func() bool { return s.RemoteAddr("punix:"+sock) != nil })

	// Converted (to the same schema): later changes still count.
	sch, err := schema.ParseSchemaBytes([]byte(localConfigSchema))
	require.NoError(t, err)
	require.NoError(t, s.ConvertDatabase("Local_Config", sch, nil))
	sock2 := filepath.Join(dir, "lc2.sock")
	addConnection(t, s, map[string]any{"target": "punix:" + sock2})
	waitFor(t, "listener after conversion", func() bool { return s.RemoteAddr("punix:"+sock2) != nil })
}

// TestActiveDBRemoteStatus: an active target read from a row connects
// out to a listening client; the row's status is C's for an active
// remote (state, sec_since_connect, locks of the session), and
// max_backoff reaches the remote.
func TestActiveDBRemoteStatus(t *testing.T) {
	s, logs := dbrServer(t)
	dir := t.TempDir()
	addDB(t, s, dir, localConfigSchema)
	require.NoError(t, s.AddRemote("db:Local_Config,Config,connections"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	target := "tcp:" + ln.Addr().String()
	id := addConnection(t, s, map[string]any{"target": target, "max_backoff": 2000})

	conn := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			conn <- c
		}
	}()
	var c *jsonrpc.Client
	select {
	case nc := <-conn:
		c = jsonrpc.NewClient(nc)
		defer c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not connect")
	}
	// The connection is a normal session: requests are served.
	require.Equal(t, []any{"Local_Config", "_Server"}, call(t, c, "list_dbs", []any{}))
	require.Equal(t, map[string]any{"locked": true}, call(t, c, "lock", []any{"mylock"}))
	waitFor(t, "status of an active remote", func() bool {
		st := statusOf(t, s, id)
		return st["state"] == "ACTIVE" && st["locks_held"] == "mylock"
	})
	st := statusOf(t, s, id)
	require.Contains(t, []string{"0", "1", "2"}, st["sec_since_connect"])
	delete(st, "sec_since_connect")
	require.Equal(t, map[string]string{"state": "ACTIVE", "locks_held": "mylock"}, st)
	require.Equal(t, true, connRow(t, s, id)["is_connected"])
	require.NotNil(t, sessionNamed(s, target))
	require.Contains(t, logs.String(), target+": connected")

	// The client goes: the remote backs off and reports the
	// disconnection.
	require.NoError(t, c.Close())
	waitFor(t, "disconnection reported", func() bool {
		_, ok := statusOf(t, s, id)["sec_since_disconnect"]
		return ok && connRow(t, s, id)["is_connected"] == false
	})
	require.Contains(t, logs.String(), target+": connection closed by peer")
}

// TestRemoteListenRetried: a literal listener whose address is taken is
// reported (C's text) and opened once the address is free.
func TestRemoteListenRetried(t *testing.T) {
	s, logs := dbrServer(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	remote := "ptcp:" + port + ":127.0.0.1"
	err = s.AddRemote(remote)
	require.EqualError(t, err, remote+": listen failed: Address already in use")
	var le *jsonrpc.ListenError
	require.True(t, errors.As(err, &le))
	require.Contains(t, logs.String(), `level=ERROR msg="`+remote+`: listen failed: Address already in use" module=ovsdb_jsonrpc_server`)
	require.Equal(t, []string{remote}, s.ListRemotes())
	require.NoError(t, busy.Close())
	waitFor(t, "listener opened", func() bool { return s.RemoteAddr(remote) != nil })
}

// TestReconnectLogsAsC: ovsdb-server/reconnect logs C's line per session.
func TestReconnectLogsAsC(t *testing.T) {
	s, logs := dbrServer(t)
	sock := filepath.Join(t.TempDir(), "s")
	require.NoError(t, s.AddRemote("punix:"+sock))
	c, err := jsonrpc.Dial("unix:" + sock)
	require.NoError(t, err)
	defer c.Close()
	call(t, c, "list_dbs", []any{})
	s.Reconnect()
	<-c.Done()
	require.Contains(t, logs.String(), `msg="unix#0: disconnecting (user ran ovsdb-server/reconnect)" module=ovsdb_jsonrpc_server`)
}

// TestDBRemoteStatusNotOnClustered is covered by the status writer's
// model check; here: a status the table cannot hold is not written
// (no is_connected/status columns: no transaction at all).
func TestDBRemoteNoStatusColumns(t *testing.T) {
	s, _ := dbrServer(t)
	dir := t.TempDir()
	addDB(t, s, dir, strSchema)
	require.NoError(t, s.AddRemote("db:S,Top,conns"))
	tx(t, s, "S",
		map[string]any{"op": "insert", "table": "Conn", "row": map[string]any{"target": "punix:" + filepath.Join(dir, "x")}, "uuid-name": "c"},
		map[string]any{"op": "insert", "table": "Top", "row": map[string]any{"conns": []any{"named-uuid", "c"}}})
	waitFor(t, "served", func() bool { return len(s.RemoteTargets()) == 1 })
	var commits atomic.Int32
	stop, err := s.Observe("S", func(u Update) {
		if len(u) > 0 {
			commits.Add(1)
		}
	})
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond)
	stop()
	require.Equal(t, int32(1), commits.Load(), "only the initial contents")
}

// TestRemotesStopAfterCloseWithoutRemotes: with every remote removed
// before Close, the worker still ends.
func TestRemotesStopAfterCloseWithoutRemotes(t *testing.T) {
	s, _ := dbrServer(t)
	sock := filepath.Join(t.TempDir(), "s")
	require.NoError(t, s.AddRemote("punix:"+sock))
	require.NoError(t, s.RemoveRemote("punix:"+sock))
	require.NoError(t, s.Close())
	st := &s.dbRemotes
	select {
	case <-st.doneCh:
	case <-time.After(10 * time.Second):
		t.Fatal("worker still running after Close")
	}
	waitFor(t, "shut down", func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.stopped
	})
}

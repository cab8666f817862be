package server

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// msgConn reads a raw connection's messages in the background.
type msgConn struct {
	*rawConn
	msgs chan string // "EOF" last
}

// monitorServerDB starts a monitor_cond on _Server.Database (name column)
// on a fresh connection, db-change-aware or not.
func monitorServerDB(t *testing.T, sock string, aware bool) *msgConn {
	t.Helper()
	c := dialRaw(t, sock)
	if aware {
		c.send(t, 1, "set_db_change_aware", true)
		c.until(t, 1)
	}
	c.send(t, 2, "monitor_cond", "_Server", "m", map[string]any{"Database": []any{map[string]any{"columns": []any{"name"}}}})
	c.until(t, 2)
	require.NoError(t, c.c.SetReadDeadline(time.Time{}))
	mc := &msgConn{rawConn: c, msgs: make(chan string, 100)}
	go func() {
		for {
			var m map[string]any
			if err := c.dec.Decode(&m); err != nil {
				mc.msgs <- "EOF"
				return
			}
			b, _ := json.Marshal(m)
			mc.msgs <- string(b)
		}
	}()
	return mc
}

// readFor returns the messages received within d, stopping at EOF.
func (mc *msgConn) readFor(d time.Duration) []string {
	var out []string
	timer := time.After(d)
	for {
		select {
		case m := <-mc.msgs:
			out = append(out, m)
			if m == "EOF" {
				return out
			}
		case <-timer:
			return out
		}
	}
}

// readRest returns the messages up to EOF (bounded wait).
func (mc *msgConn) readRest(t *testing.T) []string {
	out := mc.readFor(5 * time.Second)
	require.Contains(t, out, "EOF")
	return out
}

// names returns the "name" values inserted by update2 notifications.
func insertedNames(t *testing.T, msgs []string) []string {
	var out []string
	for _, m := range msgs {
		if m == "EOF" {
			out = append(out, "EOF")
			continue
		}
		var v struct {
			Method string
			Params []json.RawMessage
		}
		require.NoError(t, json.Unmarshal([]byte(m), &v))
		if v.Method != "update2" {
			out = append(out, v.Method)
			continue
		}
		var upd map[string]map[string]map[string]map[string]any
		require.NoError(t, json.Unmarshal(v.Params[1], &upd))
		for _, row := range upd["Database"] {
			if ins, ok := row["insert"]; ok {
				out = append(out, "insert "+ins["name"].(string))
			} else {
				out = append(out, "delete")
			}
		}
	}
	return out
}

// TestAddDatabaseDisconnectsUnaware: as C's ovsdb_jsonrpc_server_add_db,
// adding a database disconnects the sessions that did not ask for
// set_db_change_aware (they never see the new _Server.Database row);
// aware sessions stay and receive the row as an update.
func TestAddDatabaseDisconnectsUnaware(t *testing.T) {
	dir := t.TempDir()
	s := New(Options{Open: memOpener(nil)})
	defer s.Close()
	require.NoError(t, s.AddDatabase(writeSchema(t, dir, "A")))
	sock := filepath.Join(dir, "s")
	require.NoError(t, s.AddRemote("punix:"+sock))
	unaware := monitorServerDB(t, sock, false)
	aware := monitorServerDB(t, sock, true)

	require.NoError(t, s.AddDatabase(writeSchema(t, dir, "B")))
	require.Equal(t, []string{"EOF"}, insertedNames(t, unaware.readRest(t)))
	require.Equal(t, []string{"insert B"}, insertedNames(t, aware.readFor(300*time.Millisecond)))

	// A failed add (duplicate name) also disconnects unaware sessions, as
	// C, which tells the JSON-RPC layer about the database before
	// checking its name; aware sessions see nothing.
	unaware = monitorServerDB(t, sock, false)
	require.Error(t, s.AddDatabase(writeSchema(t, t.TempDir(), "B")))
	require.Equal(t, []string{"EOF"}, insertedNames(t, unaware.readRest(t)))
	require.Empty(t, aware.readFor(200*time.Millisecond))
	require.Equal(t, []string{"A", "B", "_Server"}, s.ListDatabases())

	// remove-db: unaware sessions are disconnected, aware ones see the
	// row go.
	unaware = monitorServerDB(t, sock, false)
	require.NoError(t, s.RemoveDatabase("B"))
	require.Equal(t, []string{"EOF"}, insertedNames(t, unaware.readRest(t)))
	require.Equal(t, []string{"delete"}, insertedNames(t, aware.readFor(300*time.Millisecond)))
}

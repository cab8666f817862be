package server

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const zeroTxnID = "00000000-0000-0000-0000-000000000000"

// historyScript: a client monitors T with monitor_cond_since from
// scratch, inserts a row and gets its update3; a second client resumes
// from the id of that update3, a third from an unknown id. It returns
// the update3 txn id and the three monitor_cond_since replies as
// [found, last-txn-id, number of T rows in the update].
func historyScript(t *testing.T, sock, db string) (string, [][]any) {
	t.Helper()
	since := func(c *rawConn, id int, last string) []any {
		c.send(t, id, "monitor_cond_since", db, "m", map[string]any{"T": []any{map[string]any{"columns": []any{"k"}}}}, last)
		msgs := c.until(t, id)
		var reply struct{ Result []any }
		require.NoError(t, json.Unmarshal([]byte(msgs[len(msgs)-1]), &reply))
		require.Len(t, reply.Result, 3)
		upd, _ := reply.Result[2].(map[string]any)
		rows, _ := upd["T"].(map[string]any)
		return []any{reply.Result[0], reply.Result[1], len(rows)}
	}
	var replies [][]any
	c1 := dialRaw(t, sock)
	replies = append(replies, since(c1, 1, zeroTxnID))
	c1.send(t, 2, "transact", db, map[string]any{"op": "insert", "table": "T", "row": map[string]any{"k": "v"}})
	msgs := c1.until(t, 2)
	require.Len(t, msgs, 2, "the update3 precedes the transact reply")
	var note struct {
		Method string
		Params []any
	}
	require.NoError(t, json.Unmarshal([]byte(msgs[0]), &note))
	require.Equal(t, "update3", note.Method)
	last := note.Params[1].(string)
	replies = append(replies, since(dialRaw(t, sock), 1, last))
	replies = append(replies, since(dialRaw(t, sock), 1, "11111111-2222-3333-4444-555555555555"))
	return last, replies
}

// TestStandaloneHistoryDefault: by default a standalone database keeps a
// transaction history: update3 carries a real id and a client resuming
// from it gets found=true and no rows.
func TestStandaloneHistoryDefault(t *testing.T) {
	dir := t.TempDir()
	s := New(Options{Open: memOpener(nil)})
	defer s.Close()
	require.NoError(t, s.AddDatabase(writeSchema(t, dir, "A")))
	sock := filepath.Join(dir, "s")
	require.NoError(t, s.AddRemote("punix:"+sock))
	last, replies := historyScript(t, sock, "A")
	require.NotEqual(t, zeroTxnID, last)
	require.Equal(t, []any{false, replies[0][1], 0}, replies[0])
	require.Equal(t, []any{true, last, 0}, replies[1])
	require.Equal(t, []any{false, last, 1}, replies[2])
}

// TestDisableStandaloneHistory: with Options.DisableStandaloneHistory a
// standalone database (and _Server) behaves as in C: update3 and
// monitor_cond_since carry the all-zeros id, and resuming never finds it,
// so the client gets the full contents again.
func TestDisableStandaloneHistory(t *testing.T) {
	dir := t.TempDir()
	s := New(Options{Open: memOpener(nil), DisableStandaloneHistory: true})
	defer s.Close()
	require.NoError(t, s.AddDatabase(writeSchema(t, dir, "A")))
	sock := filepath.Join(dir, "s")
	require.NoError(t, s.AddRemote("punix:"+sock))
	last, replies := historyScript(t, sock, "A")
	require.Equal(t, zeroTxnID, last)
	require.Equal(t, [][]any{{false, zeroTxnID, 0}, {false, zeroTxnID, 1}, {false, zeroTxnID, 1}}, replies)

	// _Server has no history either (C: "We don't need txn_history for
	// server_db"), even after a change to it.
	c := dialRaw(t, sock)
	c.send(t, 1, "set_db_change_aware", true)
	c.until(t, 1)
	c.send(t, 2, "monitor_cond_since", "_Server", "s", map[string]any{"Database": []any{map[string]any{"columns": []any{"name"}}}}, zeroTxnID)
	msgs := c.until(t, 2)
	var reply struct{ Result []any }
	require.NoError(t, json.Unmarshal([]byte(msgs[len(msgs)-1]), &reply))
	require.Equal(t, []any{false, zeroTxnID}, reply.Result[:2])
	require.NoError(t, s.AddDatabase(writeSchema(t, dir, "B")))
	c.send(t, 3, "echo")
	msgs = c.until(t, 3)
	require.Len(t, msgs, 2)
	var note struct {
		Method string
		Params []any
	}
	require.NoError(t, json.Unmarshal([]byte(msgs[0]), &note))
	require.Equal(t, "update3", note.Method)
	require.Equal(t, zeroTxnID, note.Params[1])
}

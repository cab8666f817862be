package server

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// readRest reads messages until EOF or the bounded deadline.
func (r *rawConn) readRest(t *testing.T) []string {
	t.Helper()
	require.NoError(t, r.c.SetReadDeadline(time.Now().Add(5*time.Second)))
	var out []string
	for {
		var m map[string]any
		if err := r.dec.Decode(&m); err != nil {
			return append(out, "EOF")
		}
		delete(m, "error")
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
}

// convertScript: an aware and an unaware session monitor T; a third
// converts. Returns what each sees and the _Server/T contents afterwards.
func convertScript(t *testing.T, sock, newSchema string) []string {
	aware, unaware, conv := dialRaw(t, sock), dialRaw(t, sock), dialRaw(t, sock)
	aware.send(t, 1, "set_db_change_aware", true)
	aware.until(t, 1)
	aware.send(t, 2, "monitor", "T", "ma", map[string]any{"T": map[string]any{"columns": []any{"k"}}})
	aware.until(t, 2)
	unaware.send(t, 2, "monitor", "T", "mb", map[string]any{"T": map[string]any{"columns": []any{"k"}}})
	unaware.until(t, 2)
	var ns any
	data, err := os.ReadFile(newSchema)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &ns))
	conv.send(t, 3, "convert", "T", ns)
	out := []string{"conv: " + strings.Join(conv.readRest(t), " ")}
	out = append(out, "unaware: "+strings.Join(unaware.readRest(t), " "))
	aware.send(t, 4, "transact", "T", map[string]any{"op": "select", "table": "T", "where": []any{}, "columns": []any{"k", "n"}})
	out = append(out, "aware: "+strings.Join(aware.until(t, 4), " "))
	return out
}

func serverRows(t *testing.T, sock string) []string {
	c := dialRaw(t, sock)
	c.send(t, 1, "transact", "_Server", map[string]any{"op": "select", "table": "Database", "where": []any{},
		"columns": []any{"name", "model", "connected", "leader", "cid", "sid", "index", "schema"}})
	var m map[string]any
	require.NoError(t, c.c.SetReadDeadline(time.Now().Add(5*time.Second)))
	require.NoError(t, c.dec.Decode(&m))
	var rows []string
	for _, r := range m["result"].([]any)[0].(map[string]any)["rows"].([]any) {
		b, _ := json.Marshal(r)
		rows = append(rows, string(b))
	}
	sort.Strings(rows)
	return rows
}

func TestConvertAndServerDBDifferential(t *testing.T) {
	testutil.RequireTool(t, "ovsdb-client")
	dir := t.TempDir()
	oldSchema := filepath.Join(dir, "old.ovsschema")
	require.NoError(t, os.WriteFile(oldSchema, []byte(`{"name":"T","version":"1.0.0","tables":{"T":{"columns":{"k":{"type":"string"},"gone":{"type":"integer"}}}}}`), 0o644))
	newSchema := filepath.Join(dir, "new.ovsschema")
	require.NoError(t, os.WriteFile(newSchema, []byte(`{"name":"T","version":"1.1.0","tables":{"T":{"columns":{"k":{"type":"string"},"n":{"type":{"key":"integer","min":0,"max":1}}}}}}`), 0o644))
	badSchema := filepath.Join(dir, "bad.ovsschema")
	require.NoError(t, os.WriteFile(badSchema, []byte(`{"name":"T","version":"1.2.0","tables":{"T":{"columns":{"k":{"type":"integer"}}}}}`), 0o644))

	cSock := startC(t, oldSchema)
	_, oSock := startOurs(t, oldSchema)
	client := func(args ...string) string {
		out, err := exec.Command("ovsdb-client", args...).CombinedOutput()
		s := string(out)
		if err != nil {
			s += " (failed)"
		}
		return s
	}
	run := func(sock string) []string {
		var out []string
		require.NotContains(t, client("transact", "unix:"+sock, `["T",{"op":"insert","table":"T","row":{"k":"v","gone":3}}]`), "error")
		out = append(out, serverRows(t, sock)...)
		out = append(out, client("needs-conversion", "unix:"+sock, newSchema))
		out = append(out, convertScript(t, sock, newSchema)...)
		out = append(out, client("needs-conversion", "unix:"+sock, newSchema))
		out = append(out, client("convert", "unix:"+sock, badSchema))
		// As C 3.1 for standalone databases, _Server still shows the old schema.
		out = append(out, serverRows(t, sock)...)
		return out
	}
	want := run(cSock)
	got := run(oSock)
	require.Equal(t, want, got)
	joined := strings.Join(want, "\n")
	require.Contains(t, joined, "monitor_canceled")
	require.Contains(t, joined, "expected integer")
}

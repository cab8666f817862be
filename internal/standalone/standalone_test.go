package standalone

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage"
	"github.com/stretchr/testify/require"
)

const testSchemaJSON = `{"name":"T","version":"1.0.0","tables":{
 "A":{"columns":{"i":{"type":"integer"},
   "s":{"type":{"key":"string","min":0,"max":"unlimited"}},
   "m":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},
   "e":{"type":"integer","ephemeral":true},
   "o":{"type":{"key":"string","min":0,"max":1}},
   "r":{"type":{"key":{"type":"uuid","refTable":"B"},"min":0,"max":"unlimited"}}},"isRoot":true},
 "B":{"columns":{"name":{"type":"string"},"f":{"type":"real"}}}}}`

const allCols = `["_uuid","i","s","m","o","r"]`

func testSchema(t *testing.T) *schema.DatabaseSchema {
	t.Helper()
	s, err := schema.ParseSchemaBytes([]byte(testSchemaJSON))
	require.NoError(t, err)
	return s
}

func decode(t *testing.T, s string) any {
	t.Helper()
	v, err := schema.DecodeJSON([]byte(s))
	require.NoError(t, err, s)
	return v
}

// transact runs ops through our engine and fails on any error.
func transact(t *testing.T, d *DB, ops string) []any {
	t.Helper()
	params := decode(t, ops).([]any)
	if len(params) > 0 && params[0] == "T" {
		params = params[1:]
	}
	res := d.Database().Transact(context.Background(), params, ovsdb.TransactOptions{})
	for _, r := range res {
		if m, ok := r.(map[string]any); ok {
			require.NotContains(t, m, "error", cjson.String(res))
		}
	}
	return res
}

// contents is a canonical text of every table's rows (without _version).
func ourContents(t *testing.T, d *DB) string {
	t.Helper()
	res := transact(t, d, `["T",{"op":"select","table":"A","where":[],"columns":`+allCols+`},
		{"op":"select","table":"B","where":[],"columns":["_uuid","name","f"]}]`)
	return canon(t, res)
}

func canon(t *testing.T, res []any) string {
	t.Helper()
	var out []string
	for i, r := range res[:2] {
		rows := r.(map[string]any)["rows"].([]any)
		var lines []string
		for _, row := range rows {
			lines = append(lines, cjson.String(row))
		}
		sort.Strings(lines)
		out = append(out, string(rune('A'+i))+":"+strings.Join(lines, "\n"))
	}
	return strings.Join(out, "\n")
}

func cContents(t *testing.T, path string) string {
	t.Helper()
	tool := testutil.RequireTool(t, "ovsdb-tool")
	out, err := exec.Command(tool, "query", path, `["T",{"op":"select","table":"A","where":[],"columns":`+allCols+`},
		{"op":"select","table":"B","where":[],"columns":["_uuid","name","f"]}]`).CombinedOutput()
	require.NoError(t, err, string(out))
	var res []any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&res))
	return canon(t, res)
}

func cTool(t *testing.T, args ...string) string {
	t.Helper()
	tool := testutil.RequireTool(t, "ovsdb-tool")
	out, err := exec.Command(tool, args...).CombinedOutput()
	require.NoError(t, err, "ovsdb-tool %v: %s", args, out)
	return string(out)
}

func countRecords(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	n := 0
	require.NoError(t, storage.ReadAll(f, path, storage.MagicStandalone, func(map[string]any) { n++ }))
	return n
}

var cTxns = []string{
	`["T",{"op":"insert","table":"B","row":{"name":"b1","f":1.5},"uuid-name":"b1"},
	      {"op":"insert","table":"A","row":{"i":0,"s":["set",["a","b"]],"m":["map",[["k","v"],["z","1"]]],"e":5,"r":["set",[["named-uuid","b1"]]]}},
	      {"op":"insert","table":"A","row":{"i":7,"o":"x"}},
	      {"op":"comment","comment":"hi\nthere"}]`,
	`["T",{"op":"update","table":"A","where":[["i","==",0]],"row":{"s":["set",["b","c"]],"m":["map",[["k","w"],["x","y"]]],"o":"z"}}]`,
	`["T",{"op":"update","table":"A","where":[["i","==",7]],"row":{"o":["set",[]],"i":8}}]`,
	`["T",{"op":"update","table":"A","where":[],"row":{"e":9}}]`,
	`["T",{"op":"insert","table":"B","row":{"name":"gone"}},{"op":"mutate","table":"A","where":[["i","==",8]],"mutations":[["s","insert",["set",["q"]]]]}]`,
	`["T",{"op":"delete","table":"B","where":[["name","==","gone"]]}]`,
}

// TestOpenCFile: a file made and modified by the C tools opens in ours
// with identical contents.
func TestOpenCFile(t *testing.T) {
	dir := t.TempDir()
	sf := filepath.Join(dir, "s.ovsschema")
	require.NoError(t, os.WriteFile(sf, []byte(testSchemaJSON), 0o644))
	path := filepath.Join(dir, "db")
	cTool(t, "create", path, sf)
	for _, txn := range cTxns {
		cTool(t, "transact", path, txn)
	}
	want := cContents(t, path)
	require.Contains(t, want, `"b","c"`)

	d, err := Open(path)
	require.NoError(t, err)
	require.Equal(t, want, ourContents(t, d))
	// The file is locked while we hold it.
	_, err = Open(path)
	require.True(t, storage.IsLockError(err), "%v", err)
	require.NoError(t, d.Close())

	// Also without "_is_diff" (files written by older C versions): compact
	// with C, which writes full rows, then replay.
	cTool(t, "compact", path)
	d, err = Open(path)
	require.NoError(t, err)
	require.Equal(t, want, ourContents(t, d))
	require.NoError(t, d.Close())
}

// TestCReadsOurFile: files we write are accepted by C show-log, query and
// compact, with identical contents.
func TestCReadsOurFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	require.NoError(t, Create(path, testSchema(t)))
	d, err := Open(path)
	require.NoError(t, err)
	for _, txn := range cTxns {
		transact(t, d, txn)
	}
	want := ourContents(t, d)
	require.NoError(t, d.Close())

	require.Equal(t, want, cContents(t, path))
	log := cTool(t, "-mm", "show-log", path)
	require.Contains(t, log, "\"hi\nthere\"")
	// The ephemeral-only update was not logged, and the unreferenced
	// non-root row "gone" was garbage collected: schema + 4 records.
	require.Equal(t, 5, countRecords(t, path))

	cTool(t, "compact", path)
	require.Equal(t, want, cContents(t, path))
	d, err = Open(path)
	require.NoError(t, err)
	require.Equal(t, want, ourContents(t, d))
	require.NoError(t, d.Close())
}

func TestTornTailDropped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	require.NoError(t, Create(path, testSchema(t)))
	d, err := Open(path)
	require.NoError(t, err)
	transact(t, d, `["T",{"op":"insert","table":"A","row":{"o":"keep"}}]`)
	transact(t, d, `["T",{"op":"insert","table":"A","row":{"o":"keep2"}}]`)
	want := ourContents(t, d)
	require.NoError(t, d.Close())
	good, err := os.ReadFile(path)
	require.NoError(t, err)

	// A crash in the middle of writing a third record.
	h, data := storage.ComposeRecord(storage.MagicStandalone, decode(t, `{"B":{"1b9a5d76-e69b-410c-8085-39943d0cd38c":{"name":"torn"}}}`))
	torn := append(append(append([]byte(nil), good...), h...), data[:len(data)/2]...)
	require.NoError(t, os.WriteFile(path, torn, 0o640))

	d, err = Open(path)
	require.NoError(t, err)
	require.Equal(t, want, ourContents(t, d))
	transact(t, d, `["T",{"op":"insert","table":"A","row":{"o":"after"}}]`)
	want = ourContents(t, d)
	require.NoError(t, d.Close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(raw, good))
	require.Equal(t, 4, countRecords(t, path))
	require.Equal(t, want, cContents(t, path))
}

func TestCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	require.NoError(t, Create(path, testSchema(t)))
	d, err := Open(path)
	require.NoError(t, err)
	for _, txn := range cTxns {
		transact(t, d, txn)
	}
	want := ourContents(t, d)
	require.NoError(t, d.Compact())
	require.Equal(t, 2, countRecords(t, path))
	transact(t, d, `["T",{"op":"insert","table":"A","row":{"o":"post"}}]`)
	want2 := ourContents(t, d)
	require.NotEqual(t, want, want2)
	require.Equal(t, 3, countRecords(t, path))
	require.NoError(t, d.Close())
	require.Equal(t, want2, cContents(t, path))
	require.Contains(t, cTool(t, "-mm", "show-log", path), "compacting database online")
	d, err = Open(path)
	require.NoError(t, err)
	require.Equal(t, want2, ourContents(t, d))
	require.NoError(t, d.Close())
}

// TestAutoCompaction: once the maximum interval has passed, the next
// commit triggers a background compaction (C's rule: any logged record).
func TestAutoCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	require.NoError(t, Create(path, testSchema(t)))
	d, err := Open(path)
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		transact(t, d, `["T",{"op":"insert","table":"A","row":{"o":"x"}}]`)
	}
	require.Equal(t, 4, countRecords(t, path))
	d.mu.Lock()
	require.False(t, d.shouldCompact()) // too early
	d.now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	d.mu.Unlock()
	transact(t, d, `["T",{"op":"insert","table":"A","row":{"o":"y"}}]`)
	want := ourContents(t, d)
	require.NoError(t, d.Close()) // waits for the compaction
	require.Equal(t, 2, countRecords(t, path))
	require.Equal(t, want, cContents(t, path))
}

func TestShouldCompactThresholds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	require.NoError(t, Create(path, testSchema(t)))
	d, err := Open(path)
	require.NoError(t, err)
	defer d.Close()
	base := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	tests := []struct {
		name     string
		at       time.Duration
		nWritten int
		want     bool
	}{
		{"before min", 5 * time.Minute, 1000, false},
		{"after min, small log", 21 * time.Minute, 1000, false}, // file not > 10 MiB
		{"after max, any record", 25 * time.Hour, 0, true},      // schema record counts
	}
	for _, tc := range tests {
		d.now = func() time.Time { return base.Add(tc.at) }
		d.nWritten = tc.nWritten
		require.Equal(t, tc.want, d.shouldCompact(), tc.name)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	require.NoError(t, Create(path, testSchema(t)))
	require.Error(t, Create(path, testSchema(t)))
	body := []byte("{}\n")
	cl := filepath.Join(dir, "cl")
	h, _ := storage.ComposeRecord(storage.MagicClustered, map[string]any{})
	require.NoError(t, os.WriteFile(cl, append(h, body...), 0o640))
	_, err := Open(cl)
	require.ErrorIs(t, err, storage.ErrClustered)
}

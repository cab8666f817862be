package storage

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/stretchr/testify/require"
)

const testSchema = `{"name":"T","version":"1.0.0","tables":{"A":{"columns":{"i":{"type":"integer"}}}}}`

func record(t *testing.T, js string) []byte {
	t.Helper()
	h, d := ComposeRecord(MagicStandalone, mustJSON(t, js))
	return append(h, d...)
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	v, err := decode([]byte(s))
	require.NoError(t, err)
	return v
}

func readAllLog(t *testing.T, l *Log) ([]map[string]any, error) {
	t.Helper()
	var out []map[string]any
	for {
		r, err := l.Read()
		if err != nil || r == nil {
			return out, err
		}
		out = append(out, r)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	l, err := Open(path, MagicStandalone, CreateExcl)
	require.NoError(t, err)
	recs := []string{testSchema, `{"A":{"1b9a5d76-e69b-410c-8085-39943d0cd38c":{"i":1}},"_date":1}`, `{"x":"é\u0001"}`}
	for _, r := range recs {
		require.NoError(t, l.Write(mustJSON(t, r)))
	}
	require.NoError(t, l.Commit())
	require.NoError(t, l.Close())

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	// Exact bytes: compact sorted JSON followed by a new-line, covered by the length.
	require.True(t, strings.HasPrefix(string(raw), "OVSDB JSON "))
	require.Equal(t, int64(len(raw)), func() int64 {
		var n int64
		for _, r := range recs {
			n += int64(len(record(t, r)))
		}
		return n
	}())

	l, err = Open(path, MagicStandalone+"|"+MagicClustered, ReadOnly)
	require.NoError(t, err)
	defer l.Close()
	got, err := readAllLog(t, l)
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, "T", got[0]["name"])
	require.Equal(t, int64(len(raw)), l.Offset())
}

// TestTornTail checks every kind of bad last record: reading stops with an
// error, the good records before it are kept, and the first write
// truncates the file at the end of the last good record.
func TestTornTail(t *testing.T) {
	good := append(record(t, testSchema), record(t, `{"_date":5,"A":{}}`)...)
	bad := record(t, `{"_date":6}`)
	badSHA := bytes.Replace(bad, []byte("OVSDB JSON 12 "), []byte("OVSDB JSON 12 0"), 1)
	badSHA = append(badSHA[:len("OVSDB JSON 12 ")+40], append([]byte("\n"), bad[bytes.IndexByte(bad, '\n')+1:]...)...)
	notJSONBody := []byte("{\"_date\":6\n")
	notJSON := append([]byte(nil), composeHeader(MagicStandalone, notJSONBody)...)
	notJSON = append(notJSON, notJSONBody...)
	arrBody := []byte("[1]\n")
	notObject := append(composeHeader(MagicStandalone, arrBody), arrBody...)
	tests := []struct {
		name string
		tail []byte
		msg  string
	}{
		{"short body", bad[:len(bad)-3], "error reading 12 bytes"},
		{"header only half", bad[:10], "parse error at offset"},
		{"garbage header", []byte("garbage\n"), "parse error at offset"},
		{"zero bytes", []byte{0, 0, 0, 0}, "parse error at offset"},
		{"sha1 mismatch", badSHA, "have SHA-1 hash"},
		{"not json", notJSON, "are not valid JSON"},
		{"not object", notObject, "are not a JSON object"},
		{"wrong magic", bytes.Replace(bad, []byte("JSON"), []byte("CLUSTER"), 1), "parse error at offset"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "db")
			require.NoError(t, os.WriteFile(path, append(append([]byte(nil), good...), tc.tail...), 0o640))
			l, err := Open(path, MagicStandalone, ReadWrite)
			require.NoError(t, err)
			got, err := readAllLog(t, l)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.msg)
			require.Len(t, got, 2)
			require.Equal(t, int64(len(good)), l.Offset())
			// Reading again repeats the error.
			_, err2 := l.Read()
			require.Equal(t, err, err2)

			next := record(t, `{"_date":7}`)
			require.NoError(t, l.Write(mustJSON(t, `{"_date":7}`)))
			require.NoError(t, l.Close())
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, append(append([]byte(nil), good...), next...), raw)
		})
	}
}

func TestReadOnlyNeverTruncates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	content := append(record(t, testSchema), []byte("OVSDB JSON 5 ")...)
	require.NoError(t, os.WriteFile(path, content, 0o640))
	l, err := Open(path, MagicStandalone, ReadOnly)
	require.NoError(t, err)
	_, err = readAllLog(t, l)
	require.Error(t, err)
	require.NoError(t, l.Close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, content, raw)
}

func TestUnreadOverwrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	require.NoError(t, os.WriteFile(path, append(record(t, testSchema), record(t, `{"a":1}`)...), 0o640))
	l, err := Open(path, MagicStandalone, ReadWrite)
	require.NoError(t, err)
	_, err = l.Read()
	require.NoError(t, err)
	_, err = l.Read()
	require.NoError(t, err)
	l.Unread()
	require.NoError(t, l.Write(mustJSON(t, `{"b":2}`)))
	require.NoError(t, l.Close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, append(record(t, testSchema), record(t, `{"b":2}`)...), raw)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o640))
	junk := filepath.Join(dir, "junk")
	require.NoError(t, os.WriteFile(junk, []byte("hello\n"), 0o640))
	clustered := filepath.Join(dir, "clustered")
	body := []byte("{}\n")
	require.NoError(t, os.WriteFile(clustered, append(composeHeader(MagicClustered, body), body...), 0o640))

	_, err := Open(empty, "JSON|CLUSTER", ReadOnly)
	require.EqualError(t, err, "ovsdb error: "+empty+": cannot identify file type")
	_, err = Open(junk, "JSON", ReadOnly)
	require.EqualError(t, err, "ovsdb error: "+junk+": unexpected file format")
	_, err = Open(clustered, "JSON", ReadWrite)
	require.ErrorIs(t, err, ErrClustered)
	var ce *ClusteredError
	require.True(t, errors.As(err, &ce))
	// The lock was released on failure.
	l, err := Open(clustered, "JSON|CLUSTER", ReadWrite)
	require.NoError(t, err)
	require.Equal(t, MagicClustered, l.Magic())
	require.NoError(t, l.Close())
	_, err = Open(filepath.Join(dir, "missing"), "JSON", ReadOnly)
	require.Error(t, err)
	require.Equal(t, ovsdberr.TagIOError, ovsdberr.As(err).Tag)
	_, err = Open(empty, "JSON", CreateExcl)
	require.Error(t, err)
	require.Contains(t, err.Error(), "create failed")
}

func TestLockExcludesSecondWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	l, err := Open(path, MagicStandalone, CreateExcl)
	require.NoError(t, err)
	_, err = Open(path, MagicStandalone, ReadWrite)
	require.True(t, IsLockError(err), "%v", err)
	_, err = os.Stat(filepath.Join(filepath.Dir(path), ".db.~lock~"))
	require.NoError(t, err)
	// Readers need no lock.
	r, err := Open(path, MagicStandalone, ReadOnly)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, l.Close())
	l, err = Open(path, MagicStandalone, ReadWrite)
	require.NoError(t, err)
	require.NoError(t, l.Close())
}

func TestReplace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	l, err := Open(path, MagicStandalone, CreateExcl)
	require.NoError(t, err)
	defer l.Close()
	for _, r := range []string{testSchema, `{"a":1}`, `{"a":2}`} {
		require.NoError(t, l.Write(mustJSON(t, r)))
	}
	_, d := ComposeRecord(MagicStandalone, mustJSON(t, `{"a":3}`))
	require.NoError(t, l.Replace(mustJSON(t, testSchema), d))
	require.NoError(t, l.Write(mustJSON(t, `{"a":4}`)))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	want := append(append(record(t, testSchema), record(t, `{"a":3}`)...), record(t, `{"a":4}`)...)
	require.Equal(t, want, raw)
	require.False(t, l.GrewLots())
	_, err = os.Stat(path + ".tmp")
	require.True(t, os.IsNotExist(err))
}

// TestCLockInterop checks that our lock excludes the C tool and the C
// server's lock excludes us.
func TestCLockInterop(t *testing.T) {
	tool := testutil.RequireTool(t, "ovsdb-tool")
	dir := t.TempDir()
	schemaFile := filepath.Join(dir, "s.ovsschema")
	require.NoError(t, os.WriteFile(schemaFile, []byte(testSchema), 0o644))
	path := filepath.Join(dir, "db")
	out, err := exec.Command(tool, "create", path, schemaFile).CombinedOutput()
	require.NoError(t, err, string(out))

	l, err := Open(path, MagicStandalone, ReadWrite)
	require.NoError(t, err)
	out, err = exec.Command(tool, "transact", path, `["T",{"op":"insert","table":"A","row":{}}]`).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "failed to lock lockfile")
	// Our records are readable by C show-log.
	_, err = l.Read()
	require.NoError(t, err)
	require.NoError(t, l.Write(mustJSON(t, `{"_date":1,"_comment":"from go","A":{"1b9a5d76-e69b-410c-8085-39943d0cd38c":{"i":42}}}`)))
	require.NoError(t, l.Close())
	out, err = exec.Command(tool, "-mm", "show-log", path).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), `record 1:`)
	require.Contains(t, string(out), `"from go"`)
	require.Contains(t, string(out), `i=42`)
}

func TestReadAll(t *testing.T) {
	data := append(record(t, testSchema), record(t, `{"a":1}`)...)
	var n int
	require.NoError(t, ReadAll(bytes.NewReader(data), "x", MagicStandalone, func(map[string]any) { n++ }))
	require.Equal(t, 2, n)
	n = 0
	err := ReadAll(bytes.NewReader(data[:len(data)-1]), "x", MagicStandalone, func(map[string]any) { n++ })
	require.Error(t, err)
	require.Equal(t, 1, n)
}

// TestPrepareReplace: until Commit the old file stays live (and writable
// while the replacement is prepared); Commit switches to the new file;
// Abort leaves the old one.
func TestPrepareReplace(t *testing.T) {
	for _, tt := range []struct {
		name   string
		commit bool
	}{{"commit", true}, {"abort", false}} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "db")
			l, err := Open(path, MagicStandalone, CreateExcl)
			require.NoError(t, err)
			defer l.Close()
			require.NoError(t, l.Write(mustJSON(t, testSchema)))
			require.NoError(t, l.Write(mustJSON(t, `{"a":1}`)))
			_, d := ComposeRecord(MagicStandalone, mustJSON(t, `{"a":3}`))
			p, err := l.PrepareReplace(mustJSON(t, testSchema), d)
			require.NoError(t, err)
			// The old log still takes writes meanwhile.
			require.NoError(t, l.Write(mustJSON(t, `{"a":2}`)))
			require.NoError(t, p.Append([]byte(`{"a":2}`+"\n")))
			old := append(append(record(t, testSchema), record(t, `{"a":1}`)...), record(t, `{"a":2}`)...)
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, old, raw)
			_, err = os.Stat(path + ".tmp")
			require.NoError(t, err)
			if tt.commit {
				require.NoError(t, p.Commit())
			} else {
				p.Abort()
			}
			require.Error(t, p.Commit(), "a replacement ends once")
			p.Abort() // no effect
			require.NoError(t, l.Write(mustJSON(t, `{"a":4}`)))
			want := append(append(append(record(t, testSchema), record(t, `{"a":3}`)...),
				record(t, `{"a":2}`)...), record(t, `{"a":4}`)...)
			if !tt.commit {
				want = append(old, record(t, `{"a":4}`)...)
			}
			raw, err = os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, want, raw)
			_, err = os.Stat(path + ".tmp")
			require.True(t, os.IsNotExist(err))
		})
	}
}

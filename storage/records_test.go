package storage

import (
	"crypto/sha1"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// appendHeader must produce exactly what the fmt-based formulation does.
func TestAppendHeaderMatchesFormat(t *testing.T) {
	for _, tc := range []struct{ magic, data string }{
		{"JSON", "{}\n"},
		{"CLUSTER", `{"a":1}` + "\n"},
		{"JSON", ""},
		{"JSON", string(make([]byte, 123456))},
	} {
		want := fmt.Sprintf("OVSDB %s %d %x\n", tc.magic, len(tc.data), sha1.Sum([]byte(tc.data)))
		require.Equal(t, want, string(appendHeader(nil, tc.magic, []byte(tc.data))))
		require.Equal(t, want, string(composeHeader(tc.magic, []byte(tc.data))))
		// Appending keeps the prefix.
		require.Equal(t, "x"+want, string(appendHeader([]byte("x"), tc.magic, []byte(tc.data))))
	}
}

// Several records written with one WriteRecords read back one by one.
func TestWriteRecordsBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	l, err := Open(path, MagicStandalone, CreateExcl)
	require.NoError(t, err)
	var buf []byte
	for _, js := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
		buf = l.AppendRecord(buf, []byte(js+"\n"))
	}
	require.NoError(t, l.WriteRecords(buf))
	require.NoError(t, l.WriteRaw([]byte(`{"n":4}`+"\n")))
	require.Equal(t, int64(len(buf))+int64(len(record(t, `{"n":4}`))), l.Offset())
	require.NoError(t, l.Close())

	l, err = Open(path, MagicStandalone, ReadOnly)
	require.NoError(t, err)
	defer l.Close()
	recs, err := readAllLog(t, l)
	require.NoError(t, err)
	require.Len(t, recs, 4)
	for i, r := range recs {
		require.Equal(t, mustJSON(t, fmt.Sprintf(`{"n":%d}`, i+1)), any(r))
	}
}

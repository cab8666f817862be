package storage

import (
	"bytes"
	"testing"
)

// FuzzReadLog feeds arbitrary bytes to the record reader: it must never
// panic, records it accepts must re-encode to a prefix of the input's
// record count, and reading must stop at the first bad record.
func FuzzReadLog(f *testing.F) {
	f.Add([]byte("OVSDB JSON 3 9a78211436f6d425ec38f5c4e02270801f3524f8\n{}\n"))
	f.Add([]byte("OVSDB JSON 3 0000000000000000000000000000000000000000\n{}\n"))
	f.Add([]byte("OVSDB JSON 99999999999999999999 9a78211436f6d425ec38f5c4e02270801f3524f8\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		var recs []map[string]any
		err := ReadAll(bytes.NewReader(data), "fuzz", MagicStandalone, func(r map[string]any) {
			recs = append(recs, r)
		})
		// Re-encoding accepted records and reading them back gives the
		// same count with no error.
		var buf bytes.Buffer
		for _, r := range recs {
			h, d := ComposeRecord(MagicStandalone, r)
			buf.Write(h)
			buf.Write(d)
		}
		n := 0
		if err2 := ReadAll(&buf, "re", MagicStandalone, func(map[string]any) { n++ }); err2 != nil {
			t.Fatalf("re-encoded records do not read back: %v", err2)
		}
		if n != len(recs) {
			t.Fatalf("read back %d records, want %d", n, len(recs))
		}
		if err == nil && len(data) > 0 && len(recs) == 0 {
			t.Fatalf("non-empty input accepted with no records")
		}
	})
}

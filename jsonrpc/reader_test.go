package jsonrpc

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// TestReaderFraming splits back-to-back messages read one byte at a time
// and in one piece, and enforces the size limit.
func TestReaderFraming(t *testing.T) {
	in := `  {"a":"}]"}[1,[2]]` + "\n" + `{"b":"x\"{"}{"c":"\\"}`
	want := []string{`{"a":"}]"}`, `[1,[2]]`, `{"b":"x\"{"}`, `{"c":"\\"}`}
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(in),
		"one-byte": iotest.OneByteReader(strings.NewReader(in)),
	} {
		t.Run(name, func(t *testing.T) {
			rd := newReader(r, 0)
			for _, w := range want {
				b, err := rd.next()
				require.NoError(t, err)
				require.Equal(t, w, string(b))
			}
			_, err := rd.next()
			require.ErrorIs(t, err, io.EOF)
		})
	}
	rd := newReader(strings.NewReader(`[1,2]{"a":1}`), 5)
	b, err := rd.next()
	require.NoError(t, err)
	require.Equal(t, `[1,2]`, string(b))
	_, err = rd.next()
	require.ErrorIs(t, err, errProtocol)
	_, err = newReader(strings.NewReader(`[1,2`), 0).next()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = newReader(strings.NewReader(` x`), 0).next()
	require.ErrorIs(t, err, errProtocol)
}

// TestNormalizeNumbers checks ids are re-serialised as C does, canonical
// integers being kept as they are.
func TestNormalizeNumbers(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"17", "17"},
		{"-5", "-5"},
		{"0", "0"},
		{"-0", "0"},
		{"1.0", "1"},
		{"1e2", "100"},
		{"0.5", "0.5"},
		{"-9223372036854775808", "-9223372036854775808"},
	} {
		got := normalize(json.Number(tc.in))
		require.Equal(t, json.Number(tc.want), got, tc.in)
	}
	require.Equal(t, []any{json.Number("1"), map[string]any{"a": json.Number("2")}},
		normalize([]any{json.Number("1.0"), map[string]any{"a": json.Number("2e0")}}))
}

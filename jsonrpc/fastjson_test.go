package jsonrpc

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// slowDecode is the reference: encoding/json with UseNumber.
func slowDecode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, io.ErrUnexpectedEOF
	}
	return v, nil
}

var fastDecodeCases = []struct {
	in     string
	wantOK bool // handled by the fast path
}{
	{`{"method":"transact","params":["OVN_Northbound",{"op":"insert","table":"T","row":{"name":"x"}}],"id":1}`, true},
	{` [1, -2, 3.5e10, -0, 0.25E-3, true, false, null, "", {}, []] `, true},
	{`{"a":1,"a":2}`, true},
	{`{"a" : [ ] , "b" :{ } }`, true},
	{`[1e400]`, true},
	{`[01]`, false},
	{`[1.]`, false},
	{`[.5]`, false},
	{`[-]`, false},
	{`[1e]`, false},
	{`[1,]`, false},
	{`{"a":1,}`, false},
	{`{"a"}`, false},
	{`{a:1}`, false},
	{`[tru]`, false},
	{`[nul]`, false},
	{`["a\"b"]`, false},
	{`["\u00e9"]`, false},
	{`["\ud800"]`, false},
	{"[\"\xff\"]", false},
	{"[\"é\"]", false},
	{"[\"a\tb\"]", false},
	{`[1] x`, false},
	{`[1`, false},
	{``, false},
	{`"x"`, true},
	{`{"x":[[[[[]]]]]}`, true},
}

// TestFastDecode checks that the fast path gives exactly encoding/json's
// value where it applies, and that decodeValue (fast path plus fallback)
// accepts and rejects exactly what encoding/json does.
func TestFastDecode(t *testing.T) {
	for _, tc := range fastDecodeCases {
		t.Run(tc.in, func(t *testing.T) {
			v, ok := fastDecode([]byte(tc.in))
			require.Equal(t, tc.wantOK, ok)
			want, wantErr := slowDecode([]byte(tc.in))
			if ok {
				require.NoError(t, wantErr)
				require.Equal(t, want, v)
			}
			got, err := decodeValue([]byte(tc.in))
			if wantErr != nil {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
	deep := strings.Repeat("[", maxFastDepth+5) + strings.Repeat("]", maxFastDepth+5)
	_, ok := fastDecode([]byte(deep))
	require.False(t, ok, "too deep for the fast path")
	v, err := decodeValue([]byte(deep))
	require.NoError(t, err)
	require.NotNil(t, v)
}

// FuzzFastDecode compares the fast decoder with encoding/json.
func FuzzFastDecode(f *testing.F) {
	for _, tc := range fastDecodeCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wantErr := slowDecode(data)
		if v, ok := fastDecode(data); ok {
			require.NoError(t, wantErr)
			require.Equal(t, want, v)
		}
		got, err := decodeValue(data)
		require.Equal(t, wantErr != nil, err != nil)
		if err == nil {
			require.Equal(t, want, got)
		}
	})
}

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

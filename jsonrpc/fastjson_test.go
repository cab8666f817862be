package jsonrpc

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	{`[0,7,-7,10,9.5,0e1]`, true},
	{`{"table":"T","table":"U","k":{"table":5,"op":"insert"},"k":[{"a":{}}]}`, true},
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
	// shared is reused across inputs, as a session's decoder is.
	var shared fastDecoder
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
		got, err = shared.decodeValue(data)
		require.Equal(t, wantErr != nil, err != nil)
		if err == nil {
			require.Equal(t, want, got)
		}
	})
}

// TestDecoderReuse decodes a sequence of messages, good and bad, with one
// decoder: every result must equal encoding/json's, whatever was decoded
// (or abandoned half-way) before, and the string cache stays bounded.
func TestDecoderReuse(t *testing.T) {
	var d fastDecoder
	for round := 0; round < 2; round++ {
		for _, tc := range fastDecodeCases {
			want, wantErr := slowDecode([]byte(tc.in))
			got, err := d.decodeValue([]byte(tc.in))
			require.Equal(t, wantErr != nil, err != nil, tc.in)
			if err == nil {
				require.Equal(t, want, got, tc.in)
			}
		}
	}
	require.Empty(t, d.stack, "scratch stack is empty between messages")
	require.Empty(t, d.keys)
	for _, v := range d.stack[:cap(d.stack)] {
		require.Nil(t, v, "no references kept to abandoned values")
	}

	// Member names and "table" values are cached, other strings are not.
	in := []byte(`{"zz_col":"v1","table":"My_Table","x":["My_Other"]}`)
	v, ok := d.decode(in)
	require.True(t, ok)
	require.Equal(t, map[string]any{"zz_col": "v1", "table": "My_Table", "x": []any{"My_Other"}}, v)
	require.Contains(t, d.cache, "zz_col")
	require.Contains(t, d.cache, "My_Table")
	require.NotContains(t, d.cache, "v1")
	require.NotContains(t, d.cache, "My_Other")

	// Many distinct member names: the cache stops growing at its limit,
	// and decoding stays correct past it.
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < maxCached+50; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	b.WriteString("}")
	want, err := slowDecode([]byte(b.String()))
	require.NoError(t, err)
	got, err := d.decodeValue([]byte(b.String()))
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Len(t, d.cache, maxCached)
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

package fastjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
)

// slowDecode is the reference: encoding/json with UseNumber, then every
// number read as C reads it (cjson.LexNumber), written independently of
// lexNumbers.
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
	var lexErr error
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			t, err := cjson.LexNumber(string(x))
			if err != nil && lexErr == nil {
				lexErr = err
			}
			return json.Number(t)
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = walk(e)
			}
			return out
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, e := range x {
				out[k] = walk(e)
			}
			return out
		}
		return v
	}
	v = walk(v)
	if lexErr != nil {
		return nil, lexErr
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
	{`[1e400]`, false},
	{`[-1e999]`, false},
	{`{"a":[1e-310]}`, false},
	{`["\u00e9", 1e999]`, false},
	{`["\u00e9", 1.5e3, 18446744073709551617]`, false},
	{`[1e-400, 0e99999, 18446744073709551616, 2.5]`, true},
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
			v, ok := Decode([]byte(tc.in))
			require.Equal(t, tc.wantOK, ok)
			want, wantErr := slowDecode([]byte(tc.in))
			if ok {
				require.NoError(t, wantErr)
				require.Equal(t, want, v)
			}
			got, err := DecodeValue([]byte(tc.in))
			if wantErr != nil {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
	deep := strings.Repeat("[", MaxDepth+5) + strings.Repeat("]", MaxDepth+5)
	_, ok := Decode([]byte(deep))
	require.False(t, ok, "too deep for the fast path")
	v, err := DecodeValue([]byte(deep))
	require.NoError(t, err)
	require.NotNil(t, v)
}

// FuzzFastDecode compares the fast decoder with encoding/json.
func FuzzFastDecode(f *testing.F) {
	for _, tc := range fastDecodeCases {
		f.Add([]byte(tc.in))
	}
	// shared is reused across inputs, as a session's decoder is.
	var shared Decoder
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wantErr := slowDecode(data)
		if v, ok := Decode(data); ok {
			require.NoError(t, wantErr)
			require.Equal(t, want, v)
		}
		got, err := DecodeValue(data)
		require.Equal(t, wantErr != nil, err != nil)
		if err == nil {
			require.Equal(t, want, got)
		}
		got, err = shared.DecodeValue(data)
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
	var d Decoder
	for round := 0; round < 2; round++ {
		for _, tc := range fastDecodeCases {
			want, wantErr := slowDecode([]byte(tc.in))
			got, err := d.DecodeValue([]byte(tc.in))
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
	v, ok := d.Decode(in)
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
	got, err := d.DecodeValue([]byte(b.String()))
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Len(t, d.cache, maxCached)
}

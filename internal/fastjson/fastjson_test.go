package fastjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

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
	if len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, ErrTrailing
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

var fastDecodeCases = []string{
	`{"method":"transact","params":["OVN_Northbound",{"op":"insert","table":"T","row":{"name":"x"}}],"id":1}`,
	` [1, -2, 3.5e10, -0, 0.25E-3, true, false, null, "", {}, []] `,
	`{"a":1,"a":2}`,
	`{"a" : [ ] , "b" :{ } }`,
	`[1e400]`,
	`[-1e999]`,
	`{"a":[1e-310]}`,
	`["\u00e9", 1e999]`,
	`["\u00e9", 1.5e3, 18446744073709551617]`,
	`[1e-400, 0e99999, 18446744073709551616, 2.5]`,
	`[01]`, `[1.]`, `[.5]`, `[-]`, `[1e]`, `[1,]`, `{"a":1,}`, `{"a"}`, `{a:1}`, `[tru]`, `[nul]`,
	`["a\"b"]`, `["\u00e9"]`, `["\ud800"]`, `["\ud800x"]`, `["\udc00"]`, `["\ud83d\ude00"]`,
	`["\u0000"]`, `["\ud800\u0041"]`, `["\ud800\"]`, `["\u12"]`, `["\u12g4"]`, `["\q"]`,
	"[\"\xff\"]", "[\"é\"]", "[\"a\tb\"]", "{\"\xc0\x80\":\"\xed\xa0\x80\"}",
	`[1] x`, `[1`, ``, `"x"`, `["abc`, `["a\`,
	`{"x":[[[[[]]]]]}`,
	`[0,7,-7,10,9.5,0e1]`,
	`{"table":"T","table":"U","k":{"table":5,"op":"insert"},"k":[{"a":{}}]}`,
	`{"table":"\u0054","a\u0062":"\/\b\f\n\r\t\\"}`,
}

// cOnly reports whether C's parser and encoding/json may differ on data:
// invalid UTF-8, or a \u escape of a null byte or a surrogate (possibly
// a false positive after an escaped backslash, which only skips a case).
func cOnly(data []byte) bool {
	return !utf8.Valid(data) || cEscapes.Match(data)
}

var cEscapes = regexp.MustCompile(`\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})`)

// TestDecode checks decoding against encoding/json where C's parser agrees
// with it: same value, same acceptance.
func TestDecode(t *testing.T) {
	for _, in := range fastDecodeCases {
		if cOnly([]byte(in)) {
			continue
		}
		t.Run(in, func(t *testing.T) {
			want, wantErr := slowDecode([]byte(in))
			got, err := DecodeValue([]byte(in))
			if wantErr != nil {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}

// TestDecodeCStrings checks the strings where C's parser differs from
// encoding/json: bytes are kept as they are (invalid UTF-8 included), and
// \u escapes follow lib/json.c.
func TestDecodeCStrings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // decoded string, or the error text
		err  bool
	}{
		{"\"a\xffb\"", "a\xffb", false},
		{"\"\xc0\x80\"", "\xc0\x80", false},
		{"\"\xed\xa0\x80\"", "\xed\xa0\x80", false},
		{"\"\xe2\x82\"", "\xe2\x82", false},
		{"\"x\xf8\x88\x80\x80\x80\\n\"", "x\xf8\x88\x80\x80\x80\n", false},
		{"\"é\\u00e9\"", "éé", false},
		{"\"\\udc00x\"", "\xed\xb0\x80x", false},
		{"\"\\udfff\"", "\xed\xbf\xbf", false},
		{"\"\\ud83d\\ude00\"", "\U0001F600", false},
		{"\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", false},
		{"\"\\uffff\\u0800\\u07ff\\u0080\\u007f\"", "\xef\xbf\xbf\xe0\xa0\x80\xdf\xbf\xc2\x80\x7f", false},
		{"\"\\ud800x\"", "malformed escaped surrogate pair", true},
		{"\"\\ud800\"", "malformed escaped surrogate pair", true},
		{"\"\\ud800\\\\\"", "malformed escaped surrogate pair", true},
		{"\"\\ud800\\\"", "unexpected end of input in quoted string", true},
		{"\"\\u12\\\"34\"", "malformed \\u escape", true},
		{"\"\\u1x\"", "quoted string ends within \\u escape", true},
		{"\"\\q\x01\"", "U+0001 must be escaped in quoted string", true},
		{"\"\\\x01\"", "bad escape \\\x01", true},
		{"\"\\ud800\\u0041\"", "second half of escaped surrogate pair is not trailing surrogate", true},
		{"\"\\ud800\\ud800\"", "second half of escaped surrogate pair is not trailing surrogate", true},
		{"\"\\ud800\\u0000\"", "null bytes not supported in quoted strings", true},
		{"\"\\ud800\\u12\"", "quoted string ends within \\u escape", true},
		{"\"\\u0000\"", "null bytes not supported in quoted strings", true},
		{"\"\\u00\"", "quoted string ends within \\u escape", true},
		{"\"\\u00g0\"", "malformed \\u escape", true},
		{"\"\\x\"", "bad escape \\x", true},
		{"\"a\x01\"", "U+0001 must be escaped in quoted string", true},
		{"\"\xff\x1f\"", "U+001F must be escaped in quoted string", true},
		{"\"abc", "unexpected end of input in quoted string", true},
		{"\"\xffabc", "unexpected end of input in quoted string", true},
	} {
		for _, wrap := range []string{"%s", "[%s]", `{"k":%s}`, `{%s:1}`} {
			in := fmt.Sprintf(wrap, tc.in)
			var d Decoder
			got, err := d.DecodeValue([]byte(in))
			if tc.err {
				require.EqualError(t, err, tc.want, in)
				continue
			}
			require.NoError(t, err, in)
			switch wrap {
			case "%s":
				require.Equal(t, tc.want, got, in)
			case "[%s]":
				require.Equal(t, []any{tc.want}, got, in)
			case `{"k":%s}`:
				require.Equal(t, map[string]any{"k": tc.want}, got, in)
			default:
				require.Equal(t, map[string]any{tc.want: json.Number("1")}, got, in)
			}
		}
	}
}

// TestDecodeDepth checks C's nesting limit: MaxDepth arrays and objects
// open at once are accepted, one more is refused.
func TestDecodeDepth(t *testing.T) {
	for _, open := range []string{"[", `{"a":`} {
		close := "]"
		if open != "[" {
			close = "}"
		}
		inner := "[]"
		if open != "[" {
			inner = "{}"
		}
		ok := strings.Repeat(open, MaxDepth-1) + inner + strings.Repeat(close, MaxDepth-1)
		_, err := DecodeValue([]byte(ok))
		require.NoError(t, err)
		deep := strings.Repeat(open, MaxDepth) + inner + strings.Repeat(close, MaxDepth)
		_, err = DecodeValue([]byte(deep))
		require.ErrorIs(t, err, ErrDepth)
		require.EqualError(t, err, "input exceeds maximum nesting depth 1000")
	}
}

// FuzzFastDecode compares the decoder with encoding/json where C's parser
// agrees with it, and elsewhere with a model of C's strings (bytes ≥ 0x80
// rewritten as escapes of private-use code points that encoding/json then
// decodes; see cModel).
func FuzzFastDecode(f *testing.F) {
	for _, in := range fastDecodeCases {
		f.Add([]byte(in))
	}
	// shared is reused across inputs, as a session's decoder is.
	var shared Decoder
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wantErr, ok := cModel(data)
		if !ok {
			// Still must not panic, and a shared decoder must agree.
			v1, err1 := DecodeValue(data)
			v2, err2 := shared.DecodeValue(data)
			require.Equal(t, err1 == nil, err2 == nil)
			require.Equal(t, v1, v2)
			return
		}
		got, err := DecodeValue(data)
		require.Equal(t, wantErr != nil, err != nil, "model error %v, ours %v", wantErr, err)
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

// cModel is a model of C's JSON parser built on encoding/json: each byte
// ≥ 0x80 is rewritten as an escape of a private-use code point
// (U+F780-U+F7FF) that is mapped back to the byte after decoding, \u
// escapes of surrogates and null are checked by hand, and the nesting depth
// is counted. ok is false for input the model cannot judge (it already
// holds escapes of that private-use range, or an escape sequence the
// model does not follow exactly).
func cModel(data []byte) (v any, err error, ok bool) {
	if privateEscape.Match(data) {
		return nil, nil, false
	}
	var in []byte
	inStr, esc := false, false
	depth, maxDepth := 0, 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c >= 0x80 && inStr && esc:
			return nil, errors.New("bad escape"), true
		case c >= 0x80:
			in = fmt.Appendf(in, `\u%04x`, 0xf700+int(c))
			continue
		case inStr && esc:
			esc = false
			if c == 'u' {
				// C's rules for surrogates and null.
				r, ok := hexAt(data, i+1)
				if !ok {
					break // encoding/json refuses it too
				}
				switch {
				case r == 0:
					return nil, errors.New("null"), true
				case r >= 0xdc00 && r <= 0xdfff:
					// A lone trailing surrogate: its three bytes.
					in = in[:len(in)-1] // drop the backslash
					for _, b := range []byte{0xe0 | byte(r>>12), 0x80 | byte(r>>6&0x3f), 0x80 | byte(r&0x3f)} {
						in = fmt.Appendf(in, `\u%04x`, 0xf700+int(b))
					}
					i += 4
					continue
				case r >= 0xd800 && r <= 0xdbff:
					if i+6 >= len(data) || data[i+5] != '\\' || data[i+6] != 'u' {
						return nil, errors.New("pair"), true
					}
					r2, ok := hexAt(data, i+7)
					if !ok {
						return nil, nil, false
					}
					if r2 < 0xdc00 || r2 > 0xdfff {
						return nil, errors.New("second"), true
					}
					in = append(in, data[i:i+11]...)
					i += 10
					continue
				}
			}
		case inStr && c == '\\':
			esc = true
		case inStr && c == '"':
			inStr = false
		case !inStr && c == '"':
			inStr = true
		case !inStr && (c == '[' || c == '{'):
			depth++
			maxDepth = max(maxDepth, depth)
		case !inStr && (c == ']' || c == '}'):
			depth--
		}
		in = append(in, c)
	}
	v, err = slowDecode(in)
	if err != nil {
		return nil, err, true
	}
	if maxDepth > MaxDepth {
		return nil, ErrDepth, true
	}
	return unmapPrivate(v), nil, true
}

var privateEscape = regexp.MustCompile(`\\u[fF]7[89a-fA-F][0-9a-fA-F]`)

func hexAt(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i:i+4]), 16, 16)
	return rune(n), err == nil
}

func unmapPrivate(v any) any {
	switch x := v.(type) {
	case string:
		if !strings.ContainsFunc(x, isPrivate) {
			return x
		}
		var b []byte
		for _, r := range x {
			if isPrivate(r) {
				b = append(b, byte(r-0xf700))
			} else {
				b = utf8.AppendRune(b, r)
			}
		}
		return string(b)
	case []any:
		for i, e := range x {
			x[i] = unmapPrivate(e)
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[unmapPrivate(k).(string)] = unmapPrivate(e)
		}
		return out
	}
	return v
}

func isPrivate(r rune) bool { return r >= 0xf780 && r <= 0xf7ff }

// TestDecoderReuse decodes a sequence of messages, good and bad, with one
// decoder: every result must equal encoding/json's, whatever was decoded
// (or abandoned half-way) before, and the string cache stays bounded.
func TestDecoderReuse(t *testing.T) {
	var d Decoder
	for round := 0; round < 2; round++ {
		for _, in := range fastDecodeCases {
			want, wantErr, _ := cModel([]byte(in))
			got, err := d.DecodeValue([]byte(in))
			require.Equal(t, wantErr != nil, err != nil, in)
			if err == nil {
				require.Equal(t, want, got, in)
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

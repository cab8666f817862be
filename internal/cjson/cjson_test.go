package cjson

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMarshalLikeC(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{json.Number("1"), `1`},
		{json.Number("1.0"), `1`},
		{json.Number("1e3"), `1000`},
		{json.Number("-0"), `0`},
		{json.Number("-0.0"), `0`},
		{json.Number("9223372036854775808"), `9.22337203685478e+18`},
		{json.Number("-9223372036854775808"), `-9223372036854775808`},
		{json.Number("0.3333333333333333"), `0.333333333333333`},
		{json.Number("1.5"), `1.5`},
		{1e18, `1e+18`},
		{0.1, `0.1`},
		{float64(5), `5`},
		{int64(-7), `-7`},
		{"a\"b\\c\n\x01</>é", `"a\"b\\c\n\u0001</>é"`},
		// Bytes >= 0x80 go out as they are, valid UTF-8 or not (C's
		// json_serialize_string), such as a lone surrogate's bytes.
		{"a\xffb\xed\xb0\x80\xc0\x80\x7f", "\"a\xffb\xed\xb0\x80\xc0\x80\x7f\""},
		{map[string]any{"\xff": "\xfe", "a": 1}, "{\"a\":1,\"\xff\":\"\xfe\"}"},
		{Object{Keys: []string{"z", "a"}, Vals: []any{1, &Object{Keys: []string{"y", "b"}, Vals: []any{true, nil}}}}, `{"z":1,"a":{"y":true,"b":null}}`},
		{&Object{}, `{}`},
		{map[string]any{"b": 1, "a": []any{nil, true, false}}, `{"a":[null,true,false],"b":1}`},
	}
	for _, c := range cases {
		require.Equal(t, c.want, String(c.in), "%v", c.in)
	}
}

// TestLexNumber pins C 3.1's reading of number literals, as observed on
// the C server's echo method ("error": the C server closes the
// connection).
func TestLexNumber(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0", "0"}, {"-0", "-0"}, {"12", "12"}, {"1.0", "1.0"}, {"1e3", "1e3"}, {"-1.50e1", "-1.50e1"},
		{"1.5", "1.5"}, {"1e308", "1e308"}, {"1e309", "error"}, {"1e999", "error"}, {"-1e999", "error"},
		{"1e-310", "error"}, {"4.9e-324", "error"}, {"1.5e-320", "error"}, {"2.225e-308", "error"},
		{"2.2250738585072014e-308", "2.2250738585072014e-308"}, {"1e-400", "1e-400"},
		{"0.1e-999", "0.1e-999"}, {"0e999", "0e999"}, {"1844674407370955161.6", "0"}, {"0e99999999999", "error"}, {"1e2147483647", "error"},
		{"1e214748364", "error"}, {"1e-214748364", "1e-214748364"}, {"1e-2147483648", "error"},
		{"9223372036854775807", "9223372036854775807"}, {"-9223372036854775808", "-9223372036854775808"},
		{"9223372036854775808", "9223372036854775808"}, {"18446744073709551616", "0"},
		{"18446744073709551617", "1"}, {"123456789012345678901234567890", "123456789012345678901234567890"},
	} {
		got, err := LexNumber(tc.in)
		if err != nil {
			got = "error"
		}
		if got != tc.want {
			t.Errorf("LexNumber(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

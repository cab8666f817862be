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
		{Object{Keys: []string{"z", "a"}, Vals: []any{1, &Object{Keys: []string{"y", "b"}, Vals: []any{true, nil}}}}, `{"z":1,"a":{"y":true,"b":null}}`},
		{&Object{}, `{}`},
		{map[string]any{"b": 1, "a": []any{nil, true, false}}, `{"a":[null,true,false],"b":1}`},
	}
	for _, c := range cases {
		require.Equal(t, c.want, String(c.in), "%v", c.in)
	}
}

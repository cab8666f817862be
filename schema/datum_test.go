package schema_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

func mustType(t *testing.T, js string) *schema.Type {
	v, err := schema.DecodeJSON([]byte(js))
	require.NoError(t, err)
	typ, err := schema.ParseType(v)
	require.NoError(t, err)
	return &typ
}

func TestParseDatum(t *testing.T) {
	cases := []struct {
		typ, in string
		out     string // canonical JSON, or "" if error
		err     string // expected ovsdberr JSON
	}{
		{`"integer"`, `5`, `5`, ""},
		{`"integer"`, `5.0`, `5`, ""}, // C's lexer makes 5.0 an integer
		{`"integer"`, `1e2`, `100`, ""},
		{`"integer"`, `1.5`, "", `{"details":"expected integer","error":"syntax error","syntax":"1.5"}`},
		{`"real"`, `5`, `5`, ""},
		{`"real"`, `0.1`, `0.1`, ""},
		{`"string"`, `"a"`, `"a"`, ""},
		{`"boolean"`, `"a"`, "", `{"details":"expected boolean","error":"syntax error","syntax":"\"a\""}`},
		{`{"key":"integer","min":0,"max":"unlimited"}`, `["set",[3,1,2]]`, `["set",[1,2,3]]`, ""},
		{`{"key":"integer","min":0,"max":"unlimited"}`, `["set",[1,1]]`, "", `{"details":"set contains duplicate","error":"ovsdb error"}`},
		{`{"key":"integer","min":0,"max":2}`, `["set",[1,2,3]]`, "", `{"details":"set must have 0 to 2 members but 3 are present","error":"syntax error","syntax":"[\"set\",[1,2,3]]"}`},
		{`{"key":"integer","min":0,"max":"unlimited"}`, `7`, `7`, ""},
		{`{"key":"string","value":"integer","min":0,"max":"unlimited"}`, `["map",[["b",2],["a",1]]]`, `["map",[["a",1],["b",2]]]`, ""},
		{`{"key":"string","value":"integer","min":0,"max":"unlimited"}`, `["map",[["a",2],["a",1]]]`, "", `{"details":"map contains duplicate key","error":"ovsdb error"}`},
		{`{"key":"string","value":"integer","min":0,"max":"unlimited"}`, `["set",[]]`, "", `{"details":"expected [\"map\", <array>]","error":"syntax error","syntax":"[\"set\",[]]"}`},
		{`"uuid"`, `["uuid","x"]`, "", `{"details":"\"x\" is not a valid UUID","error":"syntax error","syntax":"[\"uuid\",\"x\"]"}`},
		{`{"key":{"type":"integer","minInteger":0,"maxInteger":10}}`, `11`, "", `{"details":"11 is not in the valid range 0 to 10 (inclusive)","error":"constraint violation"}`},
		{`{"key":{"type":"string","enum":["set",["a","b c"]]}}`, `"x"`, "", `{"details":"x is not one of the allowed values ([a, \"b c\"])","error":"constraint violation"}`},
		{`{"key":{"type":"string","maxLength":2}}`, `"abc"`, "", `{"details":"\"abc\" length 3 is greater than maximum allowed length 2","error":"constraint violation"}`},
	}
	for _, c := range cases {
		typ := mustType(t, c.typ)
		js, err := schema.DecodeJSON([]byte(c.in))
		require.NoError(t, err)
		d, err := schema.ParseDatum(typ, js, nil)
		if c.err != "" {
			require.Error(t, err, c.in)
			require.JSONEq(t, c.err, string(cjson.Marshal(ovsdberr.ToJSON(err))), c.in)
			continue
		}
		require.NoError(t, err, c.in)
		require.Equal(t, c.out, string(cjson.Marshal(schema.DatumToJSON(typ, d))), c.in)
	}
}

func TestUUIDOrderMatchesText(t *testing.T) {
	a, b := schema.NewUUID(), schema.NewUUID()
	require.Equal(t, schema.CompareAtoms(a, b) < 0, a.String() < b.String())
	p, err := schema.ParseUUID(a.String())
	require.NoError(t, err)
	require.Equal(t, a, p)
	_, err = schema.ParseUUID("not-a-uuid")
	require.Error(t, err)
}

func TestJSONNumber(t *testing.T) {
	for in, want := range map[string]bool{"1": true, "1.0": true, "1e3": true, "1.5": false, "1e400": false, "9223372036854775808": false, "-9223372036854775808": true} {
		_, _, isInt, _ := schema.JSONNumber(json.Number(in))
		require.Equal(t, want, isInt, in)
	}
}

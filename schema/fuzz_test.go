package schema_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// FuzzParseSchema: any input either fails with an error or parses into a
// schema whose canonical JSON parses again to the same canonical JSON.
func FuzzParseSchema(f *testing.F) {
	for _, p := range []string{"testdata/all-types.ovsschema"} {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"key":"integer","max":"unlimited"}}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := schema.ParseSchemaBytes(data)
		if err != nil {
			return
		}
		canon := cjson.Marshal(s.ToJSON())
		s2, err := schema.ParseSchemaBytes(canon)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, canon)
		}
		if got := cjson.Marshal(s2.ToJSON()); string(got) != string(canon) {
			t.Fatalf("canonical form not stable:\n%s\n%s", canon, got)
		}
	})
}

// FuzzParseDatum parses arbitrary JSON as a datum of every column type of
// the all-types schema; a parsed datum must survive a JSON round trip.
func FuzzParseDatum(f *testing.F) {
	b, err := os.ReadFile("testdata/all-types.ovsschema")
	require.NoError(f, err)
	s, err := schema.ParseSchemaBytes(b)
	require.NoError(f, err)
	var types []*schema.Type
	for _, tn := range s.TableNames {
		for _, c := range s.Tables[tn].Columns {
			types = append(types, &c.Type)
		}
	}
	for _, seed := range []string{`1`, `"red"`, `["set",["red","blue"]]`, `["map",[["a",1],["b",2]]]`,
		`["uuid","2f1b5c6a-3c3e-4a55-9b0c-1f2e3d4c5b6a"]`, `["set",[]]`, `1.5`, `1e3`, `true`,
		`["named-uuid","x"]`, `["map",[[1,["uuid","2f1b5c6a-3c3e-4a55-9b0c-1f2e3d4c5b6a"]]]]`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		js, err := schema.DecodeJSON(data)
		if err != nil {
			return
		}
		for _, typ := range types {
			d, err := schema.ParseDatum(typ, js, nil)
			if err != nil {
				continue
			}
			// Reals print with 15 significant digits, as in C, so the
			// first round trip may round; after it the form is stable.
			first := cjson.Marshal(schema.DatumToJSON(typ, d))
			back, err := schema.DecodeJSON(first)
			if err != nil {
				t.Fatalf("datum JSON does not decode: %v", err)
			}
			d2, err := schema.ParseDatum(typ, back, nil)
			if err != nil {
				t.Fatalf("round trip failed: %v (%s)", err, data)
			}
			if typ.Key.Type != schema.TypeReal && (typ.Value == nil || typ.Value.Type != schema.TypeReal) && !d.Equal(d2) {
				t.Fatalf("round trip changed datum: %s", data)
			}
			if second := cjson.Marshal(schema.DatumToJSON(typ, d2)); string(second) != string(first) {
				t.Fatalf("JSON form not stable: %s then %s", first, second)
			}
			_ = schema.DatumString(typ, d)
		}
	})
}

package ovsdb

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/stretchr/testify/require"
)

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// normalizer replaces random UUIDs by <N> in order of first appearance, as
// testdata/c_oracle.py does for the C server's replies.
type normalizer map[string]string

func (n normalizer) apply(s string) string {
	return uuidRE.ReplaceAllStringFunc(s, func(u string) string {
		if strings.Count(u[:8], u[:1]) == 8 { // fixed test UUIDs
			return u
		}
		if _, ok := n[u]; !ok {
			n[u] = "<" + itoa(len(n)) + ">"
		}
		return n[u]
	})
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func loadTestSchema(t testing.TB) *schema.DatabaseSchema {
	data, err := os.ReadFile("testdata/test.ovsschema")
	require.NoError(t, err)
	s, err := schema.ParseSchemaBytes(data)
	require.NoError(t, err)
	return s
}

func decode(t testing.TB, s string) any {
	v, err := schema.DecodeJSON([]byte(s))
	require.NoError(t, err)
	return v
}

// TestAgainstCServer replays testdata/cases.json and compares with the
// replies of the C ovsdb-server 3.1 recorded in testdata/expected.json
// (regenerate with testdata/c_oracle.py).
func TestAgainstCServer(t *testing.T) {
	casesData, err := os.ReadFile("testdata/cases.json")
	require.NoError(t, err)
	expData, err := os.ReadFile("testdata/expected.json")
	require.NoError(t, err)
	var cases []struct {
		Name  string
		Steps []json.RawMessage
	}
	require.NoError(t, json.Unmarshal(casesData, &cases))
	var expected map[string][]string
	require.NoError(t, json.Unmarshal(expData, &expected))
	s := loadTestSchema(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			db := NewDatabase(s, nil)
			n := normalizer{}
			exp := expected[c.Name]
			require.Len(t, exp, len(c.Steps))
			for i, step := range c.Steps {
				ops := decode(t, string(step)).([]any)
				got := n.apply(cjson.String(db.Transact(context.Background(), ops, TransactOptions{})))
				require.Equal(t, canonDup(exp[i]), canonDup(got), "step %d: %s", i, step)
			}
		})
	}
}

// dupRE matches the two row descriptions of a unique index violation. C
// orders them by comparing all columns in hash order, which starts with a
// random column (_version), so the order is not reproducible: compare them
// as a set.
var dupRE = regexp.MustCompile(`First row, (with UUID [^,]*, [^.]*(?:[^.]*\.)?)  Second row, (with UUID [^,]*, [^"]*)\.`)

func canonDup(s string) string {
	return dupRE.ReplaceAllStringFunc(s, func(m string) string {
		p := dupRE.FindStringSubmatch(m)
		a, b := p[1], p[2]+"."
		if a > b {
			a, b = b, a
		}
		return "ROW{" + a + "} ROW{" + b + "}"
	})
}

package schema_test

import (
	"math/rand"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// TestInvalidUTF8 checks C's utf8_validate messages (texts taken from the
// C server's replies to inserts of these strings).
func TestInvalidUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "",
		"abc":                  "",
		"é€😀\U0010FFFF\uFFFD":  "",
		"a\xffb":               "invalid UTF-8 sequence 0xff",
		"\xc0\x80":             "invalid UTF-8 sequence 0xc0",
		"\xc1\xbf":             "invalid UTF-8 sequence 0xc1",
		"\xed\xa0\x80":         "invalid UTF-8 sequence 0xed 0xa0",
		"\xed\xb0\x80x":        "invalid UTF-8 sequence 0xed 0xb0",
		"\xe2\x82":             "invalid UTF-8 sequence 0xe2 0x82 0x00",
		"\xe2\x82a":            "invalid UTF-8 sequence 0xe2 0x82 0x61",
		"\xe2":                 "invalid UTF-8 sequence 0xe2 0x00",
		"\xe0\x80\x80":         "invalid UTF-8 sequence 0xe0 0x80",
		"\xf4\x90\x80\x80":     "invalid UTF-8 sequence 0xf4 0x90",
		"\xf0\x80\x80\x80":     "invalid UTF-8 sequence 0xf0 0x80",
		"\xf0\x9f\x98":         "invalid UTF-8 sequence 0xf0 0x9f 0x98 0x00",
		"\x80":                 "invalid UTF-8 sequence 0x80",
		"\xf8\x88\x80\x80\x80": "invalid UTF-8 sequence 0xf8",
		"ok\xf5":               "invalid UTF-8 sequence 0xf5",
	} {
		require.Equal(t, want, schema.InvalidUTF8(in), "%q", in)
	}
	// Agrees with the standard library on validity.
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte{'a', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff}
	for i := 0; i < 100000; i++ {
		b := make([]byte, rng.Intn(6))
		for j := range b {
			b[j] = alphabet[rng.Intn(len(alphabet))]
		}
		require.Equal(t, utf8.Valid(b), schema.InvalidUTF8(string(b)) == "", "%q", b)
	}
}

// TestCheckAtomUTF8 checks the order of C's string checks: enum, then
// UTF-8, then length.
func TestCheckAtomUTF8(t *testing.T) {
	plain := schema.NewBaseType(schema.TypeString)
	err := schema.CheckAtom(&plain, "a\xffb")
	requireConstraint(t, err, "not a valid UTF-8 string: invalid UTF-8 sequence 0xff")

	short := schema.NewBaseType(schema.TypeString)
	short.MinLength = 2
	requireConstraint(t, schema.CheckAtom(&short, "\xff"), "not a valid UTF-8 string: invalid UTF-8 sequence 0xff")
	requireConstraint(t, schema.CheckAtom(&short, "é"), `"é" length 1 is less than minimum allowed length 2`)
	require.NoError(t, schema.CheckAtom(&short, strings.Repeat("é", 2)))
}

func requireConstraint(t *testing.T, err error, details string) {
	t.Helper()
	var oe *ovsdberr.Error
	require.ErrorAs(t, err, &oe)
	require.Equal(t, ovsdberr.TagConstraint, oe.Tag)
	require.Equal(t, details, oe.Details)
}

package schema

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIsValidID checks the hand-written identifier check against the
// regular expression it replaced.
func TestIsValidID(t *testing.T) {
	re := regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	for _, s := range []string{"", "a", "_", "A9", "9a", "a-b", "ab_c1", "é", "a\n", "\na", "x y",
		"Logical_Switch", "_uuid", "row0", "0"} {
		require.Equal(t, re.MatchString(s), IsValidID(s), "%q", s)
	}
}

// TestNewUUIDDistinct checks that buffered random UUIDs are version 4,
// variant 1 and never repeat, across several buffer refills.
func TestNewUUIDDistinct(t *testing.T) {
	seen := map[UUID]bool{}
	for i := 0; i < 2000; i++ {
		u := NewUUID()
		require.False(t, seen[u], "repeated UUID %s", u)
		seen[u] = true
		require.Equal(t, byte(0x40), u[6]&0xf0)
		require.Equal(t, byte(0x80), u[8]&0xc0)
	}
}

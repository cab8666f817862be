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

package schema

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUUIDAppend checks that Append writes String's text after b.
func TestUUIDAppend(t *testing.T) {
	for _, u := range []UUID{ZeroUUID, NewUUID(), {0xff, 0x01, 0xab, 0xcd, 0xef, 0x10, 0x42, 0, 0x80, 9, 1, 2, 3, 4, 5, 0xfe}} {
		require.Equal(t, "x"+u.String(), string(u.Append([]byte("x"))))
		p, err := ParseUUID(string(u.Append(nil)))
		require.NoError(t, err)
		require.Equal(t, u, p)
	}
	require.Equal(t, "ff01abcd-ef10-4200-8009-0102030405fe",
		UUID{0xff, 0x01, 0xab, 0xcd, 0xef, 0x10, 0x42, 0, 0x80, 9, 1, 2, 3, 4, 5, 0xfe}.String())
}

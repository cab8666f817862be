package cjson

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAppendMapSizes covers the one-member fast path and maps larger than
// the on-stack key buffer: members always come out sorted.
func TestAppendMapSizes(t *testing.T) {
	for _, n := range []int{0, 1, 2, 15, 16, 17, 40} {
		m := map[string]any{}
		for i := 0; i < n; i++ {
			m[fmt.Sprintf("k%03d", n-i)] = int64(i)
		}
		want, err := json.Marshal(m) // encoding/json sorts map keys too
		require.NoError(t, err)
		require.Equal(t, string(want), String(m), "n=%d", n)
	}
	require.Equal(t, `{"uuid":["uuid","x\"y"]}`, String(map[string]any{"uuid": []any{"uuid", `x"y`}}))
}

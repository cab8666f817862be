package standalone

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTuneGCDefault(t *testing.T) {
	if _, set := os.LookupEnv("GOGC"); set {
		t.Skip("GOGC is set in the environment: it must be left alone")
	}
	tuneGC()
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	require.Equal(t, defaultGCPercent, prev)
}

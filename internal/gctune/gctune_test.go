package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGCPercentFor(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, maxGCPercent},
		{1 << 20, maxGCPercent},
		{gcHeadroom / 4, maxGCPercent},
		{gcHeadroom / 2, 200},
		{gcHeadroom, 100},
		{gcHeadroom * 2, minGCPercent},
		{gcHeadroom * 3 / 2, 75},
		{1 << 34, minGCPercent},
	} {
		require.Equal(t, tc.want, gcPercentFor(tc.live), "live %d", tc.live)
	}
}

func TestTuneGCAdapts(t *testing.T) {
	_, gogc := os.LookupEnv("GOGC")
	_, limit := os.LookupEnv("GOMEMLIMIT")
	if gogc || limit {
		t.Skip("GOGC or GOMEMLIMIT is set in the environment: it must be left alone")
	}
	Start()
	// The target follows the live heap after each collection.
	start := gcCycles.Load()
	deadline := time.Now().Add(10 * time.Second)
	for gcCycles.Load() < start+2 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	require.GreaterOrEqual(t, gcCycles.Load(), start+2, "sentinel finalizer never ran")
	want := gcPercentFor(liveHeap())
	got := debug.SetGCPercent(want)
	require.Equal(t, int(gcPercent.Load()), got)
	require.InDelta(t, want, got, float64(want)/4+1)
}

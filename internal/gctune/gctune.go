package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// The GC target is adapted to the live heap unless the user set GOGC or
// GOMEMLIMIT. The committed
// database is a large, long-lived heap that every collection marks again,
// so a small heap gets a generous target (fewer collections: about a third
// less CPU under an insert-heavy load), while a large one gets a tight
// target, because resident memory is roughly live heap x (1 + GOGC/100):
// the allowed garbage is gcHeadroom bytes, expressed as a percentage of the
// live heap and clamped to [minGCPercent, maxGCPercent].
const (
	maxGCPercent = 400
	minGCPercent = 75
	gcHeadroom   = 32 << 20
)

var (
	gcOnce sync.Once
	// gcCycles counts the collections after which the target was
	// reassessed (for tests).
	gcCycles atomic.Int64
	// gcPercent is the target last applied.
	gcPercent atomic.Int64
)

// gcPercentFor returns the GC target for a live heap of live bytes.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return maxGCPercent
	}
	p := uint64(gcHeadroom) * 100 / live
	switch {
	case p > maxGCPercent:
		return maxGCPercent
	case p < minGCPercent:
		return minGCPercent
	}
	return int(p)
}

// Start starts adapting the GC target, once per process, unless GOGC or
// GOMEMLIMIT is set in the environment. Servers call it once a database
// (standalone or clustered) is open.
func Start() {
	gcOnce.Do(func() {
		if _, set := os.LookupEnv("GOGC"); set {
			return
		}
		if _, set := os.LookupEnv("GOMEMLIMIT"); set {
			return
		}
		adjustGC(liveHeap())
		armGCSentinel()
	})
}

// adjustGC applies the target for live bytes if it differs from the last.
func adjustGC(live uint64) {
	p := int64(gcPercentFor(live))
	if gcPercent.Swap(p) != p {
		debug.SetGCPercent(int(p))
	}
}

var liveSample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
var liveMu sync.Mutex

// liveHeap returns the heap marked live by the last collection.
func liveHeap() uint64 {
	liveMu.Lock()
	defer liveMu.Unlock()
	metrics.Read(liveSample)
	if liveSample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return liveSample[0].Value.Uint64()
}

// gcSentinel is an unreachable object whose finalizer runs after each
// collection; it reassesses the target and re-arms itself.
type gcSentinel struct{ _ *int }

func armGCSentinel() {
	runtime.SetFinalizer(&gcSentinel{}, func(*gcSentinel) {
		adjustGC(liveHeap())
		gcCycles.Add(1)
		armGCSentinel()
	})
}

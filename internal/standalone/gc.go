package standalone

import (
	"os"
	"runtime/debug"
	"sync"
)

// defaultGCPercent is the garbage collector target used once a database
// file is opened, unless the GOGC environment variable is set. The
// committed database is a large, long-lived heap that every collection
// marks again; collecting at 4x the live heap instead of 2x cuts that
// repeated marking (about a third of the CPU of an insert-heavy load) at
// the cost of more memory.
const defaultGCPercent = 400

var gcOnce sync.Once

// tuneGC applies defaultGCPercent once per process unless GOGC is set.
func tuneGC() {
	gcOnce.Do(func() {
		if _, set := os.LookupEnv("GOGC"); !set {
			debug.SetGCPercent(defaultGCPercent)
		}
	})
}

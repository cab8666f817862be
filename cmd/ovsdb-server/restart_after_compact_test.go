package main

import (
	"fmt"
	"math/rand"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClusterRestartAfterCompact: a member killed (kill -9) right after
// it compacted, while writers keep writing through it, never serves less
// after its restart than it served before the kill (the log behind its new
// snapshot is replayed up to the recorded applied position). Rounds
// alternate the victim (leader, follower) and the delay between the
// compaction and the kill; the others keep running.
func TestClusterRestartAfterCompact(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	tc := newTestCluster(t, 3)
	all := tc.members
	tc.waitMembers(all, 3)
	rounds := 6
	if s := os.Getenv("RESTART_COMPACT_ROUNDS"); s != "" {
		fmt.Sscan(s, &rounds)
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	var seq atomic.Int64
	for round := 0; round < rounds; round++ {
		ldr := tc.waitLeader(all)
		victim := ldr
		if round%2 == 1 {
			victim = without(all, ldr)[0]
		}
		// Writers through the victim (forwarded when it follows) and a
		// reader of its local state.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		loop := func(step func()) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
						step()
					}
				}
			}()
		}
		for w := 0; w < 3; w++ {
			loop(func() { _ = insertErr(victim, fmt.Sprintf("k%d", seq.Add(1))) })
		}
		var served atomic.Int64
		loop(func() {
			if got, err := keys(victim); err == nil && int64(len(got)) > served.Load() {
				served.Store(int64(len(got)))
			}
		})
		time.Sleep(150 * time.Millisecond)
		_, _ = tc.appctl(victim, "ovsdb-server/compact", "C")
		time.Sleep(time.Duration(rng.Intn(30)) * time.Millisecond)
		tc.kill(victim)
		close(stop)
		wg.Wait()
		tc.start(victim)
		first := tc.firstRead(victim)
		if len(first) < int(served.Load()) {
			b, _ := os.ReadFile(victim.log)
			t.Fatalf("round %d: %s served %d rows before the kill, %d after its restart\nlog:\n%s",
				round, victim.db, served.Load(), len(first), b)
		}
		tc.waitMembers(all, 3)
	}
}

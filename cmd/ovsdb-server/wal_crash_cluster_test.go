package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWALCrashDuringAppends: a 3-member cluster whose Raft logs are
// write-ahead logs (storage/raftstore, FILE.wal) takes writes from
// concurrent clients while members are killed with SIGKILL in the middle
// of their appends: a follower, the leader, then all three at once. Every
// write that was acknowledged is present, exactly once, on every member
// afterwards, so an acknowledged entry was durable in the WALs of a
// majority when it was acknowledged.
func TestWALCrashDuringAppends(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	// Inherited by the tools and servers the test starts.
	t.Setenv("OVSDB_GO_RAFT_WAL", "1")
	tc := newTestClusterSchema(t, 3, "C", robustSchema)
	all := tc.members
	tc.waitMembers(all, 3)
	for _, m := range all {
		segs, err := filepath.Glob(filepath.Join(m.db+".wal", "*.wal"))
		require.NoError(t, err)
		require.NotEmpty(t, segs, "%s has its log in a WAL", m.db)
	}

	var acked sync.Map
	// load runs writers through every member until stop is closed, each
	// adding its own keys one after the other (addKey retries through
	// the other members while one is down).
	load := func(round string, stop <-chan struct{}) func() {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					k := fmt.Sprintf("%s-w%d-%d", round, w, i)
					ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
					err := addKey(ctx, all, w+i, k)
					cancel()
					if err != nil {
						errs <- err
						return
					}
					acked.Store(k, true)
				}
			}()
		}
		return func() {
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("round %s: %v\n%s", round, err, tc.diagnose())
			}
		}
	}
	count := func() int {
		n := 0
		acked.Range(func(any, any) bool { n++; return true })
		return n
	}
	// waitMore waits until n more writes were acknowledged (bounded).
	waitMore := func(n int) {
		want := count() + n
		tc.waitFor(fmt.Sprintf("%d acknowledged writes", want), 60*time.Second, func() bool { return count() >= want })
	}

	for round, pick := range []string{"follower", "leader", "follower", "leader"} {
		name := fmt.Sprintf("r%d-%s", round, pick)
		stop := make(chan struct{})
		wait := load(name, stop)
		waitMore(30)
		ldr := tc.waitLeader(all)
		victim := ldr
		if pick == "follower" {
			victim = without(all, ldr)[0]
		}
		tc.kill(victim) // SIGKILL while the writers keep appending
		waitMore(20)    // the other two go on
		tc.start(victim)
		tc.waitMembers(all, 3)
		waitMore(20)
		close(stop)
		wait()
	}

	// All three at once, under load.
	stop := make(chan struct{})
	wait := load("all", stop)
	waitMore(50)
	for _, m := range all {
		_ = m.cmd.Process.Signal(os.Kill)
	}
	for _, m := range all {
		tc.kill(m) // waits for the exit
	}
	for _, m := range all {
		tc.start(m)
	}
	tc.waitMembers(all, 3)
	waitMore(20)
	close(stop)
	wait()

	require.Greater(t, count(), 200)
	tc.requireExactlyOnce(all, &acked)
}

package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClusterTorture is issue 4's torture test, in the spirit of C's
// "OVSDB cluster - torture": 10 concurrent writers each add 50 distinct
// keys, key j of writer w through member (w+j) mod 3, while members are
// killed with SIGKILL (leader or follower, in turn) and restarted. Writers
// retry through other members with a guarded insert (see addKey). At the
// end all 500 keys are on every member, each exactly once.
func TestClusterTorture(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	const n, writers, perWriter = 3, 10, 50
	tc := newTestClusterSchema(t, n, "C", robustSchema)
	all := tc.members
	tc.waitMembers(all, n)

	var acked sync.Map
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	done := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perWriter; j++ {
				k := fmt.Sprintf("torture-%d-%d", w, j)
				if err := addKey(ctx, all, w+j, k); err != nil {
					errs <- err
					return
				}
				acked.Store(k, true)
				// Pace the writers so that their work spans several
				// kill/restart rounds.
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	// Kill and restart members in turn until the writers are done (at
	// most maxKills times: each leader kill stalls writes for an election).
	const maxKills = 10
	kills := 0
	running := func() bool {
		select {
		case <-done:
			return false
		default:
			return true
		}
	}
	for i := 0; running() && kills < maxKills; i++ {
		var victim *member
		if i%3 == 0 {
			victim = tc.leader(all) // may be nil during an election
		}
		if victim == nil {
			victim = all[i%n]
		}
		tc.kill(victim)
		kills++
		select {
		case <-done:
		case <-time.After(300 * time.Millisecond):
		}
		tc.start(victim)
		tc.waitMembers(all, n)
	}
	select {
	case <-done:
	case <-time.After(3 * time.Minute): // addKey gives up at ctx's 120 s
		t.Fatalf("writers not done after 3 minutes\n%s", tc.diagnose())
	}
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v\n%s", err, tc.diagnose())
	}
	require.GreaterOrEqual(t, kills, 2, "writers finished before the members were killed")
	t.Logf("%d kills during the writes", kills)

	total := 0
	acked.Range(func(_, _ any) bool { total++; return true })
	require.Equal(t, writers*perWriter, total)
	tc.requireExactlyOnce(all, &acked)
}

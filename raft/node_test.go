package raft

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

func TestEntryRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		e    Entry
	}{
		{"plain", Entry{TxnID: schema.NewUUID(), DB: "T", Ops: decodeOps(t, `[{"op":"insert","table":"K","row":{"k":"<&>","w":1.5e3}}]`)}},
		{"locks and times", Entry{TxnID: schema.NewUUID(), Seed: [16]byte{9}, DB: "OVN_Northbound",
			Ops:   decodeOps(t, `[{"op":"assert","lock":"l"},{"op":"comment","comment":"é\u0001"}]`),
			Locks: []string{"l", ""}, TimeMS: 1700000000000, ElapsedMS: 42}},
		{"no ops", Entry{DB: "", Ops: []any{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.e.MarshalBinary()
			require.NoError(t, err)
			got, err := DecodeEntry(b)
			require.NoError(t, err)
			require.Equal(t, tc.e.TxnID, got.TxnID)
			require.Equal(t, tc.e.Seed, got.Seed)
			require.Equal(t, tc.e.DB, got.DB)
			require.Equal(t, tc.e.Locks, got.Locks)
			require.Equal(t, tc.e.TimeMS, got.TimeMS)
			require.Equal(t, tc.e.ElapsedMS, got.ElapsedMS)
			require.Equal(t, string(cjson.Marshal(tc.e.Ops)), string(cjson.Marshal(got.Ops)))
			for i := 0; i < len(b)-1; i++ {
				_, _ = DecodeEntry(b[:i]) // truncations must not panic
			}
		})
	}
	_, err := DecodeEntry([]byte{2, 0})
	require.Error(t, err)
}

// memSink is a SnapshotSink in memory.
type memSink struct{ bytes.Buffer }

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { return nil }
func (s *memSink) Close() error  { return nil }

func entryBytes(t *testing.T, e *Entry) []byte {
	b, err := e.MarshalBinary()
	require.NoError(t, err)
	return b
}

func TestFSMDedupeSnapshotRestore(t *testing.T) {
	f := NewFSM(testSchema(t), 2)
	e1 := &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: insertOps(t, "a")}
	r1 := f.Apply(&hraft.Log{Index: 3, Data: entryBytes(t, e1)}).(*ApplyResult)
	require.False(t, r1.Duplicate)
	require.Len(t, r1.Reply, 2)
	// Same id again: the old reply, nothing executed.
	r1b := f.Apply(&hraft.Log{Index: 4, Data: entryBytes(t, e1)}).(*ApplyResult)
	require.True(t, r1b.Duplicate)
	require.Equal(t, r1.Reply, r1b.Reply)
	require.Equal(t, []string{"a"}, keys(f.Database()))
	require.Equal(t, uint64(4), f.AppliedIndex())

	// An assert is decided by the proposer's recorded locks.
	ea := &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: decodeOps(t, `[{"op":"assert","lock":"x"},{"op":"insert","table":"K","row":{"k":"b"}}]`)}
	ra := f.Apply(&hraft.Log{Index: 5, Data: entryBytes(t, ea)}).(*ApplyResult)
	require.Equal(t, `[{"details":"Asserted lock x not held.","error":"not owner"},null]`, string(cjson.Marshal(ra.Reply)))
	ea2 := *ea
	ea2.TxnID, ea2.Locks = schema.NewUUID(), []string{"x"}
	ra2 := f.Apply(&hraft.Log{Index: 6, Data: entryBytes(t, &ea2)}).(*ApplyResult)
	require.Len(t, ra2.Reply, 2)
	require.Equal(t, []string{"a", "b"}, keys(f.Database()))

	// A wrong database or a corrupt entry executes nothing.
	bad := f.Apply(&hraft.Log{Index: 7, Data: entryBytes(t, &Entry{TxnID: schema.NewUUID(), DB: "X", Ops: insertOps(t, "c")})}).(*ApplyResult)
	require.Error(t, bad.Err)
	require.Error(t, f.Apply(&hraft.Log{Index: 8, Data: []byte{1, 2}}).(*ApplyResult).Err)

	snap, err := f.Snapshot()
	require.NoError(t, err)
	var sink memSink
	require.NoError(t, snap.Persist(&sink))

	// Restore into an FSM holding other rows: they disappear.
	g := NewFSM(testSchema(t), 2)
	g.Apply(&hraft.Log{Index: 1, Data: entryBytes(t, &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: insertOps(t, "zz")})})
	db := g.Database()
	require.NoError(t, g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))))
	require.Same(t, db, g.Database())
	require.Equal(t, dumpDB(f.Database()), dumpDB(g.Database()))
	require.Equal(t, uint64(8), g.AppliedIndex())
	// The dedupe table survived (size 2: e1 was evicted by ea and ea2).
	r := g.Apply(&hraft.Log{Index: 9, Data: entryBytes(t, &ea2)}).(*ApplyResult)
	require.True(t, r.Duplicate)
	require.Equal(t, string(cjson.Marshal(ra2.Reply)), string(cjson.Marshal(r.Reply)))
	r = g.Apply(&hraft.Log{Index: 10, Data: entryBytes(t, e1)}).(*ApplyResult)
	require.False(t, r.Duplicate)
	require.Contains(t, string(cjson.Marshal(r.Reply)), "timed out") // the wait saw "a"
}

func TestClusterWritersAndLeaderLoss(t *testing.T) {
	for _, size := range []int{3, 5} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c := newCluster(t, size, 0)
			c.leader()
			write := func(round int) {
				var wg sync.WaitGroup
				for w, n := range c.running() {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for k := 0; k < 10; k++ {
							key := fmt.Sprintf("r%d-w%d-k%d", round, w, k)
							res := c.transact(n, insertOps(t, key))
							require.Len(t, res, 2, "%s: %s", key, cjson.Marshal(res))
							// Read-your-write on the member that answered.
							sel := c.transact(n, decodeOps(t, `[{"op":"select","table":"K","where":[["k","==","`+key+`"]],"columns":["k"]}]`))
							require.Equal(t, `[{"rows":[{"k":"`+key+`"}]}]`, string(cjson.Marshal(sel)))
						}
					}()
				}
				wg.Wait()
			}
			write(0)
			c.converge()
			old := c.leader()
			c.stop(old)
			nl := c.leader()
			require.NotEqual(t, old, nl)
			write(1)
			c.start(old)
			c.converge()
			ks := keys(c.node(nl).Database())
			require.Len(t, ks, 10*size+10*(size-1))
			for i := 1; i < len(ks); i++ {
				require.NotEqual(t, ks[i-1], ks[i], "applied twice")
			}
			st, err := c.node(nl).Status()
			require.NoError(t, err)
			require.Equal(t, "leader", st.Role)
			require.Equal(t, c.members[nl].id, st.LeaderID)
			require.Equal(t, c.members[nl].id, st.Vote)
			require.Len(t, st.Servers, size)
			require.GreaterOrEqual(t, st.LogLast, st.CommitIndex)
			require.Equal(t, st.CommitIndex, st.AppliedIndex)
			require.LessOrEqual(t, c.node(nl).AppliedIndex(), st.AppliedIndex)
		})
	}
}

func TestRetrySameTxnAfterLeaderLoss(t *testing.T) {
	c := newCluster(t, 3, 0)
	li := c.leader()
	e := &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: decodeOps(t, `[{"op":"insert","table":"K","row":{"k":"once"}}]`)}
	data := entryBytes(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), stepLimit)
	defer cancel()
	replies, _, err := c.node(li).propose(ctx, data)
	require.NoError(t, err, c.state())
	require.Len(t, replies, 1)
	reply := replies[0]
	require.NotNil(t, reply, "not blocked")
	c.stop(li)
	other := (li + 1) % 3
	// The proposer lost the answer and retries the same entry through
	// another member: the remembered reply, no second row.
	replies2, pos, err := c.node(other).propose(ctx, data)
	require.NoError(t, err, c.state())
	require.Equal(t, string(cjson.Marshal(reply)), string(cjson.Marshal(replies2[0])))
	require.True(t, c.node(other).fsm.waitApplied(ctx, nil, pos.Index))
	require.Equal(t, []string{"once"}, keys(c.node(other).Database()))
	c.start(li)
	c.converge()
	require.Equal(t, []string{"once"}, keys(c.node(li).Database()))
}

func TestBlockedWaitReproposed(t *testing.T) {
	c := newCluster(t, 3, 0)
	li := c.leader()
	fol := c.node((li + 1) % 3)
	ctx, cancel := context.WithTimeout(context.Background(), stepLimit)
	defer cancel()
	done := make(chan []any, 1)
	go func() {
		done <- fol.Transact(ctx, decodeOps(t, `[{"op":"wait","table":"K","where":[["k","==","go"]],"columns":["k"],"until":"==","rows":[{"k":"go"}],"timeout":20000},
			{"op":"insert","table":"K","row":{"k":"after"}}]`), ovsdb.TransactOptions{})
	}()
	res := c.node(li).Transact(ctx, decodeOps(t, `[{"op":"insert","table":"K","row":{"k":"go"}}]`), ovsdb.TransactOptions{})
	require.Len(t, res, 1)
	select {
	case r := <-done:
		require.Len(t, r, 2, string(cjson.Marshal(r)))
	case <-time.After(20 * time.Second):
		t.Fatalf("blocked transaction never completed\n%s", c.state())
	}
	c.converge()
	require.Equal(t, []string{"after", "go"}, keys(fol.Database()))
	// A wait that cannot be satisfied times out.
	r := fol.Transact(ctx, decodeOps(t, `[{"op":"wait","table":"K","where":[],"columns":["k"],"until":"==","rows":[],"timeout":50},
		{"op":"insert","table":"K","row":{"k":"never"}}]`), ovsdb.TransactOptions{})
	require.Contains(t, string(cjson.Marshal(r)), `"error":"timed out"`)
}

func TestSnapshotInstallAndRestart(t *testing.T) {
	c := newCluster(t, 3, 20)
	li := c.leader()
	fi := (li + 1) % 3
	for i := 0; i < 30; i++ {
		require.Len(t, c.transact(c.node(li), insertOps(t, fmt.Sprintf("a%d", i))), 2)
	}
	c.converge()
	c.stop(fi)
	for i := 0; i < 60; i++ {
		require.Len(t, c.transact(c.node(li), insertOps(t, fmt.Sprintf("b%d", i))), 2)
	}
	// Compact the leader's log past what the stopped member has.
	require.NoError(t, c.node(li).Raft().Snapshot().Error())
	st, err := c.node(li).Status()
	require.NoError(t, err)
	require.Greater(t, st.LogFirst, uint64(40))
	c.start(fi)
	want := c.converge()
	require.Len(t, keys(c.node(fi).Database()), 90)
	// Restart every member from its stores: the state comes back.
	for i := range c.members {
		c.stop(i)
	}
	for i := range c.members {
		c.start(i)
	}
	require.Equal(t, want, c.converge())
}

// TestTorture: 10 writers add 50 keys each through the 5 members in turn
// while members are stopped and restarted, every third time the leader.
// Every key must end up on every member exactly once. Under CPU load it
// used to stall for ever (issue 9: a forwarding cycle between two members'
// batchers after a leader change, TestForwardCycleAfterLeaderChange); each
// step is bounded and fails with the members' states, the writers'
// progress and the package's goroutines.
func TestTorture(t *testing.T) {
	const writers, perWriter, size = 10, 50, 5
	const writeLimit = 2 * time.Minute // ~1 s idle, a few seconds with two CPU burners
	c := newCluster(t, size, 64)
	c.leader()
	ctx := context.Background()
	stopChaos := make(chan struct{})
	chaosDone := make(chan struct{})
	threeRestarts := make(chan struct{})
	var restarts atomic.Int64
	go func() {
		defer close(chaosDone)
		for i := 0; ; i++ {
			if i == 3 {
				close(threeRestarts)
			}
			select {
			case <-stopChaos:
				return
			case <-time.After(80 * time.Millisecond):
			}
			victim := i % size
			if i%3 == 0 {
				if li := c.leaderNow(); li >= 0 {
					victim = li
				}
			}
			c.stop(victim)
			time.Sleep(50 * time.Millisecond)
			c.start(victim)
			restarts.Add(1)
		}
	}()
	// progress[w]: the key writer w is adding and its attempt, or "done".
	var progressMu sync.Mutex
	progress := make([]string, writers)
	setProgress := func(w int, s string) {
		progressMu.Lock()
		progress[w] = s
		progressMu.Unlock()
	}
	describe := func() string {
		progressMu.Lock()
		defer progressMu.Unlock()
		var b strings.Builder
		fmt.Fprintf(&b, "%d restarts; writers:", restarts.Load())
		for w, p := range progress {
			fmt.Fprintf(&b, "\n  w%d: %s", w, p)
		}
		return b.String()
	}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < perWriter; k++ {
				key := fmt.Sprintf("w%d-k%d", w, k)
				var last string
				for attempt := 0; ; attempt++ {
					if attempt == 200 {
						t.Errorf("key %s never acknowledged in 200 attempts (last: %s)", key, last)
						return
					}
					mi := (w + attempt) % size
					setProgress(w, fmt.Sprintf("key %s attempt %d through s%d (last: %s)", key, attempt, mi, last))
					n := c.node(mi)
					if n == nil {
						last = "member stopped"
						continue
					}
					tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					res := n.Transact(tctx, insertOps(t, key), ovsdb.TransactOptions{})
					cancel()
					js := string(cjson.Marshal(res))
					if len(res) == 2 && res[1] != nil {
						break // inserted
					}
					if len(res) == 2 && strings.Contains(js, `"timed out"`) {
						break // an earlier attempt did it
					}
					last = js
				}
			}
			setProgress(w, "done")
		}()
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()
	select {
	case <-writersDone:
	case <-time.After(writeLimit):
		t.Fatalf("writers not done after %v\n%s\n%s\ngoroutines:\n%s", writeLimit, describe(), c.state(), raftStacks())
	}
	require.False(t, t.Failed(), describe())
	select {
	case <-threeRestarts: // the writers ran while members were restarted
	case <-time.After(time.Minute):
		t.Fatalf("fewer than three restarts after a minute\n%s\n%s", describe(), c.state())
	}
	close(stopChaos)
	select {
	case <-chaosDone:
	case <-time.After(time.Minute):
		t.Fatalf("the restart loop did not stop within a minute\n%s\ngoroutines:\n%s", c.state(), raftStacks())
	}
	for i := range c.members {
		if c.node(i) == nil {
			c.start(i)
		}
	}
	c.converge()
	for _, n := range c.running() {
		ks := keys(n.Database())
		require.Len(t, ks, writers*perWriter, "member %s", n.cfg.ID)
		for i := 1; i < len(ks); i++ {
			require.NotEqual(t, ks[i-1], ks[i], "member %s", n.cfg.ID)
		}
	}
}

// TestBlockedWaitHooksAndShutdown: a blocked clustered transaction calls
// the session's hooks as the engine's Transact does (Waiting before each
// proposal, then Blocked, Retry alternating), and answers C's cluster
// error when its member closes while it waits.
func TestBlockedWaitHooksAndShutdown(t *testing.T) {
	c := newCluster(t, 3, 0)
	li := c.leader()
	fi := (li + 1) % 3
	fol := c.node(fi)
	ctx, cancel := context.WithTimeout(context.Background(), stepLimit)
	defer cancel()
	var mu sync.Mutex
	var calls []string
	blocked := make(chan struct{}, 16)
	record := func(s string) func() {
		return func() {
			mu.Lock()
			calls = append(calls, s)
			mu.Unlock()
			if s == "blocked" {
				blocked <- struct{}{}
			}
		}
	}
	hctx := ovsdb.WithBlockHooks(ctx, ovsdb.BlockHooks{
		Blocked: record("blocked"), Retry: record("retry"), Waiting: record("waiting")})
	done := make(chan []any, 1)
	go func() {
		// No timeout: only a change or the member's end ends the wait.
		done <- fol.Transact(hctx, decodeOps(t, `[{"op":"wait","table":"K","where":[["k","==","go"]],"columns":["k"],"until":"==","rows":[{"k":"go"}]},
			{"op":"insert","table":"K","row":{"k":"after"}}]`), ovsdb.TransactOptions{})
	}()
	<-blocked
	// A change that does not satisfy the wait: proposed again, blocked again.
	require.Len(t, c.node(li).Transact(ctx, insertOps(t, "other"), ovsdb.TransactOptions{}), 2)
	<-blocked
	c.stop(fi)
	select {
	case r := <-done:
		require.Equal(t, `[{"details":"raft: member is shut down","error":"ovsdb error"}]`, string(cjson.Marshal(r)))
	case <-time.After(20 * time.Second):
		t.Fatalf("blocked transaction not answered after close\n%s", c.state())
	}
	mu.Lock()
	defer mu.Unlock()
	// Waiting, Blocked, Retry for each proposal (at least the two above;
	// another entry applied meanwhile would add a cycle).
	require.GreaterOrEqual(t, len(calls), 6, calls)
	for i, s := range calls {
		require.Equal(t, []string{"waiting", "blocked", "retry"}[i%3], s, calls)
	}
	require.Zero(t, len(calls)%3, calls)
}

// TestFSMRestoreOlderSnapshotKeepsState: a snapshot older than the
// applied index (a leader's install reaching a member that applied further
// by catchUp or the start-up replay) leaves the state and the index as
// they are: the member never goes back to an older state.
func TestFSMRestoreOlderSnapshotKeepsState(t *testing.T) {
	f := NewFSM(testSchema(t), 4)
	f.Apply(&hraft.Log{Index: 3, Data: entryBytes(t, &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: insertOps(t, "a")})})
	snap, err := f.Snapshot()
	require.NoError(t, err)
	var sink memSink
	require.NoError(t, snap.Persist(&sink))
	f.Apply(&hraft.Log{Index: 4, Data: entryBytes(t, &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: insertOps(t, "b")})})
	require.NoError(t, f.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))))
	require.Equal(t, []string{"a", "b"}, keys(f.Database()))
	require.Equal(t, uint64(4), f.AppliedIndex())

	// The same snapshot restores into a member behind it.
	g := NewFSM(testSchema(t), 4)
	require.NoError(t, g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))))
	require.Equal(t, []string{"a"}, keys(g.Database()))
	require.Equal(t, uint64(3), g.AppliedIndex())
}

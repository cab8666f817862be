package raft

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

func TestBatchEncoding(t *testing.T) {
	e1 := entryBytes(t, &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: insertOps(t, "a")})
	e2 := entryBytes(t, &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: []any{}})
	b := encodeBatch([][]byte{e1, e2, e1})
	parts, err := splitBatch(b)
	require.NoError(t, err)
	require.Equal(t, [][]byte{e1, e2, e1}, parts)

	// A single entry is its own one-part batch.
	parts, err = splitBatch(e1)
	require.NoError(t, err)
	require.Equal(t, [][]byte{e1}, parts)

	// Every truncation, and trailing bytes, are errors (never a panic).
	for i := 1; i < len(b); i++ {
		_, err := splitBatch(b[:i])
		require.Error(t, err, "truncated at %d", i)
	}
	_, err = splitBatch(append(append([]byte{}, b...), 0))
	require.Error(t, err)
	_, err = splitBatch([]byte{batchVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	require.Error(t, err, "count larger than the data")
}

// TestFSMAppliesBatch: a batch executes its transactions in order, each
// with its own reply, dedupe and "wait" outcome, under one log index.
func TestFSMAppliesBatch(t *testing.T) {
	f := NewFSM(testSchema(t), 0)
	ea := &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: insertOps(t, "a")}
	blocked := &Entry{TxnID: schema.NewUUID(), DB: "T", ElapsedMS: 0,
		Ops: decodeOps(t, `[{"op":"wait","table":"K","where":[["k","==","never"]],"columns":["k"],"until":"!=","rows":[],"timeout":1000}]`)}
	// insertOps' wait sees "a" inserted by the first transaction.
	eaAgain := &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: insertOps(t, "a")}
	eb := &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: insertOps(t, "b")}
	data := encodeBatch([][]byte{entryBytes(t, ea), entryBytes(t, blocked), entryBytes(t, ea), entryBytes(t, eaAgain), entryBytes(t, eb)})

	res, ok := f.Apply(&hraft.Log{Index: 5, Data: data}).([]*ApplyResult)
	require.True(t, ok, "a batch answers one result per transaction")
	require.Len(t, res, 5)
	require.Len(t, res[0].Reply, 2)
	require.True(t, res[1].Blocked)
	require.True(t, res[2].Duplicate, "same transaction id later in the batch")
	require.Equal(t, string(cjson.Marshal(res[0].Reply)), string(cjson.Marshal(res[2].Reply)))
	require.Contains(t, string(cjson.Marshal(res[3].Reply)), "timed out", "saw a's insert from the same batch")
	require.Len(t, res[4].Reply, 2)
	require.Equal(t, []string{"a", "b"}, keys(f.Database()))
	require.Equal(t, uint64(5), f.AppliedIndex())

	// A corrupt batch executes nothing.
	bad := f.Apply(&hraft.Log{Index: 6, Data: data[:len(data)-3]}).(*ApplyResult)
	require.Error(t, bad.Err)
	require.Equal(t, []string{"a", "b"}, keys(f.Database()))
}

// holdSlot occupies b's leader slots (b must be the leader's), so
// submitted transactions queue; the returned function waits until want
// transactions are queued and then proposes them as one batch in one of
// those slots.
func holdSlot(t *testing.T, b *batcher) (release func(want int)) {
	b.mu.Lock()
	b.local += b.max
	b.mu.Unlock()
	return func(want int) {
		eventually(t, fmt.Sprintf("%d queued transactions", want), func() bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			return len(b.queue) == want
		})
		b.mu.Lock()
		r := &batchRun{waiters: b.takeLocked(), local: true}
		b.local -= b.max - 1
		b.mu.Unlock()
		go b.run(r)
	}
}

// TestBatcherGroupsTransactions: transactions received on the leader and
// forwarded by a follower while a batch is in flight are committed as one
// log entry, each with its own reply, applied once on every member.
// (TestFollowerBatches covers a follower's own batching.)
func TestBatcherGroupsTransactions(t *testing.T) {
	c := newCluster(t, 3, 0)
	li := c.leader()
	leader, fol := c.node(li), c.node((li+1)%3)
	c.converge()
	start := leader.Raft().LastIndex()

	release := holdSlot(t, leader.batch)
	const onLeader, onFollower = 6, 4
	var wg sync.WaitGroup
	replies := make([][]any, onLeader+onFollower)
	for i := range onLeader + onFollower {
		n := leader
		if i >= onLeader {
			n = fol
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			replies[i] = n.Transact(ctx, insertOps(t, fmt.Sprintf("k%02d", i)), ovsdb.TransactOptions{})
		}()
	}
	// The follower forwards each transaction at once (fewer than
	// MaxForwardInFlight in flight); they all queue on the leader.
	release(onLeader + onFollower)
	wg.Wait()
	end := leader.Raft().LastIndex()

	uuids := map[string]bool{}
	for i, r := range replies {
		require.Len(t, r, 2, "transaction %d: %v", i, r)
		id := string(cjson.Marshal(r[1]))
		require.Contains(t, id, "uuid")
		require.False(t, uuids[id], "distinct rows")
		uuids[id] = true
	}
	c.converge()
	// One log entry for the ten transactions.
	require.Equal(t, start+1, end)
	want := []string{}
	for i := range onLeader + onFollower {
		want = append(want, fmt.Sprintf("k%02d", i))
	}
	for _, n := range c.running() {
		require.Equal(t, strings.Join(want, ","), strings.Join(keys(n.Database()), ","))
	}
}

// FuzzApplyEntry feeds arbitrary log entry data to the FSM: it must answer
// (an error for what it cannot decode), never panic.
func FuzzApplyEntry(f *testing.F) {
	s, err := schema.ParseSchemaBytes([]byte(testSchemaJSON))
	if err != nil {
		f.Fatal(err)
	}
	one, err := (&Entry{TxnID: schema.NewUUID(), DB: "T", Ops: []any{map[string]any{"op": "insert", "table": "K", "row": map[string]any{"k": "x"}}}}).MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(one)
	f.Add(encodeBatch([][]byte{one, one}))
	f.Add([]byte{batchVersion, 1, 3, 1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		fsm := NewFSM(s, 4)
		switch r := fsm.Apply(&hraft.Log{Index: 1, Data: data}).(type) {
		case *ApplyResult:
			require.NotNil(t, r)
		case []*ApplyResult:
			for _, x := range r {
				require.NotNil(t, x)
			}
		default:
			t.Fatalf("unexpected result %T", r)
		}
		require.Equal(t, uint64(1), fsm.AppliedIndex())
	})
}

// TestFSMCatchUp: a follower applies committed entries it holds as soon as
// the leader's answer names them (index and term), and hashicorp/raft's
// later Apply of the same entries changes nothing.
func TestFSMCatchUp(t *testing.T) {
	logs := hraft.NewInmemStore()
	put := func(i, term uint64, typ hraft.LogType, key string) *hraft.Log {
		l := &hraft.Log{Index: i, Term: term, Type: typ}
		if typ == hraft.LogCommand {
			l.Data = entryBytes(t, &Entry{TxnID: schema.NewUUID(), DB: "T", Ops: insertOps(t, key)})
		}
		require.NoError(t, logs.StoreLog(l))
		return l
	}
	l1 := put(1, 2, hraft.LogCommand, "a")
	put(2, 2, hraft.LogNoop, "")
	l3 := put(3, 2, hraft.LogCommand, "b")
	l4 := put(4, 3, hraft.LogCommand, "c")

	f := NewFSM(testSchema(t), 0)
	f.catchUp(logs, Position{Index: 3, Term: 3}) // term differs: not the leader's entry
	require.Zero(t, f.AppliedIndex())
	f.catchUp(logs, Position{Index: 9, Term: 3}) // not held here
	require.Zero(t, f.AppliedIndex())
	f.catchUp(logs, Position{Index: 3}) // no term: unknown
	require.Zero(t, f.AppliedIndex())

	f.catchUp(logs, Position{Index: 3, Term: 2})
	require.Equal(t, uint64(3), f.AppliedIndex())
	require.Equal(t, []string{"a", "b"}, keys(f.Database()))
	// hashicorp/raft applies them later: skipped.
	for _, l := range []*hraft.Log{l1, l3} {
		r := f.Apply(l).(*ApplyResult)
		require.ErrorIs(t, r.Err, errAlreadyApplied)
	}
	require.Equal(t, []string{"a", "b"}, keys(f.Database()))
	// The next entry goes through Apply as usual.
	r, ok := f.Apply(l4).(*ApplyResult)
	require.True(t, ok)
	require.NoError(t, r.Err)
	require.Equal(t, []string{"a", "b", "c"}, keys(f.Database()))
	require.Equal(t, uint64(4), f.AppliedIndex())
}

// TestFollowerBatches: a follower with its forwards in flight at the limit
// queues further transactions and forwards them as one batch.
func TestFollowerBatches(t *testing.T) {
	c := newCluster(t, 3, 0)
	li := c.leader()
	leader, fol := c.node(li), c.node((li+1)%3)
	c.converge()
	fol.batch.maxForward = 1
	release := holdSlot(t, leader.batch)
	const n = 5
	var wg sync.WaitGroup
	replies := make([][]any, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			replies[i] = fol.Transact(ctx, insertOps(t, fmt.Sprintf("f%d", i)), ovsdb.TransactOptions{})
		}()
	}
	// One forwarded (waiting on the leader), four queued on the follower.
	c.eventually("follower queue", func() bool {
		fol.batch.mu.Lock()
		defer fol.batch.mu.Unlock()
		return len(fol.batch.queue) == n-1
	})
	start := leader.Raft().LastIndex()
	release(1)
	wg.Wait()
	// The first alone, then the other four as one forwarded batch.
	require.Equal(t, start+2, leader.Raft().LastIndex())
	for i, r := range replies {
		require.Len(t, r, 2, "transaction %d: %v", i, r)
	}
	c.converge()
	require.Equal(t, "f0,f1,f2,f3,f4", strings.Join(keys(leader.Database()), ","))
}

// TestCatchUpSnapshotRestart: a follower's state applied ahead of
// hashicorp/raft by catch-up survives a snapshot taken at that moment and
// a restart from it: nothing applied twice, nothing lost.
func TestCatchUpSnapshotRestart(t *testing.T) {
	c := newCluster(t, 3, 0)
	li := c.leader()
	fi := (li + 1) % 3
	for i := range 20 {
		// A plain insert: executed twice, it would add a second row.
		ops := decodeOps(t, fmt.Sprintf(`[{"op":"insert","table":"K","row":{"k":"s%02d"}}]`, i))
		r := c.transact(c.node(fi), ops)
		require.Len(t, r, 1, "%v", r)
		if i == 9 {
			// Right after a catch-up, before hashicorp/raft delivered the
			// entry: the FSM's snapshot records its own index.
			require.NoError(t, c.node(fi).Raft().Snapshot().Error())
		}
	}
	want := c.converge()
	c.stop(fi)
	c.start(fi)
	require.Equal(t, want, c.converge())
	require.Len(t, keys(c.node(fi).Database()), 20)
}

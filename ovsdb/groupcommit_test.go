package ovsdb

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/stretchr/testify/require"
)

// gateCommitter is a GroupCommitter whose writes block until the test
// releases them with a result.
type gateCommitter struct {
	started chan []*ChangeSet // one per WriteBatch call
	release chan error        // the result of the blocked write
	commits int               // plain Commit calls (must stay 0)
	db      *Database
	locked  []bool // per write: was the engine lock held?
}

func newGate() *gateCommitter {
	return &gateCommitter{started: make(chan []*ChangeSet, 16), release: make(chan error)}
}

func (c *gateCommitter) Commit(context.Context, *ChangeSet) error { c.commits++; return nil }

func (c *gateCommitter) WriteBatch(css []*ChangeSet, publish func()) error {
	locked := !c.db.mu.TryLock()
	if !locked {
		c.db.mu.Unlock()
	}
	c.locked = append(c.locked, locked)
	c.started <- css
	if err := <-c.release; err != nil {
		return err
	}
	publish()
	return nil
}

// next waits for the next write and returns the number of change sets
// in it.
func (c *gateCommitter) next(t *testing.T) int {
	t.Helper()
	select {
	case css := <-c.started:
		return len(css)
	case <-time.After(10 * time.Second):
		t.Fatal("no write started")
	}
	return 0
}

type asyncTx struct {
	done chan string
}

func goTx(t *testing.T, db *Database, ops string) *asyncTx {
	a := &asyncTx{done: make(chan string, 1)}
	v := decode(t, ops).([]any)
	go func() { a.done <- cjson.String(db.Transact(context.Background(), v, TransactOptions{})) }()
	return a
}

func (a *asyncTx) result(t *testing.T) string {
	t.Helper()
	select {
	case r := <-a.done:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("transaction not answered")
	}
	return ""
}

func (a *asyncTx) answered() bool {
	select {
	case r := <-a.done:
		a.done <- r
		return true
	default:
		return false
	}
}

func pendingLen(db *Database) int {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return len(db.pending)
}

func waitPending(t *testing.T, db *Database, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return pendingLen(db) == n }, 10*time.Second, time.Millisecond)
}

// observed records the names of the Leaf rows the observers were told of.
type observed struct {
	mu    sync.Mutex
	names []string
}

func observe(db *Database) *observed {
	o := &observed{}
	db.Observe(nil, func(_ schema.UUID, cs *ChangeSet) {
		o.mu.Lock()
		defer o.mu.Unlock()
		for tname, rows := range cs.Tables {
			for _, rc := range rows {
				if rc.New != nil {
					c := db.Schema().Table(tname).Column("name")
					o.names = append(o.names, fmt.Sprint(tname, ":", rc.New.Field(c.Index).Keys[0]))
				}
			}
		}
	})
	return o
}

func (o *observed) get() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := append([]string(nil), o.names...)
	sort.Strings(out)
	return out
}

func readNames(db *Database, table string) []string {
	var out []string
	c := db.Schema().Table(table).Column("name")
	db.Read(func(tables map[string]map[schema.UUID]*Row) {
		for _, r := range tables[table] {
			out = append(out, r.Field(c.Index).Keys[0].(string))
		}
	})
	sort.Strings(out)
	return out
}

const selLeaf = `[{"op":"select","table":"Leaf","where":[],"columns":["name"]}]`

// A change set becomes visible to readers and observers only when its
// write succeeds, while write transactions already execute against it.
func TestGroupCommitVisibleWhenDurable(t *testing.T) {
	c := newGate()
	db := NewDatabase(loadTestSchema(t), c)
	c.db = db
	obs := observe(db)

	t1 := goTx(t, db, `[{"op":"insert","table":"Leaf","row":{"name":"a"}}]`)
	require.Equal(t, 1, c.next(t))
	require.Equal(t, `[{"rows":[]}]`, tx(t, db, selLeaf))
	require.Empty(t, readNames(db, "Leaf"))
	require.Empty(t, obs.get())
	// A write transaction sees the pending row (it is queued behind it).
	t2 := goTx(t, db, `[{"op":"select","table":"Leaf","where":[],"columns":["name"]},
		{"op":"insert","table":"Leaf","row":{"name":"b"}}]`)
	waitPending(t, db, 2)
	require.False(t, t1.answered())

	c.release <- nil
	require.Equal(t, `[{"uuid":["uuid",""]}]`, uuidFree(t1.result(t)))
	require.Equal(t, 1, c.next(t)) // t2's write
	require.Equal(t, `[{"rows":[{"name":"a"}]}]`, tx(t, db, selLeaf))
	require.Equal(t, []string{"Leaf:a"}, obs.get())
	require.False(t, t2.answered())
	c.release <- nil
	require.Equal(t, `[{"rows":[{"name":"a"}]},{"uuid":["uuid",""]}]`, uuidFree(t2.result(t)))
	require.Equal(t, []string{"a", "b"}, readNames(db, "Leaf"))
	require.Equal(t, []string{"Leaf:a", "Leaf:b"}, obs.get())
	require.Equal(t, []bool{false, false}, c.locked)
	require.Zero(t, c.commits)
}

// A failed write fails the first transaction of its batch, rolls the tip
// back (rows, reference counts, indexes) and executes every later pending
// transaction again against the durable state; no reader or observer ever
// sees the failed change.
func TestGroupCommitFailure(t *testing.T) {
	c := newGate()
	db := NewDatabase(loadTestSchema(t), c)
	c.db = db
	obs := observe(db)

	// t1: a parent with a child (reference counts) and a unique name.
	t1 := goTx(t, db, `[{"op":"insert","table":"Child","row":{"name":"c1"},"uuid-name":"c"},
		{"op":"insert","table":"Parent","row":{"name":"p1","kids":["named-uuid","c"]}}]`)
	require.Equal(t, 1, c.next(t))
	// t2 conflicts with t1's index entry on the tip: it fails there, but
	// is answered only once t1 is settled, and executed again.
	t2 := goTx(t, db, `[{"op":"insert","table":"Parent","row":{"name":"p1"}}]`)
	waitPending(t, db, 2)
	// t3 sees t1's row in a select.
	t3 := goTx(t, db, `[{"op":"select","table":"Parent","where":[],"columns":["name"]},
		{"op":"insert","table":"Leaf","row":{"name":"x"}}]`)
	waitPending(t, db, 3)

	c.release <- ovsdberr.New(ovsdberr.TagIOError, "disk full")
	require.Equal(t, `[{"uuid":["uuid",""]},{"uuid":["uuid",""]},{"details":"disk full","error":"I/O error"}]`,
		uuidFree(t1.result(t)))
	// t2 and t3, executed again against the durable state, form the next
	// batch.
	require.Equal(t, 2, c.next(t))
	require.False(t, t2.answered())
	require.False(t, t3.answered())
	require.Equal(t, `[{"rows":[]}]`, tx(t, db, `[{"op":"select","table":"Parent","where":[],"columns":["name"]}]`))
	require.Empty(t, readNames(db, "Child"))
	c.release <- nil
	require.Equal(t, `[{"uuid":["uuid",""]}]`, uuidFree(t2.result(t)))
	// t3 now sees t2's p1 (durable with it), not t1's.
	require.Equal(t, `[{"rows":[{"name":"p1"}]},{"uuid":["uuid",""]}]`, uuidFree(t3.result(t)))
	require.Equal(t, []string{"Leaf:x", "Parent:p1"}, obs.get())
	require.Empty(t, readNames(db, "Child"))
	db.mu.RLock()
	require.Empty(t, db.tables["Child"].refs)
	require.Len(t, db.tables["Parent"].indexes[0], 1)
	db.mu.RUnlock()
	// The index entry left is t2's: another p1 is a duplicate.
	go func() { require.Equal(t, 1, c.next(t)); c.release <- nil }()
	require.Contains(t, tx(t, db, `[{"op":"insert","table":"Parent","row":{"name":"p1"}}]`), "constraint violation")
}

// Many transactions queued behind a write share the next one; when that
// fails, only its first transaction fails and the others share the write
// after.
func TestGroupCommitFailsOnlyFirst(t *testing.T) {
	c := newGate()
	db := NewDatabase(loadTestSchema(t), c)
	c.db = db
	t0 := goTx(t, db, `[{"op":"insert","table":"Leaf","row":{"name":"t0"}}]`)
	require.Equal(t, 1, c.next(t))
	var txs []*asyncTx
	for i := 1; i <= 3; i++ {
		txs = append(txs, goTx(t, db, fmt.Sprintf(`[{"op":"insert","table":"Leaf","row":{"name":"t%d"}}]`, i)))
		waitPending(t, db, i+1)
	}
	c.release <- nil
	require.NotContains(t, t0.result(t), "error")
	require.Equal(t, 3, c.next(t))
	c.release <- ovsdberr.New(ovsdberr.TagIOError, "disk full")
	require.Equal(t, 2, c.next(t))
	c.release <- nil
	var failed, ok []string
	for i, a := range txs {
		if r := a.result(t); strings.Contains(r, "disk full") {
			failed = append(failed, fmt.Sprint("t", i+1))
		} else {
			ok = append(ok, fmt.Sprint("t", i+1))
		}
	}
	require.Len(t, failed, 1)
	require.Equal(t, append([]string{"t0"}, ok...), readNames(db, "Leaf"))
}

// Read-only transactions, Row and Observe snapshots see the durable state
// while writes are pending; Flush and Exclusive wait for them.
func TestGroupCommitReadersAndExclusive(t *testing.T) {
	c := newGate()
	db := NewDatabase(loadTestSchema(t), c)
	c.db = db
	go func() { require.Equal(t, 1, c.next(t)); c.release <- nil }()
	id := strings.TrimSuffix(strings.TrimPrefix(tx(t, db, `[{"op":"insert","table":"Leaf","row":{"name":"a"}}]`),
		`[{"uuid":["uuid","`), `"]}]`)
	uid, err := schema.ParseUUID(id)
	require.NoError(t, err)

	t1 := goTx(t, db, `[{"op":"update","table":"Leaf","where":[],"row":{"name":"b"}},
		{"op":"insert","table":"Leaf","row":{"name":"c"}}]`)
	require.Equal(t, 1, c.next(t))
	require.Equal(t, "a", db.Row("Leaf", uid).Field(2).Keys[0])
	require.Equal(t, `[{"rows":[{"name":"a"}]}]`,
		tx(t, db, `[{"op":"select","table":"Leaf","where":[["_uuid","==",["uuid","`+id+`"]]],"columns":["name"]}]`))
	require.Equal(t, `[{}]`, tx(t, db,
		`[{"op":"wait","table":"Leaf","where":[],"columns":["name"],"until":"==","rows":[{"name":"a"}],"timeout":0}]`))
	var snap []string
	db.Observe(func(tables map[string]map[schema.UUID]*Row, _ schema.UUID) {
		for _, r := range tables["Leaf"] {
			snap = append(snap, r.Field(2).Keys[0].(string))
		}
	}, func(schema.UUID, *ChangeSet) {})()
	require.Equal(t, []string{"a"}, snap)

	done := make(chan struct{})
	go func() {
		db.Exclusive(func(tables map[string]map[schema.UUID]*Row) Committer {
			require.Len(t, tables["Leaf"], 2)
			return nil
		})
		close(done)
	}()
	require.Eventually(t, func() bool { db.mu.RLock(); defer db.mu.RUnlock(); return db.exclusive == 1 },
		10*time.Second, time.Millisecond)
	// A write transaction waits for Exclusive.
	t2 := goTx(t, db, `[{"op":"insert","table":"Leaf","row":{"name":"d"}}]`)
	c.release <- nil
	require.NotContains(t, t1.result(t), "error")
	<-done
	require.Equal(t, 1, c.next(t))
	c.release <- nil
	require.NotContains(t, t2.result(t), "error")
	require.Equal(t, []string{"b", "c", "d"}, readNames(db, "Leaf"))
	db.Flush()
}

// uuidFree drops the insert results' uuids for comparison.
func uuidFree(s string) string { return uuidRE.ReplaceAllString(s, "") }

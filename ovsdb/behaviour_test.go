package ovsdb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/stretchr/testify/require"
)

type recCommitter struct {
	mu   sync.Mutex
	sets []*ChangeSet
	fail error
}

func (c *recCommitter) Commit(_ context.Context, cs *ChangeSet) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	c.sets = append(c.sets, cs)
	return nil
}

func tx(t *testing.T, db *Database, ops string) string {
	t.Helper()
	return cjson.String(db.Transact(context.Background(), decode(t, ops).([]any), TransactOptions{}))
}

func TestCommitterSeesChangeSetAndFailureRollsBack(t *testing.T) {
	c := &recCommitter{}
	db := NewDatabase(loadTestSchema(t), c)
	tx(t, db, `[{"op":"insert","table":"Leaf","row":{"name":"a"}},{"op":"commit","durable":true},{"op":"comment","comment":"x"},{"op":"comment","comment":"y"}]`)
	require.Len(t, c.sets, 1)
	cs := c.sets[0]
	require.True(t, cs.Durable)
	require.Equal(t, "x\ny", cs.Comment)
	require.Len(t, cs.Tables["Leaf"], 1)
	for id, rc := range cs.Tables["Leaf"] {
		require.Nil(t, rc.Old)
		require.Equal(t, id, rc.New.UUID())
		require.False(t, rc.New.Version().IsZero())
		require.Same(t, rc.New, db.Row("Leaf", id))
	}

	// Unchanged update: no change set, no commit.
	tx(t, db, `[{"op":"update","table":"Leaf","where":[],"row":{"name":"a"}}]`)
	require.Len(t, c.sets, 1)

	c.fail = ovsdberr.New(ovsdberr.TagIOError, "disk full")
	got := tx(t, db, `[{"op":"update","table":"Leaf","where":[],"row":{"name":"b"}}]`)
	require.Equal(t, `[{"count":1},{"details":"disk full","error":"I/O error"}]`, got)
	require.Equal(t, `[{"rows":[{"name":"a"}]}]`, tx(t, db, `[{"op":"select","table":"Leaf","where":[],"columns":["name"]}]`))

	c.fail = errors.New("boom")
	got = tx(t, db, `[{"op":"delete","table":"Leaf","where":[]}]`)
	require.Equal(t, `[{"count":1},{"details":"boom","error":"internal error"}]`, got)
}

func TestVersionChangesOnlyForModifiedRows(t *testing.T) {
	db := NewDatabase(loadTestSchema(t), nil)
	tx(t, db, `[{"op":"insert","table":"Leaf","row":{"name":"a"}},{"op":"insert","table":"Leaf","row":{"name":"b"}}]`)
	versions := func() map[string]schema.UUID {
		m := map[string]schema.UUID{}
		db.Read(func(tables map[string]map[schema.UUID]*Row) {
			for _, r := range tables["Leaf"] {
				m[r.Field(db.Schema().Table("Leaf").Column("name").Index).Keys[0].(string)] = r.Version()
			}
		})
		return m
	}
	before := versions()
	tx(t, db, `[{"op":"update","table":"Leaf","where":[["name","==","a"]],"row":{"name":"c"}}]`)
	after := versions()
	require.Equal(t, before["b"], after["b"])
	require.NotEqual(t, before["a"], after["c"])
}

func TestWaitBlocksUntilChangeAndTimesOut(t *testing.T) {
	db := NewDatabase(loadTestSchema(t), nil)
	done := make(chan string, 1)
	go func() {
		done <- tx(t, db, `[{"op":"wait","table":"Leaf","where":[],"columns":["name"],"until":"==","rows":[{"name":"z"}],"timeout":60000},
			{"op":"insert","table":"Leaf","row":{"name":"after"}}]`)
	}()
	// The waiter cannot have finished: nothing matches yet.
	select {
	case r := <-done:
		t.Fatalf("wait returned early: %s", r)
	default:
	}
	// Retry after each change until the waiter is satisfied.
	tx(t, db, `[{"op":"insert","table":"Leaf","row":{"name":"y"}}]`)
	tx(t, db, `[{"op":"update","table":"Leaf","where":[["name","==","y"]],"row":{"name":"z"}}]`)
	select {
	case r := <-done:
		require.Regexp(t, `^\[\{\},\{"uuid":\["uuid","[0-9a-f-]{36}"\]\}\]$`, r)
	case <-time.After(10 * time.Second):
		t.Fatal("wait did not complete after the database changed")
	}

	got := tx(t, db, `[{"op":"wait","table":"Leaf","where":[],"columns":["name"],"until":"==","rows":[],"timeout":30}]`)
	require.Regexp(t, `^\[\{"details":"\\"wait\\" timed out after \d+ ms","error":"timed out"\}\]$`, got)
}

func TestWaitCanceled(t *testing.T) {
	db := NewDatabase(loadTestSchema(t), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []any, 1)
	go func() {
		done <- db.Transact(ctx, decode(t, `[{"op":"wait","table":"Leaf","where":[],"until":"!=","rows":[]}]`).([]any), TransactOptions{})
	}()
	cancel()
	select {
	case r := <-done:
		require.Nil(t, r)
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not end the wait")
	}
}

func TestAssertAndReservedAndReadOnly(t *testing.T) {
	db := NewDatabase(loadTestSchema(t), nil)
	opts := TransactOptions{HasLock: func(n string) bool { return n == "mine" }}
	r := db.Transact(context.Background(), decode(t, `[{"op":"assert","lock":"mine"}]`).([]any), opts)
	require.Equal(t, `[{}]`, cjson.String(r))
	r = db.Transact(context.Background(), decode(t, `[{"op":"insert","table":"Leaf","row":{}}]`).([]any), TransactOptions{ReadOnly: true})
	require.Equal(t, `[{"details":"insert operation not allowed when database server is in read only mode","error":"not allowed"}]`, cjson.String(r))

	s := *loadTestSchema(t)
	s.Name = "_Server"
	sdb := NewDatabase(&s, nil)
	require.Equal(t, `[{"details":"insert operation not allowed on table in reserved database _Server","error":"not allowed"}]`,
		tx(t, sdb, `[{"op":"insert","table":"Leaf","row":{}}]`))
}

func TestApplyMaintainsRefsAndIndexes(t *testing.T) {
	src := NewDatabase(loadTestSchema(t), nil)
	c := &recCommitter{}
	src.SetCommitter(c)
	tx(t, src, `[{"op":"insert","table":"Child","row":{"name":"c"},"uuid-name":"c"},{"op":"insert","table":"Parent","row":{"name":"p","kids":["named-uuid","c"]}}]`)
	require.Len(t, c.sets, 1)
	replica := NewDatabase(loadTestSchema(t), nil)
	replica.Apply(c.sets[0])
	// Strong ref counted: deleting the child fails; unique index known.
	require.Regexp(t, `cannot delete Child row .* because of 1 remaining reference\(s\)`,
		tx(t, replica, `[{"op":"delete","table":"Child","where":[]}]`))
	require.Contains(t, tx(t, replica, `[{"op":"insert","table":"Parent","row":{"name":"p"}}]`), "identical values (p)")
}

func TestConcurrentTransactionsSerialise(t *testing.T) {
	db := NewDatabase(loadTestSchema(t), nil)
	tx(t, db, `[{"op":"insert","table":"Parent","row":{"name":"ctr","n":0}}]`)
	const workers, iters = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				ops := decode(t, fmt.Sprintf(`[{"op":"mutate","table":"Parent","where":[["name","==","ctr"]],"mutations":[["n","+=",1]]},
					{"op":"insert","table":"Leaf","row":{"name":"w%d-%d"}},
					{"op":"select","table":"Parent","where":[["name","==","ctr"]],"columns":["n"]}]`, w, i)).([]any)
				r := db.Transact(context.Background(), ops, TransactOptions{})
				if len(r) != 3 {
					t.Errorf("unexpected result %s", cjson.String(r))
				}
			}
		}(w)
	}
	wg.Wait()
	require.Equal(t, fmt.Sprintf(`[{"rows":[{"n":%d}]}]`, workers*iters),
		tx(t, db, `[{"op":"select","table":"Parent","where":[["name","==","ctr"]],"columns":["n"]}]`))
	n := 0
	db.Read(func(tables map[string]map[schema.UUID]*Row) { n = len(tables["Leaf"]) })
	require.Equal(t, workers*iters, n)
}

func TestAtomicRollbackLeavesStateUntouched(t *testing.T) {
	db := NewDatabase(loadTestSchema(t), nil)
	tx(t, db, `[{"op":"insert","table":"Leaf","row":{"name":"keep"}}]`)
	var before *Row
	db.Read(func(tables map[string]map[schema.UUID]*Row) {
		for _, r := range tables["Leaf"] {
			before = r
		}
	})
	got := tx(t, db, `[{"op":"update","table":"Leaf","where":[],"row":{"name":"changed"}},{"op":"insert","table":"Parent","row":{"kids":["uuid","11111111-2222-3333-4444-555555555555"]}}]`)
	require.Contains(t, got, "referential integrity violation")
	require.Same(t, before, db.Row("Leaf", before.UUID()))
	require.Equal(t, "keep", before.Field(2).Keys[0])
}

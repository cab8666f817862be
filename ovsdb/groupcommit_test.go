package ovsdb

import (
	"context"
	"testing"

	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/stretchr/testify/require"
)

// asyncCommitter records the GroupCommitter calls.
type asyncCommitter struct {
	db        *Database
	asyncErr  error // returned by CommitAsync
	waitErr   error // returned by wait
	commits   int   // plain Commit calls (must stay 0)
	asyncs    int
	waits     int
	lockedAtW []bool // per wait: was the engine write lock held?
}

func (c *asyncCommitter) Commit(context.Context, *ChangeSet) error { c.commits++; return nil }

func (c *asyncCommitter) CommitAsync(context.Context, *ChangeSet) (func() error, error) {
	c.asyncs++
	if c.asyncErr != nil {
		return nil, c.asyncErr
	}
	return func() error {
		c.waits++
		locked := !c.db.mu.TryLock()
		if !locked {
			c.db.mu.Unlock()
		}
		c.lockedAtW = append(c.lockedAtW, locked)
		return c.waitErr
	}, nil
}

func TestGroupCommitter(t *testing.T) {
	c := &asyncCommitter{}
	db := NewDatabase(loadTestSchema(t), c)
	c.db = db
	sel := `[{"op":"select","table":"Leaf","where":[],"columns":["name"]}]`

	// Success: wait runs once, after the write lock is released.
	require.Equal(t, `[{"uuid":["uuid",""]}]`, uuidFree(tx(t, db, `[{"op":"insert","table":"Leaf","row":{"name":"a"}}]`)))
	require.Equal(t, 1, c.asyncs)
	require.Equal(t, 1, c.waits)
	require.Equal(t, []bool{false}, c.lockedAtW)

	// Read-only and no-op transactions commit nothing.
	tx(t, db, sel)
	tx(t, db, `[{"op":"update","table":"Leaf","where":[],"row":{"name":"a"}}]`)
	require.Equal(t, 1, c.asyncs)
	require.Equal(t, 1, c.waits)

	// A wait error is the last result, but the change stays applied.
	c.waitErr = ovsdberr.New(ovsdberr.TagIOError, "disk full")
	require.Equal(t, `[{"count":1},{"details":"disk full","error":"I/O error"}]`,
		tx(t, db, `[{"op":"update","table":"Leaf","where":[],"row":{"name":"b"}}]`))
	require.Equal(t, `[{"rows":[{"name":"b"}]}]`, tx(t, db, sel))
	require.Equal(t, 2, c.waits)

	// A CommitAsync error aborts: nothing applied, no wait.
	c.waitErr = nil
	c.asyncErr = ovsdberr.New(ovsdberr.TagIOError, "closed")
	require.Equal(t, `[{"count":1},{"details":"closed","error":"I/O error"}]`,
		tx(t, db, `[{"op":"update","table":"Leaf","where":[],"row":{"name":"c"}}]`))
	require.Equal(t, `[{"rows":[{"name":"b"}]}]`, tx(t, db, sel))
	require.Equal(t, 3, c.asyncs)
	require.Equal(t, 2, c.waits)
	require.Zero(t, c.commits)
}

// uuidFree drops the insert result's uuid for comparison.
func uuidFree(s string) string { return uuidRE.ReplaceAllString(s, "") }

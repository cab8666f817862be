// Executing a transaction: the operations table, Transact (with its
// blocked-wait retries) and TransactOnce, and the execution of the
// operation list under the engine's lock, up to the commit.

package ovsdb

import (
	"context"
	"math"

	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// opFunc executes one operation of x, whose members p parses; it returns
// the operation's result (JSON-ready) or its error. Members it leaves
// unused are reported by the caller (parser.finish).
type opFunc func(x *txn, p *parser) (any, error)

// opDef describes one operation: readOnly when it never changes the
// database (ClassifyOps, and the "not allowed" checks of read-only servers
// and reserved databases).
type opDef struct {
	readOnly bool
	fn       opFunc
}

// operations is the one list of RFC 7047 operations, by "op" name.
var operations map[string]opDef

func init() {
	operations = map[string]opDef{
		"insert":  {false, execInsert},
		"select":  {true, execSelect},
		"update":  {false, execUpdate},
		"mutate":  {false, execMutate},
		"delete":  {false, execDelete},
		"wait":    {true, execWait},
		"commit":  {false, execCommit},
		"abort":   {true, execAbort},
		"comment": {true, execComment},
		"assert":  {true, execAssert},
	}
}

// Transact executes RFC 7047 operations (the params after the database
// name) and returns the result array exactly as the C server builds it.
// It blocks while a "wait" op with a non-zero timeout is unsatisfied,
// re-executing the transaction whenever the database changes
// (RetryBlocked, which calls ctx's BlockHooks). If ctx is
// canceled while blocked, it returns nil: the caller answers the request
// with the JSON-RPC error "canceled" as C's "cancel" method does.
func (db *Database) Transact(ctx context.Context, ops []any, opts TransactOptions) []any {
	ro := ClassifyOps(ops).ReadOnly
	return RetryBlocked(ctx, func(elapsed int64) ([]any, bool, <-chan struct{}, int64) {
		changed := db.changedChan() // before executing: no commit is missed
		res, timeout, blocked := db.settle(db.transactOnce(ctx, ops, opts, ro, elapsed))
		if timeout == math.MaxInt64 {
			timeout = -1 // no wait with a timeout
		}
		return res, blocked, changed, timeout
	})
}

// TransactOnce executes ops once, never blocking on "wait": an unsatisfied
// wait whose timeout has not expired makes it return blocked true and a nil
// result, with nothing changed. elapsedMS is the time since the caller's
// first attempt, which decides whether a wait's timeout has expired and
// appears in the "timed out after" message. A Raft member executes
// replicated transactions this way, so that every member computes the same
// outcome; the member that received the request re-proposes a blocked one
// after its state has changed.
func (db *Database) TransactOnce(ctx context.Context, ops []any, opts TransactOptions,
	elapsedMS int64) (res []any, blocked bool) {
	res, _, blocked = db.settle(db.transactOnce(ctx, ops, opts, ClassifyOps(ops).ReadOnly, elapsedMS))
	if blocked {
		return nil, true
	}
	return res, false
}

// settle waits, for a transaction queued for group commit (e non-nil),
// until it is durable, and returns its final outcome: the result of its
// last execution, with the write error appended if its write failed (see
// GroupCommitter; a transaction executed again after an earlier one's
// failure may be queued again, or be blocked or fail this time).
func (db *Database) settle(res []any, timeout int64, blocked bool, e *commitEntry) ([]any, int64, bool) {
	for e != nil {
		db.awaitDurable(e)
		if r := e.redo; r != nil {
			res, timeout, blocked, e = r.res, r.timeout, r.blocked, r.next
			continue
		}
		if e.err != nil {
			res = append(res, ovsdberr.ToJSON(e.err))
		}
		break
	}
	return res, timeout, blocked
}

// transactOnce executes ops once. blocked reports an unsatisfied wait that
// should be retried later; timeout is then the smallest wait timeout. A
// non-nil e is a transaction queued for group commit, to be settled after
// return (the write lock is released by then).
func (db *Database) transactOnce(ctx context.Context, ops []any, opts TransactOptions, ro bool,
	elapsed int64) (res []any, timeout int64, blocked bool, e *commitEntry) {
	if ro {
		db.mu.RLock()
		defer db.mu.RUnlock()
	} else {
		db.mu.Lock()
		defer db.mu.Unlock()
		for db.exclusive > 0 {
			db.exclCond.Wait()
		}
	}
	return db.executeLocked(ctx, ops, opts, ro, elapsed)
}

// executeLocked is transactOnce with mu held (for reading if ro, which
// then reads the durable state; for writing otherwise).
func (db *Database) executeLocked(ctx context.Context, ops []any, opts TransactOptions, ro bool,
	elapsed int64) (res []any, timeout int64, blocked bool, e *commitEntry) {
	x := newTxn(db)
	x.readDurable = ro && len(db.pending) > 0
	x.setUUIDSource(opts.NewUUID)
	x.rbac = rbacClient{role: opts.Role, id: opts.ClientID, hasID: opts.HasClientID}
	x.elapsed = elapsed
	x.sizeHint = len(ops)
	results := make([]any, 0, len(ops)+1)
	var failed error
	p := new(parser) // reused: nothing keeps an op's parser
	for i, op := range ops {
		*p = parser{js: op, opNum: i + 1, opCount: len(ops)}
		p.init()
		opName := p.member("op", kID)
		var result any
		var err error
		readOnly := false
		if opName != nil {
			name := opName.(string)
			if def, ok := operations[name]; ok {
				readOnly = def.readOnly
				result, err = def.fn(x, p)
			} else {
				p.raise("No operation \"%s\"", name)
			}
		}
		if perr := p.finish(); perr != nil {
			err = perr
		}
		if err == nil && !readOnly {
			name, _ := opName.(string)
			if opts.ReadOnly {
				err = ovsdberr.New("not allowed",
					"%s operation not allowed when database server is in read only mode", name)
			} else if len(db.schema.Name) > 0 && db.schema.Name[0] == '_' {
				err = ovsdberr.New("not allowed",
					"%s operation not allowed on table in reserved database %s", name, db.schema.Name)
			}
		}
		if err == nil && opName.(string) == "assert" {
			err = checkAssert(p, opts)
		}
		if err != nil {
			if err == errBlocked {
				return nil, x.timeout, true, nil
			}
			results = append(results, ovsdberr.ToJSON(err))
			failed = err
			break
		}
		results = append(results, result)
	}
	for len(results) < len(ops) {
		results = append(results, nil)
	}
	var err error
	var cs *ChangeSet
	if failed == nil && len(x.torder) > 0 {
		cs, err = x.precommit()
		if err == nil && cs.Empty() {
			cs = nil
		}
	}
	gc, group := db.committer.(GroupCommitter)
	switch {
	case err != nil || (cs == nil && !ro && len(db.pending) > 0):
		// Nothing to commit, but the results may show pending change
		// sets: answer once they are durable (groupcommit.go).
		cs = nil
		if group && len(db.pending) > 0 {
			e = db.queueLocked(ctx, gc, nil, ops, opts, elapsed)
		}
	case cs == nil:
	case group:
		e = db.queueLocked(ctx, gc, cs, ops, opts, elapsed)
		db.notify()
	default:
		if err = db.commitLocked(ctx, cs, opts.TxnID); err == nil {
			db.notify()
		}
	}
	if err != nil {
		results = append(results, ovsdberr.ToJSON(err))
	}
	return results, 0, false, e
}

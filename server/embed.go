package server

// In-process use of a Server by the program that embeds it: transactions
// and change notifications without JSON-RPC (examples in
// example_test.go).

import (
	"context"
	"fmt"
	"sync"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// Transact runs one transaction on the named database in-process, as a
// JSON-RPC "transact" request from a session that holds no locks does,
// and returns RFC 7047's result array (one result per operation, then a
// commit error if there was one).
//
// ops are the request's operations after the database name, in the JSON
// form encoding/json decodes to (map[string]any, []any, string, bool,
// float64 for reals), except that integers are Go ints (int, int64) or
// json.Number; for example
// map[string]any{"op": "insert", "table": "T", "row": map[string]any{"n": 1}}.
// Results use the same form, with int64 integers.
//
// The transaction goes through the database's replication mode: for a
// clustered database it is replicated and committed by a majority of the
// cluster (through its leader) and applied on this member before Transact
// returns. On a read-only server (SetReadOnly: a backup of active-backup
// replication) it may only read, as a client session.
//
// err is non-nil when the transaction committed nothing: the database is
// not served (err wraps ErrNoDatabase); ctx ended while the transaction
// waited (err is ctx.Err()); or the transaction failed, in which case err
// is the *ovsdberr.Error of the first error object in the results, which
// are returned too.
func (s *Server) Transact(ctx context.Context, dbName string, ops []any) ([]any, error) {
	db := s.Database(dbName)
	if db == nil {
		return nil, fmt.Errorf("%s: %w", dbName, ErrNoDatabase)
	}
	// An embedding program is a client: refused writes on a read-only
	// server (SetReadOnly), as its sessions are.
	res := db.Transact(ctx, ops, ovsdb.TransactOptions{ReadOnly: s.ReadOnly()})
	if res == nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, context.Canceled
	}
	for _, r := range res {
		if m, ok := r.(map[string]any); ok {
			if tag, ok := m["error"].(string); ok {
				details, _ := m["details"].(string)
				return res, &ovsdberr.Error{Tag: tag, Details: details}
			}
		}
	}
	return res, nil
}

// Update is what one transaction changed in a database, as Observe
// reports it: for each changed table, each changed row by its _uuid (in
// the UUID's text form). Like RFC 7047's <table-updates>.
type Update map[string]map[string]RowUpdate

// RowUpdate is the change of one row: Old is nil for an inserted row,
// New is nil for a deleted row. Each holds every column of the row, _uuid
// and _version included, in the JSON form a "select" returns.
type RowUpdate struct {
	Old, New map[string]any
}

// Observe calls fn, in-process, with every transaction committed to the
// named database from now on (those made by JSON-RPC clients, by Transact
// and, for a clustered database, by the other members), each once and in
// commit order: a monitor of every column of every table without
// JSON-RPC. The first call, before any commit, holds the database's
// contents when Observe was called, as inserted rows (an empty Update for
// an empty database).
//
// fn runs on a goroutine of its own, one call at a time, so it may block
// and may call the Server; commits do not wait for it (pending updates
// are queued). The observation ends when stop is called (no call of fn
// starts after stop returns) or, after the pending updates have been
// delivered, when the database stops being served: it is removed, it is
// converted to a new schema (observe it again to see the converted
// database) or the Server is closed. An observation of "_Server" ends
// only with stop.
func (s *Server) Observe(dbName string, fn func(Update)) (stop func(), err error) {
	var db *ovsdb.Database
	var gone <-chan struct{}
	if dbName == "_Server" {
		db = s.sys
	} else {
		s.mu.Lock()
		e := s.dbs[dbName]
		s.mu.Unlock()
		if e == nil {
			return nil, fmt.Errorf("%s: %w", dbName, ErrNoDatabase)
		}
		db, gone = e.db, e.gone
	}
	o := &observation{sch: db.Schema(), fn: fn, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	o.unregister = db.Observe(func(tables map[string]map[schema.UUID]*ovsdb.Row, _ schema.UUID) {
		// The committed maps change with later commits, their rows do
		// not: keep the rows, build the JSON on the observer's goroutine.
		cs := &ovsdb.ChangeSet{Tables: map[string]map[schema.UUID]*ovsdb.RowChange{}}
		for t, rows := range tables {
			if len(rows) == 0 {
				continue
			}
			m := make(map[schema.UUID]*ovsdb.RowChange, len(rows))
			for id, r := range rows {
				m[id] = &ovsdb.RowChange{New: r}
			}
			cs.Tables[t] = m
		}
		o.queue = append(o.queue, cs)
	}, o.push)
	go o.run(gone)
	return o.stop, nil
}

// observation is one Observe: the change sets committed and not yet
// given to fn, in commit order.
type observation struct {
	sch        *schema.DatabaseSchema
	fn         func(Update)
	unregister func()
	wake       chan struct{} // a change set was queued
	stopped    chan struct{} // closed by stop
	stopOnce   sync.Once

	mu    sync.Mutex
	queue []*ovsdb.ChangeSet
	done  bool // stop was called: fn is not called again
}

// push is the engine's commit observer: called under the database's write
// lock, it only queues.
func (o *observation) push(_ schema.UUID, cs *ovsdb.ChangeSet) {
	if cs.Empty() {
		return
	}
	o.mu.Lock()
	o.queue = append(o.queue, cs)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *observation) stop() {
	o.stopOnce.Do(func() {
		o.mu.Lock()
		o.done = true
		o.mu.Unlock()
		close(o.stopped)
		o.unregister()
	})
}

// run gives the queued change sets to fn until stop, or until gone is
// closed and the queue is empty.
func (o *observation) run(gone <-chan struct{}) {
	ending := false
	for {
		for {
			o.mu.Lock()
			if o.done || len(o.queue) == 0 {
				o.mu.Unlock()
				break
			}
			cs := o.queue[0]
			o.queue[0] = nil
			o.queue = o.queue[1:]
			o.mu.Unlock()
			o.fn(o.update(cs))
		}
		if ending {
			o.stop()
			return
		}
		select {
		case <-o.wake:
		case <-o.stopped:
			return
		case <-gone:
			// The engine is retired: deliver what it committed before.
			ending = true
		}
	}
}

// update renders a change set as an Update.
func (o *observation) update(cs *ovsdb.ChangeSet) Update {
	u := make(Update, len(cs.Tables))
	for tn, rows := range cs.Tables {
		ts := o.sch.Tables[tn]
		if ts == nil {
			continue
		}
		tu := make(map[string]RowUpdate, len(rows))
		for id, rc := range rows {
			tu[id.String()] = RowUpdate{Old: rowJSON(ts, rc.Old), New: rowJSON(ts, rc.New)}
		}
		u[tn] = tu
	}
	return u
}

// rowJSON is every column of r (nil: nil) in RFC 7047's JSON form.
func rowJSON(ts *schema.Table, r *ovsdb.Row) map[string]any {
	if r == nil {
		return nil
	}
	m := make(map[string]any, len(ts.Columns))
	for _, c := range ts.Columns {
		m[c.Name] = schema.DatumToJSON(&c.Type, r.Field(c.Index))
	}
	return m
}

package activebackup

// One replication run: connect to the active server (again and again,
// with C's backoff), set the databases up, then follow the updates.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// update is one notification of a monitor: the changes of one
// transaction of the active server.
type update struct {
	db     string // the monitor id: the database name
	v2     bool   // <table-updates2> (update2, update3), else <table-updates>
	txn    schema.UUID
	hasTxn bool // update3: txn is the active server's transaction id
	tables any
}

// queue holds the updates received on one connection and not yet
// applied. The client's read loop appends; the run applies in order.
type queue struct {
	rs     *runState
	mu     sync.Mutex
	items  []update
	signal chan struct{}
}

func newQueue(rs *runState) *queue { return &queue{rs: rs, signal: make(chan struct{}, 1)} }

// notify receives the client's notifications (on its read loop).
func (q *queue) notify(method string, params []any) {
	var u update
	switch method {
	case "update", "update2":
		if len(params) != 2 {
			return
		}
		u.v2, u.tables = method == "update2", params[1]
	case "update3":
		if len(params) != 3 {
			return
		}
		s, _ := params[1].(string)
		id, err := schema.ParseUUID(s)
		u.v2, u.tables, u.txn, u.hasTxn = true, params[2], id, err == nil
	default:
		return
	}
	db, ok := params[0].(string)
	if !ok {
		return
	}
	u.db = db
	q.mu.Lock()
	q.items = append(q.items, u)
	q.mu.Unlock()
	q.rs.mu.Lock()
	q.rs.queued++
	q.rs.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *queue) take() []update {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

func (rs *runState) setState(st replState, dbs []string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.state = st
	if dbs != nil {
		rs.dbNames = dbs
	}
}

// runLoop is one run: connections one after the other until the run is
// stopped (ctx) or fails.
func (r *Replicator) runLoop(ctx context.Context, rs *runState) {
	defer close(rs.done)
	for ctx.Err() == nil {
		q := newQueue(rs)
		c, err := rs.rd.Dial(ctx, jsonrpc.WithNotify(q.notify))
		if err != nil {
			rs.mu.Lock()
			rs.dialFailed = true
			rs.mu.Unlock()
			continue
		}
		ferr := r.serve(ctx, rs, c, q)
		if ctx.Err() != nil || ferr != nil {
			// Closed for good (C's jsonrpc_session_close): not logged.
			_ = c.Close()
		} else {
			rs.rd.Disconnected(c)
		}
		rs.mu.Lock()
		rs.queued = 0
		rs.mu.Unlock()
		if ferr != nil {
			r.fail(rs, ferr)
			return
		}
	}
}

// setupError is an error reply of the active server while setting up:
// C ignores those replies and so stays "connecting" on the connection.
type setupError struct{ err error }

func (e *setupError) Error() string { return e.err.Error() }

// serve replicates over one connection until it ends or the run stops;
// it returns an error only when replication must stop (C's RPL_S_ERR).
// Whatever was received is applied before it returns.
func (r *Replicator) serve(ctx context.Context, rs *runState, c *jsonrpc.Client, q *queue) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.Done():
			cancel()
		case <-cctx.Done():
		}
	}()
	rs.setState(stConnecting, nil)
	ready := map[string]*replica{}
	ferr := r.setup(cctx, rs, c, ready)
	var se *setupError
	switch {
	case errors.As(ferr, &se):
		r.log.Warn(fmt.Sprintf("%s: %v", rs.from, se.err))
		<-cctx.Done()
		ferr = nil
	case ferr == nil && len(ready) == 0:
		// No database of ours on the active server: C waits, connected,
		// "connecting".
		<-cctx.Done()
	}
	for ferr == nil {
		select {
		case <-q.signal:
			ferr = r.applyQueued(rs, q, ready)
			continue
		case <-cctx.Done():
		}
		break
	}
	// Stop reading, then apply everything that was received.
	_ = c.Close()
	if ferr == nil {
		ferr = r.applyQueued(rs, q, ready)
	}
	return ferr
}

// lostError is a request that got no reply: the connection ended or
// the run stopped.
type lostError struct{ err error }

func (e *lostError) Error() string { return e.err.Error() }

// call sends one request and decodes its result; an error reply is a
// *jsonrpc.CallError, no reply a *lostError.
func call(ctx context.Context, c *jsonrpc.Client, method string, params any) (any, json.RawMessage, error) {
	raw, err := c.Call(ctx, method, params)
	var ce *jsonrpc.CallError
	if err != nil && !errors.As(err, &ce) {
		return nil, nil, &lostError{err}
	}
	if err != nil {
		return nil, nil, err
	}
	v, err := schema.DecodeJSON(raw)
	return v, raw, err
}

// transport reports whether err ended the connection or the run (no
// reply): nothing is wrong with replication itself.
func transport(err error) bool {
	var le *lostError
	return errors.As(err, &le)
}

// setup is C's sequence up to the replicating state: get_server_id (a
// server does not replicate from itself), list_dbs, get_schema of every
// database both serve (ours is converted to the active server's schema
// if it differs), and a monitor of each, whose initial contents replace
// ours. ready receives the databases set up.
func (r *Replicator) setup(ctx context.Context, rs *runState, c *jsonrpc.Client, ready map[string]*replica) error {
	v, _, err := call(ctx, c, "get_server_id", []any{})
	if err != nil {
		if transport(err) {
			return nil
		}
		return &setupError{err}
	}
	s, ok := v.(string)
	if _, perr := schema.ParseUUID(s); !ok || perr != nil {
		return ovsdberr.New("get_server_id failed", "Server ID is not valid UUID")
	}
	if r.opts.ServerID != nil && s == r.opts.ServerID() {
		return ovsdberr.New("Server ID check failed", "Self replicating is not allowed")
	}
	v, _, err = call(ctx, c, "list_dbs", []any{})
	if err != nil {
		if transport(err) {
			return nil
		}
		return &setupError{err}
	}
	names, ok := v.([]any)
	if !ok {
		return ovsdberr.New("list_dbs failed", "list_dbs response is not array")
	}
	local := r.replicas()
	var targets []string
	for _, n := range names {
		if s, ok := n.(string); ok && local[s] != nil {
			targets = append(targets, s)
		}
	}
	sort.Strings(targets)
	if len(targets) == 0 {
		return nil
	}
	r.mu.Lock()
	excl := r.excl
	r.mu.Unlock()
	method := 0 // monitorMethods index, lowered on "unknown method"
	var failed []string
	for _, name := range targets {
		rp := local[name]
		_, raw, err := call(ctx, c, "get_schema", []any{name})
		if err != nil {
			if transport(err) {
				return nil
			}
			r.log.Warn(fmt.Sprintf("%s: get_schema failed: %v", name, err))
			failed = append(failed, name)
			continue
		}
		ns, err := schema.ParseSchemaBytes(raw)
		if err != nil {
			return err
		}
		if ns.Name != name {
			r.log.Warn("unexpected schema " + ns.Name)
			return &setupError{fmt.Errorf("unexpected schema %s", ns.Name)}
		}
		if !sameSchema(rp.Database().Schema(), ns) {
			r.log.Info(fmt.Sprintf("Schema version mismatch, checking if %s can still be replicated or not.", name))
			rp.xmu.Lock()
			err := rp.convertTo(ns)
			rp.xmu.Unlock()
			if err != nil {
				r.log.Info(fmt.Sprintf("%s cannot be replicated: converting it to the active server's schema failed: %v", name, err))
				failed = append(failed, name)
				continue
			}
			r.log.Info(fmt.Sprintf("%s can be replicated: converted to the active server's schema (version %s).", name, ns.Version))
		}
		ok, err := r.monitor(ctx, rs, c, rp, excl, &method)
		if err != nil {
			if transport(err) {
				return nil
			}
			return err
		}
		if ok {
			ready[name] = rp
		} else {
			failed = append(failed, name)
		}
	}
	if len(ready) == 0 && len(failed) > 0 {
		r.log.Warn("Nothing to replicate.")
		return errors.New("Nothing to replicate.")
	}
	var dbs []string
	for _, n := range targets {
		if ready[n] != nil {
			dbs = append(dbs, n)
		}
	}
	rs.setState(stReplicating, cOrder(dbs))
	return nil
}

// monitorMethods are tried in turn, as C's IDL falls back from one to
// the next on an error reply ("unknown method" from an older server or
// one that ran ovsdb-server/disable-monitor-cond).
var monitorMethods = []string{"monitor_cond_since", "monitor_cond", "monitor"}

func sameSchema(a, b *schema.DatabaseSchema) bool {
	return string(cjson.Marshal(a.ToJSON())) == string(cjson.Marshal(b.ToJSON()))
}

// monitor starts the monitor of rp's database, every table but the
// excluded ones, and applies its initial contents: the whole contents
// replace ours, unless the active server found the transaction rp knows
// (monitor_cond_since) and sent only what followed. It returns false
// when the database cannot be monitored.
func (r *Replicator) monitor(ctx context.Context, rs *runState, c *jsonrpc.Client, rp *replica,
	excl exclusions, method *int) (bool, error) {
	db := rp.Database()
	name := db.Name()
	req := map[string]any{}
	var tables []string
	for _, tn := range db.Schema().TableNames {
		if !excl.excluded(name, tn) {
			req[tn] = []any{map[string]any{}}
			tables = append(tables, tn)
		}
	}
	rp.mu.Lock()
	last := rp.lastTxn
	rp.mu.Unlock()
	for {
		m := monitorMethods[*method]
		params := []any{name, name, req}
		if m == "monitor_cond_since" {
			params = append(params, last.String())
		}
		v, _, err := call(ctx, c, m, params)
		var ce *jsonrpc.CallError
		if errors.As(err, &ce) && *method < len(monitorMethods)-1 {
			*method++
			continue
		}
		if transport(err) {
			return false, err
		}
		if err != nil {
			r.log.Warn(fmt.Sprintf("%s: %s failed: %v", name, m, err))
			return false, nil
		}
		r.log.Info("Monitor request received. Resetting the database")
		var u update
		full := true
		switch m {
		case "monitor_cond_since":
			res, ok := v.([]any)
			if !ok || len(res) != 3 {
				return false, ovsdberr.New("syntax error", "bad monitor_cond_since reply")
			}
			found, _ := res[0].(bool)
			s, _ := res[1].(string)
			id, perr := schema.ParseUUID(s)
			full = !found
			if found {
				rs.mu.Lock()
				rs.resumed++
				rs.mu.Unlock()
			}
			u = update{db: name, v2: true, txn: id, hasTxn: perr == nil, tables: res[2]}
		case "monitor_cond":
			u = update{db: name, v2: true, tables: v}
		default:
			u = update{db: name, tables: v}
		}
		if err := r.apply(rs, rp, u, full, tables); err != nil && !errors.Is(err, errRetired) {
			return false, err
		}
		return true, nil
	}
}

// applyQueued applies the updates received so far, in order, to the
// databases set up.
func (r *Replicator) applyQueued(rs *runState, q *queue, ready map[string]*replica) error {
	for _, u := range q.take() {
		rs.mu.Lock()
		rs.queued--
		rs.mu.Unlock()
		rp := ready[u.db]
		if rp == nil {
			continue
		}
		if err := r.apply(rs, rp, u, false, nil); err != nil {
			if errors.Is(err, errRetired) {
				delete(ready, u.db)
				continue
			}
			return err
		}
	}
	return nil
}

// apply writes one update (full: a monitor's whole initial contents of
// the monitored tables) to rp through its standalone mode, and records
// the active server's transaction id it brings its contents to.
func (r *Replicator) apply(rs *runState, rp *replica, u update, full bool, monitored []string) error {
	rp.xmu.Lock()
	defer rp.xmu.Unlock()
	db := rp.Database()
	sch := db.Schema()
	var ops []any
	var err error
	db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
		skipped := func(e error) {
			r.log.With("module", "ovsdb_error").Error("unexpected ovsdb error: " + e.Error())
		}
		var p plan
		if full {
			p, err = planFull(sch, tables, monitored, u.tables, u.v2, skipped)
		} else {
			p, err = planChanges(sch, tables, u.tables, u.v2, skipped)
		}
		if err == nil {
			ops = p.ops(sch, tables, skipped)
		}
	})
	if err != nil {
		return err
	}
	if len(ops) > 0 {
		res, err := rp.transact(ops)
		if err != nil {
			return err
		}
		if err := resultError(res); err != nil {
			return err
		}
	}
	rp.mu.Lock()
	if u.hasTxn {
		rp.lastTxn = u.txn
	} else {
		rp.lastTxn = schema.UUID{}
	}
	rp.mu.Unlock()
	rs.mu.Lock()
	rs.lastUpdate = time.Now()
	rs.applied++
	rs.mu.Unlock()
	return nil
}

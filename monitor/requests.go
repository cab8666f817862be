package monitor

import (
	"github.com/ovsdb-go/ovsdb-server/internal/chash"
	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

var zeroUUID schema.UUID

func synErr(js any, format string, args ...any) error {
	if js == nil {
		return ovsdberr.New(ovsdberr.TagSyntax, format, args...)
	}
	return ovsdberr.Syntax(js, format, args...)
}

// parseTableRequest adds one <monitor-request> for table tm.t to tm.
func parseTableRequest(tm *tableMon, v Version, req any, seen map[int]bool) error {
	ts := tm.t
	p := schema.NewParser(req, "table "+ts.Name)
	var where any
	if v != V1 {
		where = p.Member("where", schema.KArray|schema.KOptional)
	}
	columns := p.Member("columns", schema.KArray|schema.KOptional)
	selJS := p.Member("select", schema.KObject|schema.KOptional)
	if err := p.Finish(); err != nil {
		return err
	}
	sel := selAll
	if selJS != nil {
		sel = 0
		sp := schema.NewParser(selJS, "table "+ts.Name+" select")
		for _, b := range []struct {
			name string
			bit  int
		}{{"initial", selInitial}, {"insert", selInsert}, {"delete", selDelete}, {"modify", selModify}} {
			x := sp.Member(b.name, schema.KBoolean|schema.KOptional)
			if x == nil || x == true {
				sel |= b.bit
			}
		}
		if err := sp.Finish(); err != nil {
			return err
		}
	}
	tm.sel |= sel
	add := func(c *schema.Column, js any) error {
		if seen[c.Index] {
			return synErr(js, "column %s mentioned more than once", c.Name)
		}
		seen[c.Index] = true
		tm.cols = append(tm.cols, c)
		tm.colSel = append(tm.colSel, sel)
		return nil
	}
	if columns != nil {
		arr := columns.([]any)
		for _, e := range arr {
			s, ok := e.(string)
			if !ok {
				return synErr(columns, "array of column names expected")
			}
			c := ts.ByName[s]
			if c == nil {
				return synErr(columns, "%s is not a valid column name", s)
			}
			if err := add(c, columns); err != nil {
				return err
			}
		}
	} else {
		// Every column but _uuid, in C's hash order of the table's
		// columns: with another request naming some of them, the first
		// in that order is the one reported "mentioned more than once".
		cols := ts.CColumns
		if len(cols) != len(ts.Columns) {
			cols = ts.Columns
		}
		for _, c := range cols {
			if c.Index == schema.ColUUID {
				continue
			}
			if err := add(c, nil); err != nil {
				return err
			}
		}
	}
	if v != V1 {
		conds := []ovsdb.Condition{}
		if where != nil {
			var err error
			if conds, err = ovsdb.ParseConditions(ts, where, nil); err != nil {
				return err
			}
		}
		tm.reqConds = append(tm.reqConds, conds)
	}
	return nil
}

// finishTable completes a table's monitor once all its requests are
// parsed; found is the index of the request whose condition applies
// (condOrder), ignored if the table has no condition (V1 or no request).
func finishTable(tm *tableMon, found int) {
	// Monitored columns in schema order (request order is irrelevant).
	cols, sels := tm.cols, tm.colSel
	for i := 1; i < len(cols); i++ {
		for j := i; j > 0 && cols[j].Index < cols[j-1].Index; j-- {
			cols[j], cols[j-1] = cols[j-1], cols[j]
			sels[j], sels[j-1] = sels[j-1], sels[j]
		}
	}
	tm.defaults = make([]schema.Datum, len(cols))
	for i, c := range cols {
		tm.defaults[i] = schema.DefaultDatum(&c.Type)
	}
	tm.check = tm.check[:0]
	for _, c := range cols {
		tm.check = append(tm.check, c.Index)
	}
	for _, conds := range tm.reqConds {
		tm.addCheckCols(conds)
	}
	if found < len(tm.reqConds) {
		tm.setConds(tm.reqConds[found])
	}
	tm.reqConds = nil
}

// Create handles "monitor" (V1), "monitor_cond" (V2) and
// "monitor_cond_since" (V3). params are the full request params (the
// database name first, already resolved to db). It returns the reply
// result, C-identical, or a C-identical error.
func (mg *Manager) Create(ss Session, db *ovsdb.Database, v Version, params []any) (any, error) {
	if (v == V1 && len(params) < 3) || (v == V2 && len(params) != 3) || (v == V3 && len(params) != 4) {
		return nil, ovsdberr.Syntax(params, "invalid parameters")
	}
	id, reqs := params[1], params[2]
	reqObj, ok := reqs.(map[string]any)
	if !ok {
		return nil, synErr(reqs, "monitor-requests must be object")
	}
	cl, err := mg.clientFor(ss)
	if err != nil {
		return nil, err
	}
	key := cjson.String(id)
	cl.mu.Lock()
	_, dup := cl.monitors[key]
	cl.mu.Unlock()
	if dup {
		return nil, ovsdberr.Syntax(id, "duplicate monitor ID")
	}
	sch := db.Schema()
	m := &monitor{id: id, key: key, version: v, cl: cl, tables: map[string]*tableMon{}}
	// C walks the request object in its hash-table order, which decides
	// the error reported first and which request's condition applies to
	// a table with several (condOrder). Members sharing a bucket would
	// follow the request's textual order, which we do not keep: sorted
	// stands in.
	order := chash.Order(sortedKeys(reqObj)...)
	counts := make(map[string]int, len(order))
	for _, name := range order {
		ts := sch.Tables[name]
		if ts == nil {
			return nil, synErr(nil, "no table named %s", name)
		}
		tm := &tableMon{t: ts}
		m.tables[name] = tm
		seen := map[int]bool{}
		if arr, ok := reqObj[name].([]any); ok {
			for _, r := range arr {
				if err := parseTableRequest(tm, v, r, seen); err != nil {
					return nil, err
				}
			}
		} else if err := parseTableRequest(tm, v, reqObj[name], seen); err != nil {
			return nil, err
		}
		counts[name] = len(tm.reqConds)
	}
	applied := condOrder(order, counts)
	for name, tm := range m.tables {
		finishTable(tm, applied[name])
	}
	var since schema.UUID
	if v == V3 {
		s, ok := params[3].(string)
		if !ok {
			// Syntax, not synErr: a JSON null is shown ("syntax":"null").
			return nil, ovsdberr.Syntax(params[3], "last-txn-id must be string")
		}
		u, err := schema.ParseUUID(s)
		if err != nil {
			return nil, synErr(params[3], "last-txn-id must be UUID format.")
		}
		since = u
	}
	ds := mg.dbFor(db)
	m.ds = ds
	m.computeShape()

	// Updates of this client's other monitors for commits made so far
	// precede this reply (as for any reply; see Flush). Then hold this
	// client's updates until the reply is written, so that the new
	// monitor's updates never overtake the reply that starts it.
	cl.flush()
	cl.hold()
	ss.AfterReply(cl.unhold)

	var result any
	found := false
	var last schema.UUID
	db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
		ds.mu.Lock()
		m.start = ds.seq
		last = ds.lastID
		var missed []txnRec
		if v == V3 && since != zeroUUID {
			if since == ds.lastID {
				found = true
			} else if since == ds.histBase {
				found = true
				missed = append([]txnRec(nil), ds.history...)
			} else {
				for i, rec := range ds.history {
					if rec.id == since {
						found = true
						missed = append([]txnRec(nil), ds.history[i+1:]...)
						break
					}
				}
			}
		}
		ds.monitors[m] = struct{}{}
		ds.mu.Unlock()
		if found {
			upd := composeChanges(v, m.tables, mergeChanges(missed))
			if upd == nil {
				upd = map[string]any{}
			}
			result = upd
		} else {
			result = composeInitial(v, m.tables, tables)
		}
	})
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		ds.remove(m)
		return nil, ovsdberr.New(ovsdberr.TagInternal, "session closed")
	}
	cl.monitors[key] = m
	cl.mu.Unlock()
	if v == V3 {
		return []any{found, last.String(), result}, nil
	}
	return result, nil
}

// mergeChanges folds consecutive change sets into one (first old, last
// new per row), as C's change tracking does.
func mergeChanges(recs []txnRec) *ovsdb.ChangeSet {
	out := &ovsdb.ChangeSet{Tables: map[string]map[schema.UUID]*ovsdb.RowChange{}}
	for _, rec := range recs {
		for t, rows := range rec.cs.Tables {
			m := out.Tables[t]
			if m == nil {
				m = map[schema.UUID]*ovsdb.RowChange{}
				out.Tables[t] = m
			}
			for id, rc := range rows {
				if prev := m[id]; prev != nil {
					m[id] = &ovsdb.RowChange{Old: prev.Old, New: rc.New}
				} else {
					m[id] = &ovsdb.RowChange{Old: rc.Old, New: rc.New}
				}
			}
		}
	}
	for t, rows := range out.Tables {
		for id, rc := range rows {
			if rc.Old == nil && rc.New == nil {
				delete(rows, id)
			}
		}
		if len(rows) == 0 {
			delete(out.Tables, t)
		}
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// CondChange handles "monitor_cond_change" [old-id, new-id, requests]:
// the updates for rows entering or leaving the conditions are written
// before it returns (so before the reply).
func (mg *Manager) CondChange(ss Session, params []any) (any, error) {
	if len(params) != 3 {
		return nil, ovsdberr.Syntax(params, "invalid parameters")
	}
	mg.mu.Lock()
	cl := mg.clients[ss]
	mg.mu.Unlock()
	var m *monitor
	if cl != nil {
		cl.mu.Lock()
		m = cl.monitors[cjson.String(params[0])]
		cl.mu.Unlock()
	}
	if m == nil {
		return nil, ovsdberr.Syntax(params[0], "unknown monitor session")
	}
	newID := params[1]
	newKey := cjson.String(newID)
	changing := newKey != m.key
	if changing {
		cl.mu.Lock()
		_, dup := cl.monitors[newKey]
		cl.mu.Unlock()
		if dup {
			return nil, ovsdberr.Syntax(newID, "duplicate monitor ID")
		}
	}
	reqs, ok := params[2].(map[string]any)
	if !ok {
		return nil, synErr(nil, "monitor-cond-change-requests must be object")
	}
	sch := m.ds.db.Schema()
	newConds := map[string][]ovsdb.Condition{}
	condCols := map[string][][]ovsdb.Condition{}
	for _, name := range chash.Order(sortedKeys(reqs)...) {
		ts := sch.Tables[name]
		if ts == nil {
			return nil, synErr(nil, "no table named %s", name)
		}
		if m.tables[name] == nil {
			return nil, synErr(nil, "no table named %s in monitor session", name)
		}
		arr, ok := reqs[name].([]any)
		if !ok {
			return nil, synErr(nil, "table %s no monitor-cond-change JSON array", name)
		}
		for _, r := range arr {
			p := schema.NewParser(r, "table "+name)
			cols := p.Member("columns", schema.KArray|schema.KOptional)
			where := p.Member("where", schema.KArray|schema.KOptional)
			if err := p.Finish(); err != nil {
				return nil, err
			}
			if cols != nil {
				return nil, ovsdberr.Syntax(r, "changing columns is unsupported")
			}
			conds := []ovsdb.Condition{}
			if where != nil {
				var err error
				if conds, err = ovsdb.ParseConditions(ts, where, nil); err != nil {
					return nil, err
				}
			}
			if m.version != V1 {
				// Each request replaces the table's one applied
				// condition (so the last one wins), and C adds the
				// columns of every one to the table.
				newConds[name] = conds
				condCols[name] = append(condCols[name], conds)
			}
		}
	}
	ds := m.ds
	ds.procMu.Lock()
	if changing {
		cl.mu.Lock()
		delete(cl.monitors, m.key)
		m.id, m.key = newID, newKey
		cl.monitors[newKey] = m
		cl.mu.Unlock()
	}
	ds.db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
		// Every commit so far is queued: deliver it under the old
		// conditions first.
		ds.processLocked()
		for name, list := range condCols {
			for _, conds := range list {
				m.tables[name].addCheckCols(conds)
			}
		}
		out := map[string]any{}
		for name, conds := range newConds {
			tm := m.tables[name]
			if ovsdb.CompareConditions(tm.conds, conds) == 0 {
				continue
			}
			old := tm.conds
			tm.setConds(conds)
			composeCondChange(m.version, name, tm, old, tables[name], out)
		}
		m.computeShape()
		if len(out) > 0 {
			ds.mu.Lock()
			last := ds.lastID
			ds.mu.Unlock()
			raw := cjson.Marshal(out)
			cl.send(m.notification(last, raw))
		}
	})
	ds.procMu.Unlock()
	cl.waitDrained()
	return map[string]any{}, nil
}

// Cancel handles "monitor_cancel" [id]. Errors are C's bare strings
// "invalid parameters" and "unknown monitor", returned as ErrorValue.
func (mg *Manager) Cancel(ss Session, params []any) (any, error) {
	if len(params) != 1 {
		return nil, errInvalidParams
	}
	mg.mu.Lock()
	cl := mg.clients[ss]
	mg.mu.Unlock()
	var m *monitor
	if cl != nil {
		key := cjson.String(params[0])
		cl.mu.Lock()
		m = cl.monitors[key]
		delete(cl.monitors, key)
		cl.mu.Unlock()
	}
	if m == nil {
		return nil, errUnknownMonitor
	}
	m.ds.procMu.Lock()
	m.ds.remove(m)
	m.ds.procMu.Unlock()
	return map[string]any{}, nil
}

// StringError is an error whose JSON-RPC "error" member is a bare string.
type StringError string

func (e StringError) Error() string { return string(e) }

const (
	errInvalidParams  = StringError("invalid parameters")
	errUnknownMonitor = StringError("unknown monitor")
)

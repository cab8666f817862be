package monitor

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// Version is the monitor protocol flavour.
type Version int

// Monitor versions: "monitor" (update), "monitor_cond" (update2) and
// "monitor_cond_since" (update3).
const (
	V1 Version = 1
	V2 Version = 2
	V3 Version = 3
)

// Select bits, as C's OJMS_*.
const (
	selInitial = 1 << iota
	selInsert
	selDelete
	selModify
	selAll = selInitial | selInsert | selDelete | selModify
)

// tableMon is what one monitor watches in one table.
type tableMon struct {
	t *schema.Table
	// sel is the union of the select flags of the table's columns: a row
	// change of a kind no column selects is not sent at all.
	sel int
	// cols are the monitored columns, in schema index order.
	cols []*schema.Column
	// colSel[i] are the select flags of the request that named cols[i]
	// (C keeps them per column): an update of a kind includes only the
	// columns whose select allows that kind.
	colSel []int
	// check are the column indexes whose change makes a "modify": the
	// monitored columns plus the columns of every condition the monitor
	// ever had for the table (C adds them to the monitored table as
	// unmonitored columns and never removes them): those of all the
	// table's requests, not only the one whose condition applies (see
	// condOrder), and those of every monitor_cond_change.
	check []int
	// conds is the "where" disjunction (v2/v3); empty means true.
	conds []ovsdb.Condition
	// reqConds are the conditions of the table's requests, in request
	// order, until finishTable picks the one C applies.
	reqConds [][]ovsdb.Condition
	// defaults are the default datums of cols (update2 omits defaults).
	defaults []schema.Datum
}

// addCheckCols adds the columns of conds to tm.check.
func (tm *tableMon) addCheckCols(conds []ovsdb.Condition) {
	for i := range conds {
		c := conds[i].Column
		if c == nil || slices.Contains(tm.check, c.Index) {
			continue
		}
		tm.check = append(tm.check, c.Index)
	}
}

// setConds makes conds the table's condition.
func (tm *tableMon) setConds(conds []ovsdb.Condition) {
	tm.conds = conds
	tm.addCheckCols(conds)
}

// shapeKey describes everything that determines the updates' bytes.
func (tm *tableMon) shapeKey(b *strings.Builder) {
	b.WriteString(tm.t.Name)
	b.WriteByte('|')
	b.WriteByte(byte('0' + tm.sel))
	for i, c := range tm.cols {
		b.WriteByte(',')
		b.WriteString(c.Name)
		b.WriteByte(byte('0' + tm.colSel[i]))
	}
	b.WriteByte('|')
	for _, i := range tm.check {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte(',')
	}
	b.WriteByte('|')
	js := make([]any, len(tm.conds))
	for i := range tm.conds {
		js[i] = tm.conds[i].ToJSON()
	}
	b.Write(cjson.Marshal(js))
	b.WriteByte(';')
}

func matchRow(conds []ovsdb.Condition, r *ovsdb.Row) bool {
	return r != nil && ovsdb.MatchAny(conds, r)
}

// rowType returns the kind of update (select bit) for a row change, or 0
// for none, following C's rules for conditions: a modify that enters the
// condition becomes an insert, one that leaves it a delete.
func rowType(v Version, initial bool, oldConds, newConds []ovsdb.Condition, old, new *ovsdb.Row) int {
	t := selModify
	switch {
	case initial:
		t = selInitial
	case old == nil:
		t = selInsert
	case new == nil:
		t = selDelete
	}
	if v == V1 {
		return t
	}
	oc, nc := matchRow(oldConds, old), matchRow(newConds, new)
	if !oc && !nc {
		return 0
	}
	switch t {
	case selInitial, selInsert:
		if !nc {
			return 0
		}
	case selModify:
		if !oc {
			return selInsert
		}
		if !nc {
			return selDelete
		}
	case selDelete:
		if !oc {
			return 0
		}
	}
	return t
}

// rowUpdate returns the <row-update> (v1) or <row-update2> (v2/v3) for one
// row change, or nil if nothing is to be sent.
func (tm *tableMon) rowUpdate(v Version, initial bool, oldConds []ovsdb.Condition, old, new *ovsdb.Row) any {
	t := rowType(v, initial, oldConds, tm.conds, old, new)
	if t == 0 || tm.sel&t == 0 {
		return nil
	}
	if t == selModify {
		changed := false
		for _, i := range tm.check {
			if !old.Field(i).Equal(new.Field(i)) {
				changed = true
				break
			}
		}
		if !changed {
			return nil
		}
	}
	if v == V1 {
		out := map[string]any{}
		var oj, nj map[string]any
		if t&(selDelete|selModify) != 0 {
			oj = map[string]any{}
			out["old"] = oj
		}
		if t&(selInitial|selInsert|selModify) != 0 {
			nj = map[string]any{}
			out["new"] = nj
		}
		for k, c := range tm.cols {
			if tm.colSel[k]&t == 0 {
				continue
			}
			if t == selDelete || (t == selModify && !old.Field(c.Index).Equal(new.Field(c.Index))) {
				oj[c.Name] = schema.DatumToJSON(&c.Type, old.Field(c.Index))
			}
			if nj != nil {
				nj[c.Name] = schema.DatumToJSON(&c.Type, new.Field(c.Index))
			}
		}
		return out
	}
	if t == selDelete {
		return map[string]any{"delete": nil}
	}
	diff := map[string]any{}
	for k, c := range tm.cols {
		if tm.colSel[k]&t == 0 {
			continue
		}
		if t == selModify {
			o, n := old.Field(c.Index), new.Field(c.Index)
			if o.Equal(n) {
				continue
			}
			diff[c.Name] = schema.DatumToJSON(&c.Type, schema.DatumDiff(&c.Type, o, n))
			continue
		}
		if d := new.Field(c.Index); !d.Equal(tm.defaults[k]) {
			diff[c.Name] = schema.DatumToJSON(&c.Type, d)
		}
	}
	op := "insert"
	switch t {
	case selInitial:
		op = "initial"
	case selModify:
		op = "modify"
	}
	return map[string]any{op: diff}
}

// tableNames returns the sorted table names of a monitor.
func sortedTables(m map[string]*tableMon) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// composeChanges returns the table-updates for one change set, or nil.
func composeChanges(v Version, tables map[string]*tableMon, cs *ovsdb.ChangeSet) map[string]any {
	var out map[string]any
	for name, rows := range cs.Tables {
		tm := tables[name]
		if tm == nil {
			continue
		}
		var tj map[string]any
		for id, rc := range rows {
			ru := tm.rowUpdate(v, false, tm.conds, rc.Old, rc.New)
			if ru == nil {
				continue
			}
			if tj == nil {
				tj = map[string]any{}
				if out == nil {
					out = map[string]any{}
				}
				out[name] = tj
			}
			tj[id.String()] = ru
		}
	}
	return out
}

// composeInitial returns the initial table-updates from a snapshot.
func composeInitial(v Version, tables map[string]*tableMon, snap map[string]map[schema.UUID]*ovsdb.Row) map[string]any {
	out := map[string]any{}
	for name, tm := range tables {
		if tm.sel&selInitial == 0 {
			continue
		}
		var tj map[string]any
		for id, r := range snap[name] {
			ru := tm.rowUpdate(v, true, tm.conds, nil, r)
			if ru == nil {
				continue
			}
			if tj == nil {
				tj = map[string]any{}
				out[name] = tj
			}
			tj[id.String()] = ru
		}
	}
	return out
}

// composeCondChange returns the updates for rows entering or leaving the
// condition when a table's condition changes from oldConds to tm.conds.
func composeCondChange(v Version, name string, tm *tableMon, oldConds []ovsdb.Condition,
	rows map[schema.UUID]*ovsdb.Row, out map[string]any) {
	var tj map[string]any
	for id, r := range rows {
		ru := tm.rowUpdate(v, false, oldConds, r, r)
		if ru == nil {
			continue
		}
		if tj == nil {
			tj = map[string]any{}
			out[name] = tj
		}
		tj[id.String()] = ru
	}
}

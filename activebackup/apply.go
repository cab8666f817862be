package activebackup

// Applying what the active server sends (a monitor's initial contents
// and its updates, in the forms of "monitor", "monitor_cond" and
// "monitor_cond_since") to a database as transactions of the operation
// grammar, through its standalone mode: the changes are written to the
// file before they are visible, and the database's monitors see them as
// any commit.

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// plan is one replicated change: what each row it touches must become,
// by table and id (nil: the row must not exist).
type plan map[string]map[schema.UUID]*target

// target is a row as it must be: its fields (every column; _uuid and
// _version are not written) when the row exists, or, for a row to
// insert, the active server's JSON row as received (parsed once, by the
// insert operation).
type target struct {
	fields []schema.Datum
	row    map[string]any
}

// jsonRow returns the row object js without its "_" members (_version:
// the backup's rows have their own).
func jsonRow(js any) (map[string]any, error) {
	obj, ok := js.(map[string]any)
	if !ok {
		return nil, ovsdberr.New("Not a JSON object", "<row> is not object")
	}
	for name := range obj {
		if strings.HasPrefix(name, "_") {
			out := make(map[string]any, len(obj))
			for k, v := range obj {
				if !strings.HasPrefix(k, "_") {
					out[k] = v
				}
			}
			return out, nil
		}
	}
	return obj, nil
}

// consistencyError is an update that does not fit the contents (a
// "modify" of a row the backup lacks): C logs such errors and goes on.
type consistencyError struct{ msg string }

func (e *consistencyError) Error() string { return "consistency violation: " + e.msg }

// defaults returns the fields of a row whose columns all have their
// default values.
func defaults(ts *schema.Table) []schema.Datum {
	f := make([]schema.Datum, len(ts.Columns))
	for _, c := range ts.Columns {
		f[c.Index] = schema.DefaultDatum(&c.Type)
	}
	return f
}

func rowFields(ts *schema.Table, r *ovsdb.Row) []schema.Datum {
	f := make([]schema.Datum, len(ts.Columns))
	for i := range f {
		f[i] = r.Field(i)
	}
	return f
}

// setColumns sets the columns of the JSON row object row in f: whole
// values, or update2 diffs of f's values when diff is true.
func setColumns(ts *schema.Table, f []schema.Datum, row any, diff bool) error {
	obj, ok := row.(map[string]any)
	if !ok {
		return ovsdberr.New("Not a JSON object", "<row> is not object")
	}
	for name, js := range obj {
		if strings.HasPrefix(name, "_") {
			continue // _version: the backup's rows have their own
		}
		c := ts.ByName[name]
		if c == nil {
			return ovsdberr.Syntax(row, "No column %s in table %s.", name, ts.Name)
		}
		if !diff {
			d, err := schema.ParseDatum(&c.Type, js, nil)
			if err != nil {
				return err
			}
			f[c.Index] = d
			continue
		}
		d, err := schema.ParseDatumNoSize(&c.Type, js, nil)
		if err != nil {
			return err
		}
		nd, err := applyDiff(&c.Type, f[c.Index], d)
		if err != nil {
			return err
		}
		f[c.Index] = nd
	}
	return nil
}

// applyDiff applies an update2 "modify" value to a (schema.ApplyDiff)
// and checks the result against the column's constraints.
func applyDiff(t *schema.Type, a, diff schema.Datum) (schema.Datum, error) {
	out, err := schema.ApplyDiff(t, a, diff)
	if err != nil {
		return a, err
	}
	if err := schema.CheckDatum(t, out); err != nil {
		return a, err
	}
	return out, nil
}

// tableUpdates checks the shape of a <table-updates> or
// <table-updates2> object.
func tableUpdates(js any) (map[string]map[string]any, error) {
	obj, ok := js.(map[string]any)
	if !ok {
		return nil, ovsdberr.New("Not a JSON object", "<table-updates> is not object")
	}
	out := make(map[string]map[string]any, len(obj))
	for t, tu := range obj {
		rows, ok := tu.(map[string]any)
		if !ok {
			return nil, ovsdberr.New("Not a JSON object", "<table-update> for table is not object")
		}
		out[t] = rows
	}
	return out, nil
}

// planChanges turns the updates of one transaction of the active server
// (v2: <table-updates2>, else <table-updates>) into the rows to write,
// given the current contents. Rows an update cannot apply to are logged
// by the caller (C's consistency violations) through skipped.
func planChanges(sch *schema.DatabaseSchema, tables map[string]map[schema.UUID]*ovsdb.Row,
	js any, v2 bool, skipped func(error)) (plan, error) {
	tus, err := tableUpdates(js)
	if err != nil {
		return nil, err
	}
	p := plan{}
	for tn, rows := range tus {
		ts := sch.Tables[tn]
		if ts == nil {
			return nil, ovsdberr.New("unknown table", "unknown table %s", tn)
		}
		p[tn] = map[schema.UUID]*target{}
		for us, ru := range rows {
			id, err := schema.ParseUUID(us)
			if err != nil {
				return nil, ovsdberr.WithSyntax("bad row UUID", rows, "<table-update> names must be UUIDs")
			}
			obj, ok := ru.(map[string]any)
			if !ok {
				return nil, ovsdberr.New("Not a JSON object", "<row-update> is not object")
			}
			local := tables[tn][id]
			tg, err := rowTarget(ts, id, local, obj, v2)
			var ce *consistencyError
			if errors.As(err, &ce) {
				skipped(err)
				continue
			}
			if err != nil {
				return nil, err
			}
			p[tn][id] = tg
		}
	}
	return p, nil
}

// rowTarget is what one <row-update> (v2: <row-update2>) makes of the
// row id, whose current state is local (nil: absent); nil to delete it.
func rowTarget(ts *schema.Table, id schema.UUID, local *ovsdb.Row, ru map[string]any, v2 bool) (*target, error) {
	whole := func(js any) (*target, error) {
		if local == nil {
			row, err := jsonRow(js)
			return &target{row: row}, err
		}
		f := defaults(ts)
		return &target{fields: f}, setColumns(ts, f, js, false)
	}
	if !v2 {
		oldJS, hasOld := ru["old"]
		newJS, hasNew := ru["new"]
		switch {
		case !hasNew || newJS == nil:
			return nil, nil
		case !hasOld || oldJS == nil || local == nil:
			// An insertion; a modification of a row the backup lacks
			// carries the whole row too (every column is monitored).
			return whole(newJS)
		default:
			f := rowFields(ts, local)
			return &target{fields: f}, setColumns(ts, f, newJS, false)
		}
	}
	if len(ru) != 1 {
		return nil, ovsdberr.New("Not a JSON object", "<row-update2> must have exactly one member")
	}
	for kind, v := range ru {
		switch kind {
		case "initial", "insert":
			return whole(v)
		case "modify":
			if local == nil {
				return nil, &consistencyError{fmt.Sprintf("cannot modify missing row %s in table %s", id, ts.Name)}
			}
			f := rowFields(ts, local)
			return &target{fields: f}, setColumns(ts, f, v, true)
		case "delete":
			return nil, nil
		default:
			return nil, ovsdberr.New("syntax error", "unknown <row-update2> member %s", kind)
		}
	}
	return nil, nil
}

// planFull turns a monitor's initial contents (found = false: the whole
// contents of the monitored tables) into the rows to write: every row of
// a monitored table that the active server does not have is deleted.
func planFull(sch *schema.DatabaseSchema, tables map[string]map[schema.UUID]*ovsdb.Row,
	monitored []string, js any, v2 bool, skipped func(error)) (plan, error) {
	p, err := planChanges(sch, tables, js, v2, skipped)
	if err != nil {
		return nil, err
	}
	for _, tn := range monitored {
		if p[tn] == nil {
			p[tn] = map[schema.UUID]*target{}
		}
		for id := range tables[tn] {
			if _, ok := p[tn][id]; !ok {
				p[tn][id] = nil
			}
		}
	}
	return p, nil
}

// ops returns the operations that make the contents what p says, in one
// transaction; rows already as p says are not written. The operation
// grammar does not change an immutable column, nor insert a row deleted
// in the same transaction: a row whose immutable columns differ from the
// active server's (the same id given by two servers to different rows,
// which only explicit "uuid" members on both sides can do) keeps them,
// its other columns are written, and skipped is told (C overwrites it).
func (p plan) ops(sch *schema.DatabaseSchema, tables map[string]map[schema.UUID]*ovsdb.Row, skipped func(error)) []any {
	var ops []any
	tnames := make([]string, 0, len(p))
	for tn := range p {
		tnames = append(tnames, tn)
	}
	sort.Strings(tnames)
	for _, tn := range tnames {
		ts := sch.Tables[tn]
		ids := make([]schema.UUID, 0, len(p[tn]))
		for id := range p[tn] {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return schema.CompareAtoms(ids[i], ids[j]) < 0 })
		for _, id := range ids {
			tg := p[tn][id]
			local := tables[tn][id]
			where := []any{[]any{"_uuid", "==", []any{"uuid", id.String()}}}
			switch {
			case local == nil && tg == nil:
			case local == nil && tg.row != nil:
				ops = append(ops, map[string]any{"op": "insert", "table": tn, "uuid": id.String(), "row": tg.row})
			case local == nil:
				ops = append(ops, insertOp(ts, id, tg.fields))
			case tg == nil:
				ops = append(ops, map[string]any{"op": "delete", "table": tn, "where": where})
			default:
				f := tg.fields
				row := map[string]any{}
				for _, c := range ts.Columns[2:] {
					if d := local.Field(c.Index); !d.Equal(f[c.Index]) {
						if !c.Mutable {
							skipped(&consistencyError{fmt.Sprintf("cannot change immutable column %s of row %s in table %s", c.Name, id, tn)})
							continue
						}
						row[c.Name] = schema.DatumToJSON(&c.Type, f[c.Index])
					}
				}
				if len(row) > 0 {
					ops = append(ops, map[string]any{"op": "update", "table": tn, "where": where, "row": row})
				}
			}
		}
	}
	return ops
}

func insertOp(ts *schema.Table, id schema.UUID, f []schema.Datum) map[string]any {
	row := map[string]any{}
	for _, c := range ts.Columns[2:] {
		if d := f[c.Index]; !d.Equal(schema.DefaultDatum(&c.Type)) {
			row[c.Name] = schema.DatumToJSON(&c.Type, d)
		}
	}
	return map[string]any{"op": "insert", "table": ts.Name, "uuid": id.String(), "row": row}
}

// resultError returns the first error of a transaction's result array.
func resultError(res []any) error {
	if res == nil {
		return fmt.Errorf("transaction canceled")
	}
	for _, r := range res {
		if m, ok := r.(map[string]any); ok {
			if e, ok := m["error"]; ok {
				msg := fmt.Sprint(e)
				if d, ok := m["details"]; ok {
					msg += ": " + fmt.Sprint(d)
				}
				return fmt.Errorf("%s", msg)
			}
		}
	}
	return nil
}

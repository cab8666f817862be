// The select operation, and the query every operation with a "where"
// clause runs.

package ovsdb

import (
	"sort"

	"github.com/ovsdb-go/ovsdb-server/schema"
)

// query returns the rows of t matching conds, using the _uuid index when
// the first (sorted) clause is "_uuid == <uuid>", as C does.
func (x *txn) query(t *table, conds []Condition) []*Row {
	if len(conds) > 0 && conds[0].Function == FuncEQ && conds[0].Column.Index == schema.ColUUID &&
		len(conds[0].Arg.Keys) == 1 {
		if r := x.get(t, conds[0].Arg.Keys[0].(schema.UUID)); r != nil && MatchAll(conds, r) {
			return []*Row{r}
		}
		return nil
	}
	var out []*Row
	x.scan(t, func(r *Row) bool {
		if MatchAll(conds, r) {
			out = append(out, r)
		}
		return true
	})
	return out
}

// execSelect answers the rows matching "where", with the given columns
// (duplicates dropped when "columns" excludes _uuid), sorted by "sort".
func execSelect(x *txn, p *parser) (any, error) {
	t := x.parseTable(p, "table")
	where := p.member("where", kArray)
	colsJS := p.member("columns", kArray|kOptional)
	sortJS := p.member("sort", kArray|kOptional)
	if p.err != nil {
		return nil, p.err
	}
	conds, err := ParseConditions(t.ts, where, x.symtab)
	if err != nil {
		return nil, err
	}
	cols, err := parseColumns(colsJS, t)
	if err != nil {
		return nil, err
	}
	var sortCols []*schema.Column
	if sortJS != nil {
		if sortCols, err = parseColumns(sortJS, t); err != nil {
			return nil, err
		}
	}
	rows := x.query(t, conds)
	if colsJS != nil && !containsCol(cols, schema.ColUUID) && len(rows) > 1 {
		seen := make(map[string]bool, len(rows))
		out := rows[:0]
		for _, r := range rows {
			k := indexKey(r, cols)
			if !seen[k] {
				seen[k] = true
				out = append(out, r)
			}
		}
		rows = out
	}
	if len(sortCols) > 0 {
		sort.SliceStable(rows, func(i, j int) bool { return compareRows(rows[i], rows[j], sortCols) < 0 })
	}
	out := make([]any, len(rows))
	for i, r := range rows {
		out[i] = rowToJSON(r, cols)
	}
	return map[string]any{"rows": out}, nil
}

func rowToJSON(r *Row, cols []*schema.Column) map[string]any {
	m := make(map[string]any, len(cols))
	for _, c := range cols {
		m[c.Name] = schema.DatumToJSON(&c.Type, r.Field(c.Index))
	}
	return m
}

func containsCol(cols []*schema.Column, idx int) bool {
	for _, c := range cols {
		if c.Index == idx {
			return true
		}
	}
	return false
}

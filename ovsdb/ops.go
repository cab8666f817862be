// The operations of a transaction (RFC 7047 section 5.2): parsing their
// members, rows and columns, and executing each.

package ovsdb

import (
	"math"
	"sort"

	"github.com/ovsdb-go/ovsdb-server/internal/chash"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

func (x *txn) parseTable(p *parser, member string) *table {
	v := p.member(member, kID)
	if v == nil {
		return nil
	}
	name := v.(string)
	if x.lastTable != nil && x.lastTable.ts.Name == name {
		return x.lastTable // consecutive ops usually name the same table
	}
	t := x.db.tables[name]
	x.lastTable = t
	if t == nil {
		p.raise("No table named %s.", v.(string))
	}
	return t
}

// parseRow parses a row object into fields (pre-filled by the caller) and
// returns the columns it set, in name order.
func (x *txn) parseRow(js any, t *table, fields []schema.Datum) ([]*schema.Column, error) {
	obj, ok := js.(map[string]any)
	if !ok {
		return nil, ovsdberr.Syntax(js, "row must be JSON object")
	}
	if len(obj) == 1 {
		// One member: no order to establish.
		for name, v := range obj {
			c := t.ts.Column(name)
			if c == nil {
				return nil, ovsdberr.WithSyntax("unknown column", js, "No column %s in table %s.", name, t.ts.Name)
			}
			d, err := schema.ParseDatum(&c.Type, v, x.symtab)
			if err != nil {
				return nil, err
			}
			fields[c.Index] = d
			return []*schema.Column{c}, nil
		}
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) > 1 {
		// C parses the row in its JSON hash-table order, which decides the
		// error reported first. Members sharing a bucket would follow the
		// request's textual order, which we do not keep: sorted stands in.
		names = chash.Order(names...)
	}
	cols := make([]*schema.Column, 0, len(names))
	for _, name := range names {
		c := t.ts.Column(name)
		if c == nil {
			return nil, ovsdberr.WithSyntax("unknown column", js, "No column %s in table %s.", name, t.ts.Name)
		}
		d, err := schema.ParseDatum(&c.Type, obj[name], x.symtab)
		if err != nil {
			return nil, err
		}
		fields[c.Index] = d
		cols = append(cols, c)
	}
	return cols, nil
}

// parseRowFields is parseRow for callers that do not need the columns in
// C's order: members are parsed in any order and only when one fails is
// the row parsed again in C's order, so the error reported is C's.
func (x *txn) parseRowFields(js any, t *table, fields []schema.Datum) error {
	obj, ok := js.(map[string]any)
	if !ok || len(obj) <= 1 {
		_, err := x.parseRow(js, t, fields)
		return err
	}
	for name, v := range obj {
		c := t.ts.Column(name)
		if c == nil {
			_, err := x.parseRow(js, t, fields)
			return err
		}
		d, err := schema.ParseDatum(&c.Type, v, x.symtab)
		if err != nil {
			_, err := x.parseRow(js, t, fields)
			return err
		}
		fields[c.Index] = d
	}
	return nil
}

func (t *table) newFields() []schema.Datum {
	return append([]schema.Datum(nil), t.defaults...)
}

func execInsert(x *txn, p *parser, _ bool) (any, error) {
	t := x.parseTable(p, "table")
	uuidJS := p.member("uuid", kString|kOptional)
	nameJS := p.member("uuid-name", kID|kOptional)
	rowJS := p.member("row", kObject)
	if p.err != nil {
		return nil, p.err
	}
	var id schema.UUID
	if uuidJS != nil {
		u, err := schema.ParseUUID(uuidJS.(string))
		if err != nil {
			return nil, ovsdberr.Syntax(uuidJS, "bad uuid")
		}
		id = u
		if !x.mayCreate(t, id) {
			return nil, ovsdberr.WithSyntax("duplicate uuid", uuidJS,
				"This UUID would duplicate a UUID already present within the table or deleted within the same transaction.")
		}
	}
	if nameJS != nil {
		sym := x.symtab.insert(nameJS.(string))
		if sym.created {
			return nil, ovsdberr.WithSyntax(ovsdberr.TagDuplicateUUIDName, nameJS,
				"This \"uuid-name\" appeared on an earlier \"insert\" operation.")
		}
		if uuidJS != nil {
			sym.uuid = id
		} else {
			id = sym.uuid
		}
		sym.created = true
	} else if uuidJS == nil {
		id = x.newUUID()
	}
	if r, ok, err := x.newInsertRow(t, id, rowJS); ok {
		if err != nil {
			return nil, err
		}
		// As in C, an inserted row gets its _version now (whatever the
		// request said): later operations of the transaction see it, and
		// it is the row's _version after commit.
		r.setVersion(x.newUUID())
		x.insert(t, r)
		return newInsertResult(id), nil
	}
	fields := t.newFields()
	if err := x.parseRowFields(rowJS, t, fields); err != nil {
		return nil, err
	}
	for _, c := range cColumns(t.ts) {
		if d := fields[c.Index]; len(d.Keys) == 1 {
			if err := schema.CheckDatum(&c.Type, d); err != nil {
				return nil, err
			}
		}
	}
	fields[schema.ColUUID] = schema.NewScalar(id)
	fields[schema.ColVersion] = schema.NewScalar(x.newUUID())
	x.insert(t, &Row{Fields: fields})
	return newInsertResult(id), nil
}

// parseColumns parses an optional "columns" array (nil: all columns).
func parseColumns(js any, t *table) ([]*schema.Column, error) {
	if js == nil {
		return t.ts.Columns, nil
	}
	bad := func() error { return ovsdberr.Syntax(js, "array of distinct column names expected") }
	arr, ok := js.([]any)
	if !ok {
		return nil, bad()
	}
	cols := make([]*schema.Column, 0, len(arr))
	seen := map[int]bool{}
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, bad()
		}
		c := t.ts.Column(s)
		if c == nil {
			return nil, ovsdberr.Syntax(js, "%s is not a valid column name", s)
		}
		if seen[c.Index] {
			return nil, bad()
		}
		seen[c.Index] = true
		cols = append(cols, c)
	}
	return cols, nil
}

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

func rowToJSON(r *Row, cols []*schema.Column) map[string]any {
	m := make(map[string]any, len(cols))
	for _, c := range cols {
		m[c.Name] = schema.DatumToJSON(&c.Type, r.Field(c.Index))
	}
	return m
}

func execSelect(x *txn, p *parser, _ bool) (any, error) {
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

func containsCol(cols []*schema.Column, idx int) bool {
	for _, c := range cols {
		if c.Index == idx {
			return true
		}
	}
	return false
}

func execUpdate(x *txn, p *parser, _ bool) (any, error) {
	t := x.parseTable(p, "table")
	where := p.member("where", kArray)
	rowJS := p.member("row", kObject)
	if p.err != nil {
		return nil, p.err
	}
	fields := make([]schema.Datum, len(t.ts.Columns))
	cols, err := x.parseRow(rowJS, t, fields)
	if err != nil {
		return nil, err
	}
	for _, c := range cols {
		if !c.Mutable {
			return nil, ovsdberr.WithSyntax(ovsdberr.TagConstraint, p.js,
				"Cannot update immutable column %s in table %s.", c.Name, t.ts.Name)
		}
	}
	conds, err := ParseConditions(t.ts, where, x.symtab)
	if err != nil {
		return nil, err
	}
	rows := x.query(t, conds)
	for _, r := range rows {
		same := true
		for _, c := range cols {
			if !r.Field(c.Index).Equal(fields[c.Index]) {
				same = false
				break
			}
		}
		if same {
			continue
		}
		nr := x.modify(t, r)
		for _, c := range cols {
			nr.Fields[c.Index] = fields[c.Index]
		}
	}
	return map[string]any{"count": int64(len(rows))}, nil
}

func execMutate(x *txn, p *parser, _ bool) (any, error) {
	t := x.parseTable(p, "table")
	where := p.member("where", kArray)
	mutJS := p.member("mutations", kArray)
	if p.err != nil {
		return nil, p.err
	}
	muts, err := ParseMutations(t.ts, mutJS, x.symtab)
	if err != nil {
		return nil, err
	}
	conds, err := ParseConditions(t.ts, where, x.symtab)
	if err != nil {
		return nil, err
	}
	rows := x.query(t, conds)
	for _, r := range rows {
		nr := x.modify(t, r)
		if err := ApplyMutations(t.ts, muts, nr.Fields); err != nil {
			return nil, err
		}
	}
	return map[string]any{"count": int64(len(rows))}, nil
}

func execDelete(x *txn, p *parser, _ bool) (any, error) {
	where := p.member("where", kArray)
	t := x.parseTable(p, "table")
	if p.err != nil {
		return nil, p.err
	}
	conds, err := ParseConditions(t.ts, where, x.symtab)
	if err != nil {
		return nil, err
	}
	rows := x.query(t, conds)
	for _, r := range rows {
		x.delete(t, r.UUID())
	}
	return map[string]any{"count": int64(len(rows))}, nil
}

func execWait(x *txn, p *parser, _ bool) (any, error) {
	timeoutJS := p.member("timeout", kInteger|kOptional)
	where := p.member("where", kArray)
	colsJS := p.member("columns", kArray|kOptional)
	until := p.member("until", kString)
	rowsJS := p.member("rows", kArray)
	t := x.parseTable(p, "table")
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
	var timeout int64 = math.MaxInt64
	if timeoutJS != nil {
		timeout, _ = schema.AsInteger(timeoutJS)
		if timeout < 0 {
			return nil, ovsdberr.Syntax(timeoutJS, "timeout must be nonnegative")
		}
		if timeout < x.timeout {
			x.timeout = timeout
		}
	}
	u := until.(string)
	if u != "==" && u != "!=" {
		return nil, ovsdberr.Syntax(until, "\"until\" must be \"==\" or \"!=\"")
	}
	expected := map[string]bool{}
	for _, rj := range rowsJS.([]any) {
		fields := t.newFields()
		if err := x.parseRowFields(rj, t, fields); err != nil {
			return nil, err
		}
		expected[indexKey(&Row{Fields: fields}, cols)] = true
	}
	equal := true
	actual := map[string]bool{}
	x.scan(t, func(r *Row) bool {
		if !MatchAll(conds, r) {
			return true
		}
		k := indexKey(r, cols)
		if !expected[k] {
			equal = false
			return false
		}
		actual[k] = true
		return true
	})
	if equal {
		equal = len(actual) == len(expected)
	}
	if (u == "==") != equal {
		if timeoutJS != nil && x.elapsed >= timeout {
			if x.elapsed > 0 {
				return nil, ovsdberr.New(ovsdberr.TagTimedOut, "\"wait\" timed out after %d ms", x.elapsed)
			}
			return nil, ovsdberr.New(ovsdberr.TagTimedOut, "\"where\" clause test failed")
		}
		return nil, errBlocked
	}
	return map[string]any{}, nil
}

func execCommit(x *txn, p *parser, _ bool) (any, error) {
	if d := p.member("durable", kBool); d != nil && d.(bool) {
		x.durable = true
	}
	return map[string]any{}, nil
}

func execAbort(x *txn, p *parser, _ bool) (any, error) {
	return nil, ovsdberr.New(ovsdberr.TagAborted, "aborted by request")
}

func execComment(x *txn, p *parser, _ bool) (any, error) {
	if c := p.member("comment", kString); c != nil {
		x.comments = append(x.comments, c.(string))
	}
	return map[string]any{}, nil
}

func execAssert(x *txn, p *parser, _ bool) (any, error) {
	p.member("lock", kID)
	return map[string]any{}, nil
}

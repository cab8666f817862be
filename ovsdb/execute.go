package ovsdb

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/chash"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// symbol is one named-uuid binding.
type symbol struct {
	uuid    schema.UUID
	created bool
}

type symtab struct {
	m       map[string]*symbol
	newUUID func() schema.UUID
}

func (s *symtab) insert(name string) *symbol {
	if s.m == nil {
		s.m = map[string]*symbol{}
	}
	sym := s.m[name]
	if sym == nil {
		sym = &symbol{uuid: s.newUUID()}
		s.m[name] = sym
	}
	return sym
}

// Lookup implements schema.Symtab.
func (s *symtab) Lookup(name string, _ *schema.BaseType) schema.UUID { return s.insert(name).uuid }

// JSON member kinds, as C's ovsdb_parser types.
const (
	kNull = 1 << iota
	kBool
	kObject
	kArray
	kInteger
	kReal
	kString
	kID
	kOptional
)

func jsonKind(v any) int {
	switch x := v.(type) {
	case nil:
		return kNull
	case bool:
		return kBool
	case map[string]any:
		return kObject
	case []any:
		return kArray
	case string:
		return kString
	case json.Number:
		if _, ok := schema.AsInteger(x); ok {
			return kInteger
		}
		return kReal
	case int, int64:
		return kInteger
	case float64:
		if _, ok := schema.AsInteger(x); ok {
			return kInteger
		}
		return kReal
	}
	return 0
}

// parser mirrors C's ovsdb_parser: first error wins, unused members are
// reported at finish.
type parser struct {
	js   any
	obj  map[string]any
	name string // "" when opNum/opCount describe an operation
	// opNum and opCount name "ovsdb operation N of M" lazily (only errors
	// need the text).
	opNum, opCount int
	used           []string // distinct members consumed so far
	usedBuf        [6]string
	err            *ovsdberr.Error
}

func (p *parser) init() {
	p.used = p.usedBuf[:0]
	if obj, ok := p.js.(map[string]any); ok {
		p.obj = obj
	} else {
		p.raise("Object expected.")
	}
}

func (p *parser) isUsed(name string) bool {
	for _, u := range p.used {
		if u == name {
			return true
		}
	}
	return false
}

func (p *parser) raise(format string, args ...any) {
	if p.err != nil {
		return
	}
	if p.name == "" {
		p.name = fmt.Sprintf("ovsdb operation %d of %d", p.opNum, p.opCount)
	}
	msg := fmt.Sprintf(format, args...)
	if p.obj == nil {
		p.err = ovsdberr.New(ovsdberr.TagSyntax, "Parsing %s failed: %s", p.name, msg)
		return
	}
	p.err = ovsdberr.Syntax(p.js, "Parsing %s failed: %s", p.name, msg)
}

func (p *parser) member(name string, kinds int) any {
	if p.obj == nil {
		return nil
	}
	v, ok := p.obj[name]
	if !ok {
		if kinds&kOptional == 0 {
			p.raise("Required '%s' member is missing.", name)
		}
		return nil
	}
	k := jsonKind(v)
	if k&kinds != 0 || (kinds&kID != 0 && k == kString && schema.IsValidID(v.(string))) {
		if !p.isUsed(name) {
			p.used = append(p.used, name)
		}
		return v
	}
	p.raise("Type mismatch for member '%s'.", name)
	return nil
}

func (p *parser) finish() *ovsdberr.Error {
	if p.err == nil && p.obj != nil && len(p.used) < len(p.obj) {
		var unused []string
		for k := range p.obj {
			if !p.isUsed(k) {
				unused = append(unused, k)
			}
		}
		sort.Strings(unused)
		n := len(unused)
		if n > 1 {
			s := ""
			if n > 2 {
				s = "s"
			}
			p.raise("Member '%s' and %d other member%s are present but not allowed here.", unused[0], n-1, s)
		} else {
			p.raise("Member '%s' is present but not allowed here.", unused[0])
		}
	}
	return p.err
}

// errBlocked is the internal result of an unsatisfied "wait" that may block.
var errBlocked = ovsdberr.New(ovsdberr.TagNotSupported, "triggers not supported")

type opFunc func(x *txn, p *parser, ro bool) (any, error)

type opDef struct {
	readOnly bool
	fn       opFunc
}

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

// isReadOnly reports whether every op is a read-only op, so that the
// transaction cannot change the database.
func isReadOnly(ops []any) bool {
	for _, op := range ops {
		m, ok := op.(map[string]any)
		if !ok {
			return false
		}
		name, _ := m["op"].(string)
		if d, ok := operations[name]; !ok || !d.readOnly {
			return false
		}
	}
	return true
}

// Transact executes RFC 7047 operations (the params after the database
// name) and returns the result array exactly as the C server builds it.
// It blocks while a "wait" op with a non-zero timeout is unsatisfied,
// re-executing the transaction whenever the database changes. If ctx is
// canceled while blocked, it returns nil: the caller answers the request
// with the JSON-RPC error "canceled" as C's "cancel" method does.
func (db *Database) Transact(ctx context.Context, ops []any, opts TransactOptions) []any {
	start := time.Now()
	ro := isReadOnly(ops)
	var elapsed int64
	for {
		changed := db.changedChan()
		res, timeout, blocked := db.settle(db.transactOnce(ctx, ops, opts, ro, elapsed))
		if !blocked {
			return res
		}
		NotifyBlocked(ctx)
		var timer <-chan time.Time
		if timeout != math.MaxInt64 {
			wait := time.Duration(timeout)*time.Millisecond - time.Since(start)
			if wait < 0 {
				wait = 0
			}
			tm := time.NewTimer(wait)
			defer tm.Stop() // at most one timer per database change
			timer = tm.C
		}
		timedOut := false
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-timer:
			timedOut = true
		}
		NotifyRetry(ctx)
		if ctx.Err() != nil {
			return nil // canceled while waiting for its turn
		}
		elapsed = time.Since(start).Milliseconds()
		if timedOut && elapsed < timeout {
			elapsed = timeout
		}
	}
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
	res, _, blocked = db.settle(db.transactOnce(ctx, ops, opts, isReadOnly(ops), elapsedMS))
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
				result, err = def.fn(x, p, false)
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

func checkAssert(p *parser, opts TransactOptions) error {
	name, _ := p.obj["lock"].(string)
	if opts.HasLock != nil && opts.HasLock(name) {
		return nil
	}
	return ovsdberr.New(ovsdberr.TagNotOwner, "Asserted lock %s not held.", name)
}

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

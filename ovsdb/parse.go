// Parsing the members of an operation (RFC 7047 section 5.2) as C's
// ovsdb_parser does: the first error wins and unused members are reported
// at the end; named-uuid symbols; and the parts several operations share:
// table names, rows and column lists.

package ovsdb

import (
	"encoding/json"
	"fmt"
	"sort"

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

package schema

import (
	"errors"
	"math"
	"regexp"
	"sort"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/internal/fastjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// Column is one column of a table.
type Column struct {
	Name       string
	Type       Type
	Mutable    bool
	Persistent bool // false for "ephemeral": true
	Index      int  // position in Table.Columns
}

// Column indexes of the two columns every table has.
const (
	ColUUID    = 0
	ColVersion = 1
)

// Table is the schema of one table. Columns[0] is _uuid and Columns[1] is
// _version; user columns follow, sorted by name.
type Table struct {
	Name    string
	Columns []*Column
	ByName  map[string]*Column
	Mutable bool
	MaxRows int // math.MaxUint32 when unlimited
	IsRoot  bool
	Indexes [][]*Column
	// CColumns lists every column (with _uuid and _version) in the order the
	// C server iterates the table's column hash table; checks whose first
	// failure decides the reported error loop in this order.
	CColumns []*Column
	// CIndexOrder lists the columns in C's column-index order: _uuid,
	// _version, then the user columns in the order C met them while
	// parsing the schema's "columns" object.
	CIndexOrder []*Column
	isRootIn    bool // "isRoot" as written (before the all-root default)
}

// Column returns the named column or nil.
func (t *Table) Column(name string) *Column { return t.ByName[name] }

// DatabaseSchema is a parsed .ovsschema.
type DatabaseSchema struct {
	Name    string
	Version string
	Cksum   string
	Tables  map[string]*Table
	// TableNames lists the tables in sorted order.
	TableNames []string
	// CTableNames lists the tables in the order the C server iterates its
	// table hash table.
	CTableNames []string
}

// Table returns the named table or nil.
func (s *DatabaseSchema) Table(name string) *Table { return s.Tables[name] }

var versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

// ParseSchemaBytes parses a schema from JSON text, keeping the textual
// member order that decides C's iteration orders.
func ParseSchemaBytes(data []byte) (*DatabaseSchema, error) {
	v, err := DecodeJSON(data)
	if err != nil {
		return nil, ovsdberr.New(ovsdberr.TagSyntax, "%v", err)
	}
	ko, _ := SchemaKeyOrder(data)
	return ParseSchemaOrdered(v, ko)
}

// DecodeJSON decodes one JSON value with numbers kept as json.Number.
func DecodeJSON(data []byte) (any, error) {
	v, err := fastjson.DecodeValue(data)
	if errors.Is(err, fastjson.ErrTrailing) {
		return nil, errTrailing
	}
	return v, err
}

type trailingError struct{}

func (trailingError) Error() string { return "trailing garbage after JSON value" }

var errTrailing = trailingError{}

func sortStrings(s []string) { sort.Strings(s) }

// ParseSchema parses a decoded schema (numbers as json.Number). A decoded
// value has lost its textual member order, so names are taken in sorted
// order for C's iteration orders; use ParseSchemaBytes when the text is
// available.
func ParseSchema(js any) (*DatabaseSchema, error) {
	return ParseSchemaOrdered(js, nil)
}

// ParseSchemaOrdered parses a decoded schema whose "tables" and "columns"
// members appeared in the text in the order ko gives (nil: unknown, use
// sorted order).
func ParseSchemaOrdered(js any, ko *KeyOrder) (*DatabaseSchema, error) {
	p := NewParser(js, "database schema")
	name := p.Member("name", KID)
	ver := p.Member("version", KString|KOptional)
	ck := p.Member("cksum", KString|KOptional)
	tables := p.Member("tables", KObject)
	if err := p.Finish(); err != nil {
		return nil, err
	}
	s := &DatabaseSchema{Name: name.(string), Tables: map[string]*Table{}}
	if ver != nil {
		s.Version = ver.(string)
		if !versionRE.MatchString(s.Version) {
			return nil, ovsdberr.Syntax(js, "schema version \"%s\" not in format x.y.z", s.Version)
		}
	}
	if ck != nil {
		s.Cksum = ck.(string)
	}
	tobj := tables.(map[string]any)
	var tOrder []string
	if ko != nil {
		tOrder = ko.Tables
	}
	for _, tn := range cOrder(textOrder(tobj, tOrder)) {
		tj := tobj[tn]
		if len(tn) > 0 && tn[0] == '_' {
			return nil, ovsdberr.Syntax(js, "names beginning with \"_\" are reserved")
		}
		if !IsValidID(tn) {
			return nil, ovsdberr.Syntax(js, "name must be a valid id")
		}
		var cOrd []string
		if ko != nil {
			cOrd = ko.Columns[tn]
		}
		t, err := parseTable(tn, tj, cOrd)
		if err != nil {
			return nil, err
		}
		s.Tables[tn] = t
		s.TableNames = append(s.TableNames, tn)
		s.CTableNames = append(s.CTableNames, tn)
	}
	s.CTableNames = cOrder(s.CTableNames)
	sort.Strings(s.TableNames)
	nRoot := 0
	for _, t := range s.Tables {
		if t.IsRoot {
			nRoot++
		}
	}
	if nRoot == 0 {
		for _, t := range s.Tables {
			t.IsRoot = true
		}
	}
	for _, tn := range s.TableNames {
		t := s.Tables[tn]
		for _, c := range t.Columns {
			for _, bt := range []struct {
				b    *BaseType
				name string
			}{{&c.Type.Key, "key"}, {c.Type.Value, "value"}} {
				if bt.b == nil || bt.b.RefTableName == "" {
					continue
				}
				ref := s.Tables[bt.b.RefTableName]
				if ref == nil {
					return nil, ovsdberr.New(ovsdberr.TagSyntax, "column %s %s refers to undefined table %s",
						c.Name, bt.name, bt.b.RefTableName)
				}
				bt.b.RefTable = ref
				if bt.b.RefType == RefStrong && !ref.IsRoot {
					c.Persistent = true
				}
			}
		}
	}
	return s, nil
}

func parseTable(name string, js any, colOrder []string) (*Table, error) {
	p := NewParser(js, "table schema for table "+name)
	cols := p.Member("columns", KObject)
	mut := p.Member("mutable", KBoolean|KOptional)
	maxRows := p.Member("maxRows", KInteger|KOptional)
	isRoot := p.Member("isRoot", KBoolean|KOptional)
	indexes := p.Member("indexes", KArray|KOptional)
	if err := p.Finish(); err != nil {
		return nil, err
	}
	t := &Table{Name: name, Mutable: true, MaxRows: math.MaxUint32, ByName: map[string]*Column{}}
	if mut != nil {
		t.Mutable = mut.(bool)
	}
	if maxRows != nil {
		n, _ := AsInteger(maxRows)
		if n <= 0 {
			return nil, ovsdberr.Syntax(js, "maxRows must be at least 1")
		}
		if n < math.MaxUint32 {
			t.MaxRows = int(n)
		}
	}
	if isRoot != nil {
		t.IsRoot = isRoot.(bool)
		t.isRootIn = t.IsRoot
	}
	colObj := cols.(map[string]any)
	if len(colObj) == 0 {
		return nil, ovsdberr.Syntax(js, "table must have at least one column")
	}
	uuidType := Type{Key: NewBaseType(TypeUUID), Min: 1, Max: 1}
	t.Columns = []*Column{
		{Name: "_uuid", Type: uuidType, Persistent: true, Index: ColUUID},
		{Name: "_version", Type: uuidType, Persistent: false, Index: ColVersion},
	}
	// C parses the columns in the iteration order of the parsed JSON
	// object (so that order decides which error is reported first and the
	// columns' indexes); ours keep sorted indexes.
	parsed := make(map[string]*Column, len(colObj))
	jOrder := cOrder(textOrder(colObj, colOrder))
	for _, cn := range jOrder {
		if len(cn) > 0 && cn[0] == '_' {
			return nil, ovsdberr.Syntax(js, "names beginning with \"_\" are reserved")
		}
		if !IsValidID(cn) {
			return nil, ovsdberr.Syntax(js, "name must be a valid id")
		}
		c, err := parseColumn(cn, colObj[cn])
		if err != nil {
			return nil, err
		}
		parsed[cn] = c
	}
	names := make([]string, 0, len(colObj))
	for cn := range colObj {
		names = append(names, cn)
	}
	sort.Strings(names)
	for _, cn := range names {
		c := parsed[cn]
		c.Index = len(t.Columns)
		t.Columns = append(t.Columns, c)
	}
	for _, c := range t.Columns {
		t.ByName[c.Name] = c
	}
	t.CIndexOrder = []*Column{t.Columns[ColUUID], t.Columns[ColVersion]}
	for _, cn := range jOrder {
		t.CIndexOrder = append(t.CIndexOrder, parsed[cn])
	}
	t.setCColumns()
	if indexes != nil {
		for _, ij := range indexes.([]any) {
			idx, err := ParseColumnSet(t, ij)
			if err != nil {
				return nil, err
			}
			if len(idx) == 0 {
				return nil, ovsdberr.Syntax(js, "index must have at least one column")
			}
			for _, c := range idx {
				if !c.Persistent {
					return nil, ovsdberr.Syntax(js, "ephemeral columns (such as %s) may not be indexed", c.Name)
				}
			}
			t.Indexes = append(t.Indexes, idx)
		}
	}
	return t, nil
}

func parseColumn(name string, js any) (*Column, error) {
	p := NewParser(js, "schema for column "+name)
	mut := p.Member("mutable", KBoolean|KOptional)
	eph := p.Member("ephemeral", KBoolean|KOptional)
	tj := p.Member("type", KString|KObject)
	if err := p.Finish(); err != nil {
		return nil, err
	}
	typ, err := ParseType(tj)
	if err != nil {
		return nil, err
	}
	c := &Column{Name: name, Type: typ, Mutable: true, Persistent: true}
	if mut != nil {
		c.Mutable = mut.(bool)
	}
	if !c.Mutable && typ.HasWeakRef() {
		c.Mutable = true
	}
	if eph != nil {
		c.Persistent = !eph.(bool)
	}
	return c, nil
}

// setCColumns computes CColumns from CIndexOrder: C adds the columns to
// the table's hash table in index order.
func (t *Table) setCColumns() {
	names := make([]string, len(t.CIndexOrder))
	for i, c := range t.CIndexOrder {
		names[i] = c.Name
	}
	t.CColumns = t.CColumns[:0]
	for _, n := range cOrder(names) {
		t.CColumns = append(t.CColumns, t.ByName[n])
	}
}

// ToJSON returns the schema JSON as plain maps (cjson sorts their members).
// Use CJSON where the bytes must match C's.
func (s *DatabaseSchema) ToJSON() map[string]any {
	return objectToMap(s.CJSON()).(map[string]any)
}

func objectToMap(v any) any {
	o, ok := v.(*cjson.Object)
	if !ok {
		return v
	}
	m := make(map[string]any, len(o.Keys))
	for i, k := range o.Keys {
		m[k] = objectToMap(o.Vals[i])
	}
	return m
}

// CJSON returns the schema as C's get_schema prints it, with the members
// of every object in the order C's serialiser emits them (its hash-table
// order; see internal/chash): what get_schema replies, the _Server
// "schema" column and a database file's first record should hold.
func (s *DatabaseSchema) CJSON() *cjson.Object {
	m := newCObject()
	m.put("name", s.Name)
	if s.Version != "" {
		m.put("version", s.Version)
	}
	if s.Cksum != "" {
		m.put("cksum", s.Cksum)
	}
	allRoot := true
	for _, t := range s.Tables {
		allRoot = allRoot && t.IsRoot
	}
	tables := newCObject()
	names := s.CTableNames
	if len(names) != len(s.Tables) {
		names = s.TableNames
	}
	for _, tn := range names {
		tables.put(tn, s.Tables[tn].toJSON(allRoot))
	}
	m.put("tables", tables.done())
	return m.done()
}

// cObject builds a cjson.Object whose members end up in C's iteration
// order for the insertion sequence used.
type cObject struct {
	keys []string
	vals map[string]any
}

func newCObject() *cObject { return &cObject{vals: map[string]any{}} }

func (o *cObject) put(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *cObject) done() *cjson.Object {
	out := &cjson.Object{}
	for _, k := range cOrder(o.keys) {
		out.Put(k, o.vals[k])
	}
	return out
}

func typeJSONC(t *Type) any {
	if t.Value == nil && t.Min == 1 && t.Max == 1 && !t.Key.HasConstraints() {
		return t.Key.Type.String()
	}
	m := newCObject()
	m.put("key", baseTypeJSONC(&t.Key))
	if t.Value != nil {
		m.put("value", baseTypeJSONC(t.Value))
	}
	if t.Min != 1 {
		m.put("min", t.Min)
	}
	if t.Max == Unlimited {
		m.put("max", "unlimited")
	} else if t.Max != 1 {
		m.put("max", t.Max)
	}
	return m.done()
}

// baseTypeJSONC is BaseTypeJSON with C's member order: the members are
// inserted in the order C inserts them.
func baseTypeJSONC(b *BaseType) any {
	js := BaseTypeJSON(b)
	mm, ok := js.(map[string]any)
	if !ok {
		return js
	}
	m := newCObject()
	for _, k := range []string{"type", "enum", "minInteger", "maxInteger", "minReal", "maxReal",
		"minLength", "maxLength", "refTable", "refType"} {
		if v, ok := mm[k]; ok {
			m.put(k, v)
		}
	}
	return m.done()
}

func (t *Table) toJSON(defaultIsRoot bool) *cjson.Object {
	m := newCObject()
	if !t.Mutable {
		m.put("mutable", false)
	}
	if t.IsRoot && !defaultIsRoot {
		m.put("isRoot", true)
	}
	cols := newCObject()
	order := t.CColumns
	if len(order) != len(t.Columns) {
		order = t.Columns
	}
	for _, c := range order {
		if c.Name[0] == '_' {
			continue
		}
		cm := newCObject()
		if !c.Mutable {
			cm.put("mutable", false)
		}
		if !c.Persistent {
			cm.put("ephemeral", true)
		}
		cm.put("type", typeJSONC(&c.Type))
		cols.put(c.Name, cm.done())
	}
	m.put("columns", cols.done())
	if t.MaxRows != math.MaxUint32 {
		m.put("maxRows", t.MaxRows)
	}
	if len(t.Indexes) > 0 {
		idx := make([]any, len(t.Indexes))
		for i, cs := range t.Indexes {
			names := make([]any, len(cs))
			for j, c := range cs {
				names[j] = c.Name
			}
			idx[i] = names
		}
		m.put("indexes", idx)
	}
	return m.done()
}

// ParseColumnSet parses a JSON array of distinct column names of t, with
// C's errors. (A nil js means "all columns" in C; callers handle that.)
func ParseColumnSet(t *Table, js any) ([]*Column, error) {
	arr, ok := js.([]any)
	if !ok {
		return nil, ovsdberr.Syntax(js, "array of distinct column names expected")
	}
	cols := make([]*Column, 0, len(arr))
	for _, e := range arr {
		name, ok := e.(string)
		if !ok {
			return nil, ovsdberr.Syntax(js, "array of distinct column names expected")
		}
		c := t.ByName[name]
		if c == nil {
			return nil, ovsdberr.Syntax(js, "%s is not a valid column name", name)
		}
		for _, prev := range cols {
			if prev == c {
				return nil, ovsdberr.Syntax(js, "array of distinct column names expected")
			}
		}
		cols = append(cols, c)
	}
	return cols, nil
}

package schema

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"sort"

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
	Name     string
	Columns  []*Column
	ByName   map[string]*Column
	Mutable  bool
	MaxRows  int // math.MaxUint32 when unlimited
	IsRoot   bool
	Indexes  [][]*Column
	isRootIn bool // "isRoot" as written (before the all-root default)
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
}

// Table returns the named table or nil.
func (s *DatabaseSchema) Table(name string) *Table { return s.Tables[name] }

var versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

// ParseSchemaBytes parses a schema from JSON text.
func ParseSchemaBytes(data []byte) (*DatabaseSchema, error) {
	v, err := DecodeJSON(data)
	if err != nil {
		return nil, ovsdberr.New(ovsdberr.TagSyntax, "%v", err)
	}
	return ParseSchema(v)
}

// DecodeJSON decodes one JSON value with numbers kept as json.Number.
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errTrailing
	}
	return v, nil
}

type trailingError struct{}

func (trailingError) Error() string { return "trailing garbage after JSON value" }

var errTrailing = trailingError{}

func sortStrings(s []string) { sort.Strings(s) }

// ParseSchema parses a decoded schema (numbers as json.Number).
func ParseSchema(js any) (*DatabaseSchema, error) {
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
	for tn, tj := range tables.(map[string]any) {
		if tn[0] == '_' {
			return nil, ovsdberr.Syntax(js, "names beginning with \"_\" are reserved")
		}
		if !IsValidID(tn) {
			return nil, ovsdberr.Syntax(js, "name must be a valid id")
		}
		t, err := parseTable(tn, tj)
		if err != nil {
			return nil, err
		}
		s.Tables[tn] = t
		s.TableNames = append(s.TableNames, tn)
	}
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

func parseTable(name string, js any) (*Table, error) {
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
	names := make([]string, 0, len(colObj))
	for cn := range colObj {
		names = append(names, cn)
	}
	sort.Strings(names)
	for _, cn := range names {
		if cn[0] == '_' {
			return nil, ovsdberr.Syntax(js, "names beginning with \"_\" are reserved")
		}
		if !IsValidID(cn) {
			return nil, ovsdberr.Syntax(js, "name must be a valid id")
		}
		c, err := parseColumn(cn, colObj[cn])
		if err != nil {
			return nil, err
		}
		c.Index = len(t.Columns)
		t.Columns = append(t.Columns, c)
	}
	for _, c := range t.Columns {
		t.ByName[c.Name] = c
	}
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

// ToJSON returns the schema as C's get_schema prints it.
func (s *DatabaseSchema) ToJSON() map[string]any {
	m := map[string]any{"name": s.Name}
	if s.Version != "" {
		m["version"] = s.Version
	}
	if s.Cksum != "" {
		m["cksum"] = s.Cksum
	}
	allRoot := true
	for _, t := range s.Tables {
		allRoot = allRoot && t.IsRoot
	}
	tables := map[string]any{}
	for _, tn := range s.TableNames {
		tables[tn] = s.Tables[tn].toJSON(allRoot)
	}
	m["tables"] = tables
	return m
}

func (t *Table) toJSON(defaultIsRoot bool) map[string]any {
	m := map[string]any{}
	cols := map[string]any{}
	for _, c := range t.Columns[2:] {
		cm := map[string]any{"type": TypeJSON(&c.Type)}
		if !c.Mutable {
			cm["mutable"] = false
		}
		if !c.Persistent {
			cm["ephemeral"] = true
		}
		cols[c.Name] = cm
	}
	m["columns"] = cols
	if !t.Mutable {
		m["mutable"] = false
	}
	if t.MaxRows != math.MaxUint32 {
		m["maxRows"] = t.MaxRows
	}
	if t.IsRoot && !defaultIsRoot {
		m["isRoot"] = true
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
		m["indexes"] = idx
	}
	return m
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

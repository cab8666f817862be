package ovsdb

import (
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// zeroUUIDAtom is the placeholder _version of a row being inserted, boxed
// once.
var zeroUUIDAtom schema.Atom = schema.ZeroUUID

// insertResult is the result of an insert op, {"uuid":["uuid","<uuid>"]},
// kept as its JSON text: one pointer-free allocation instead of a map, an
// array and a string per inserted row. It is written by cjson and
// encoding/json through MarshalJSON.
type insertResult struct {
	b [insertResultLen]byte
}

const (
	insertResultHead = `{"uuid":["uuid","`
	insertResultTail = `"]}`
	insertResultLen  = len(insertResultHead) + 36 + len(insertResultTail)
)

func newInsertResult(id schema.UUID) *insertResult {
	r := new(insertResult)
	b := r.b[:0]
	b = append(b, insertResultHead...)
	b = id.Append(b)
	b = append(b, insertResultTail...)
	_ = b
	return r
}

// String returns the JSON text.
func (r *insertResult) String() string { return string(r.b[:]) }

// MarshalJSON implements json.Marshaler.
func (r *insertResult) MarshalJSON() ([]byte, error) { return r.b[:], nil }

// Inserted rows are built compact from the start: an insert parses only the
// columns its "row" names and keeps those that differ from the default,
// instead of copying every default into a dense row and compacting it at
// commit. The row and its atoms and datums share one allocation (allocRow)
// when they are few, which saves allocations and gives the collector one
// object to mark per row.
//
// Invariant: while such a row is a transaction's working copy (txnRow.new),
// its _uuid and _version are its first two lone atoms, private to the row:
// setVersion overwrites the second. Operations that change columns of the
// row within the same transaction make it dense first (densify).

type rowA4 struct {
	r Row
	a [4]schema.Atom
}

type rowA8 struct {
	r Row
	a [8]schema.Atom
}

type rowA4V2 struct {
	r Row
	a [4]schema.Atom
	v [2]schema.Datum
}

type rowA8V2 struct {
	r Row
	a [8]schema.Atom
	v [2]schema.Datum
}

type rowA8V4 struct {
	r Row
	a [8]schema.Atom
	v [4]schema.Datum
}

// allocRow returns a new row with room for na lone atoms and nv datums,
// allocated together when they are few.
func allocRow(na, nv int) (r *Row, atoms []schema.Atom, vals []schema.Datum) {
	switch {
	case na <= 4 && nv == 0:
		b := new(rowA4)
		return &b.r, b.a[:na:na], nil
	case na <= 8 && nv == 0:
		b := new(rowA8)
		return &b.r, b.a[:na:na], nil
	case na <= 4 && nv <= 2:
		b := new(rowA4V2)
		return &b.r, b.a[:na:na], b.v[:nv:nv]
	case na <= 8 && nv <= 2:
		b := new(rowA8V2)
		return &b.r, b.a[:na:na], b.v[:nv:nv]
	case na <= 8 && nv <= 4:
		b := new(rowA8V4)
		return &b.r, b.a[:na:na], b.v[:nv:nv]
	}
	atoms, vals = allocStorage(na, nv)
	return new(Row), atoms, vals
}

type storeA4V2 struct {
	a [4]schema.Atom
	v [2]schema.Datum
}

type storeA8V4 struct {
	a [8]schema.Atom
	v [4]schema.Datum
}

// allocStorage returns room for na lone atoms and nv datums of a compact
// row, in one allocation when possible.
func allocStorage(na, nv int) (atoms []schema.Atom, vals []schema.Datum) {
	switch {
	case nv == 0:
		return make([]schema.Atom, na), nil
	case na == 0:
		return nil, make([]schema.Datum, nv)
	case na <= 4 && nv <= 2:
		b := new(storeA4V2)
		return b.a[:na:na], b.v[:nv:nv]
	case na <= 8 && nv <= 4:
		b := new(storeA8V4)
		return b.a[:na:na], b.v[:nv:nv]
	}
	return make([]schema.Atom, na), make([]schema.Datum, nv)
}

// colVal is one parsed column of an inserted row: a scalar atom (scalar
// true) or a whole datum.
type colVal struct {
	idx    int
	scalar bool
	a      schema.Atom
	d      schema.Datum
}

// isSetWrapper reports whether js is ["set", ...] (as schema parses it).
func isSetWrapper(js any) bool {
	arr, ok := js.([]any)
	if !ok || len(arr) == 0 {
		return false
	}
	s, ok := arr[0].(string)
	return ok && s == "set"
}

// parseColumnValue parses the JSON of column c exactly as
// schema.ParseDatum does, but returns a lone atom without wrapping it in a
// datum (no array allocation) when the JSON is a single atom.
func (x *txn) parseColumnValue(c *schema.Column, js any) (colVal, error) {
	if !c.Type.IsMap() && !isSetWrapper(js) {
		a, err := schema.ParseAtom(&c.Type.Key, js, x.symtab)
		if err != nil {
			return colVal{}, err
		}
		return colVal{idx: c.Index, scalar: true, a: a}, nil
	}
	d, err := schema.ParseDatum(&c.Type, js, x.symtab)
	if err != nil {
		return colVal{}, err
	}
	return colVal{idx: c.Index, d: d}, nil
}

// loneAtom reports whether cv is kept as a lone atom in a compact row.
func (cv *colVal) loneAtom() bool { return cv.scalar || isLoneAtom(cv.d) }

// isDefault reports whether cv equals the default datum def.
func (cv *colVal) isDefault(def schema.Datum) bool {
	if cv.scalar {
		return len(def.Keys) == 1 && def.Values == nil && schema.CompareAtoms(cv.a, def.Keys[0]) == 0
	}
	return isDefault(cv.d, def)
}

// newInsertRow parses the "row" object of an insert into t and returns the
// compact working row with _uuid id. It reports the same error as parsing
// the row densely in C's member order would. ok is false when t is too wide
// for compact rows (the caller then builds a dense row).
func (x *txn) newInsertRow(t *table, id schema.UUID, rowJS any) (r *Row, ok bool, err error) {
	obj, isObj := rowJS.(map[string]any)
	if !isObj || len(t.defaults) > maxCompactColumns {
		return nil, false, nil
	}
	var buf [8]colVal
	cvs := buf[:0]
	var parsed uint64
	var version *colVal
	failed := false
	for name, v := range obj {
		c := t.ts.Column(name)
		if c == nil {
			failed = true
			break
		}
		cv, err := x.parseColumnValue(c, v)
		if err != nil {
			failed = true
			break
		}
		parsed |= uint64(1) << uint(c.Index)
		switch {
		case c.Index == schema.ColUUID:
			// Replaced by id below.
		case c.Index == schema.ColVersion:
			vc := cv
			version = &vc
		case !cv.isDefault(t.defaults[c.Index]):
			cvs = append(cvs, cv)
		}
	}
	if failed {
		// Parse again in C's order for C's error.
		_, err := x.parseRow(rowJS, t, t.newFields())
		return nil, true, err
	}
	// Columns whose default violates their constraints fail unless set,
	// the first in C's column order.
	for _, c := range t.badDefaults {
		if parsed&(uint64(1)<<uint(c.Index)) == 0 {
			return nil, true, schema.CheckDatum(&c.Type, t.defaults[c.Index])
		}
	}
	// Column order (few columns: insertion sort).
	for i := 1; i < len(cvs); i++ {
		for j := i; j > 0 && cvs[j].idx < cvs[j-1].idx; j-- {
			cvs[j], cvs[j-1] = cvs[j-1], cvs[j]
		}
	}
	na, nv := 2, 0
	for i := range cvs {
		if cvs[i].loneAtom() {
			na++
		} else {
			nv++
		}
	}
	r, atoms, vals := allocRow(na, nv)
	atoms[0] = id
	switch {
	case version == nil:
		atoms[1] = zeroUUIDAtom
	case version.scalar:
		atoms[1] = version.a
	default:
		atoms[1] = version.d.Keys[0] // a _version datum has one key
	}
	mask := uint64(1)<<schema.ColUUID | uint64(1)<<schema.ColVersion
	smask := mask
	atoms, vals = atoms[:2], vals[:0]
	for i := range cvs {
		cv := &cvs[i]
		bit := uint64(1) << uint(cv.idx)
		mask |= bit
		switch {
		case cv.scalar:
			atoms = append(atoms, cv.a)
			smask |= bit
		case isLoneAtom(cv.d):
			atoms = append(atoms, cv.d.Keys[0])
			smask |= bit
		default:
			vals = append(vals, cv.d)
		}
	}
	r.lay, r.mask, r.smask, r.atoms, r.vals = t.lay, mask, smask, atoms, vals
	return r, true, nil
}

// densify turns a transaction's compact working row into a dense one so
// that its Fields can be assigned.
func (r *Row) densify() {
	if r.Fields != nil {
		return
	}
	r.Fields = r.Dense()
	r.lay, r.mask, r.smask, r.atoms, r.vals = nil, 0, 0, nil, nil
}

// setVersion sets the _version of a transaction's working row.
func (r *Row) setVersion(u schema.UUID) {
	if r.Fields != nil {
		r.Fields[schema.ColVersion] = schema.NewScalar(u)
		return
	}
	// Compact working rows are built by newInsertRow: _version is the
	// second lone atom, private to the row.
	r.atoms[1] = u
}

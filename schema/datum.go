package schema

import (
	"sort"
	"strings"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// Datum is the value of a column: a sorted set of unique keys, and for maps
// a parallel slice of values. A scalar is a datum with one key.
//
// Datums are treated as immutable once stored in a row: operations that
// change a datum return a new one.
type Datum struct {
	Keys   []Atom
	Values []Atom // nil unless the type is a map
}

// NewScalar returns a one-element datum.
func NewScalar(a Atom) Datum { return Datum{Keys: []Atom{a}} }

// Len returns the number of elements.
func (d Datum) Len() int { return len(d.Keys) }

// DefaultDatum returns the default value of a column of type t: the empty
// set or map when min is 0, otherwise one default atom (or pair).
func DefaultDatum(t *Type) Datum {
	if t.Min == 0 {
		if t.Value != nil {
			return Datum{Keys: []Atom{}, Values: []Atom{}}
		}
		return Datum{Keys: []Atom{}}
	}
	d := Datum{Keys: []Atom{DefaultAtom(t.Key.Type)}}
	if t.Value != nil {
		d.Values = []Atom{DefaultAtom(t.Value.Type)}
	}
	return d
}

// Find returns the index of key in d, or -1.
func (d Datum) Find(key Atom) int {
	i := sort.Search(len(d.Keys), func(i int) bool { return CompareAtoms(d.Keys[i], key) >= 0 })
	if i < len(d.Keys) && CompareAtoms(d.Keys[i], key) == 0 {
		return i
	}
	return -1
}

// Contains reports whether key is in d.
func (d Datum) Contains(key Atom) bool { return d.Find(key) >= 0 }

// Clone returns a copy of d with its own slices.
func (d Datum) Clone() Datum {
	c := Datum{Keys: append([]Atom(nil), d.Keys...)}
	if d.Values != nil {
		c.Values = append([]Atom(nil), d.Values...)
	}
	return c
}

// Equal reports whether d and e hold the same elements.
func (d Datum) Equal(e Datum) bool { return CompareDatums(d, e) == 0 }

// CompareDatums orders datums as C's ovsdb_datum_compare_3way: first by
// size, then by keys, then by values.
func CompareDatums(a, b Datum) int {
	if len(a.Keys) != len(b.Keys) {
		if len(a.Keys) < len(b.Keys) {
			return -1
		}
		return 1
	}
	for i := range a.Keys {
		if c := CompareAtoms(a.Keys[i], b.Keys[i]); c != 0 {
			return c
		}
	}
	if a.Values == nil || b.Values == nil {
		return 0
	}
	for i := range a.Values {
		if c := CompareAtoms(a.Values[i], b.Values[i]); c != 0 {
			return c
		}
	}
	return 0
}

type datumSorter struct{ d *Datum }

func (s datumSorter) Len() int           { return len(s.d.Keys) }
func (s datumSorter) Less(i, j int) bool { return CompareAtoms(s.d.Keys[i], s.d.Keys[j]) < 0 }
func (s datumSorter) Swap(i, j int) {
	s.d.Keys[i], s.d.Keys[j] = s.d.Keys[j], s.d.Keys[i]
	if s.d.Values != nil {
		s.d.Values[i], s.d.Values[j] = s.d.Values[j], s.d.Values[i]
	}
}

// Sort sorts d in place and reports duplicate keys as C does ("set contains
// duplicate" / "map contains duplicate key", with C's default tag).
func (d *Datum) Sort() error {
	if len(d.Keys) < 2 {
		return nil
	}
	sort.Stable(datumSorter{d})
	for i := 0; i+1 < len(d.Keys); i++ {
		if CompareAtoms(d.Keys[i], d.Keys[i+1]) == 0 {
			if d.Values != nil {
				return ovsdberr.New(ovsdberr.TagOVSDB, "map contains duplicate key")
			}
			return ovsdberr.New(ovsdberr.TagOVSDB, "set contains duplicate")
		}
	}
	return nil
}

// SortUnique sorts d in place and drops duplicate keys; for maps the pair
// with the smallest value is kept, as in C.
func (d *Datum) SortUnique() {
	if len(d.Keys) < 2 {
		return
	}
	if d.Values != nil {
		// Order by key, then value, so the smallest value comes first.
		idx := make([]int, len(d.Keys))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool {
			c := CompareAtoms(d.Keys[idx[a]], d.Keys[idx[b]])
			if c != 0 {
				return c < 0
			}
			return CompareAtoms(d.Values[idx[a]], d.Values[idx[b]]) < 0
		})
		k := make([]Atom, 0, len(idx))
		v := make([]Atom, 0, len(idx))
		for _, i := range idx {
			if len(k) > 0 && CompareAtoms(k[len(k)-1], d.Keys[i]) == 0 {
				continue
			}
			k = append(k, d.Keys[i])
			v = append(v, d.Values[i])
		}
		d.Keys, d.Values = k, v
		return
	}
	sort.Stable(datumSorter{d})
	out := d.Keys[:1]
	for _, a := range d.Keys[1:] {
		if CompareAtoms(out[len(out)-1], a) != 0 {
			out = append(out, a)
		}
	}
	d.Keys = out
}

// DatumToJSON returns the JSON of d for a column of type t.
func DatumToJSON(t *Type, d Datum) any {
	if t.Value != nil {
		pairs := make([]any, len(d.Keys))
		for i := range d.Keys {
			pairs[i] = []any{AtomToJSON(d.Keys[i]), AtomToJSON(d.Values[i])}
		}
		return []any{"map", pairs}
	}
	if len(d.Keys) == 1 {
		return AtomToJSON(d.Keys[0])
	}
	elems := make([]any, len(d.Keys))
	for i, k := range d.Keys {
		elems[i] = AtomToJSON(k)
	}
	return []any{"set", elems}
}

// AppendDatumJSON appends the JSON text of DatumToJSON(t, d), as
// cjson.Marshal writes it, without building the JSON tree (file records
// and snapshots of large databases).
func AppendDatumJSON(b []byte, t *Type, d Datum) []byte {
	if t.Value != nil {
		b = append(b, `["map",[`...)
		for i := range d.Keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = AppendAtomJSON(b, d.Keys[i])
			b = append(b, ',')
			b = AppendAtomJSON(b, d.Values[i])
			b = append(b, ']')
		}
		return append(b, "]]"...)
	}
	if len(d.Keys) == 1 {
		return AppendAtomJSON(b, d.Keys[0])
	}
	b = append(b, `["set",[`...)
	for i, k := range d.Keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendAtomJSON(b, k)
	}
	return append(b, "]]"...)
}

// AppendAtomJSON appends the JSON text of AtomToJSON(a), as cjson.Marshal
// writes it.
func AppendAtomJSON(b []byte, a Atom) []byte {
	if u, ok := a.(UUID); ok {
		b = append(b, `["uuid","`...)
		b = u.Append(b)
		return append(b, `"]`...)
	}
	return cjson.Append(b, AtomToJSON(a))
}

// ParseDatum parses the JSON of a datum of type t, checks atom constraints
// and the size limits of t, and returns it sorted.
func ParseDatum(t *Type, js any, symtab Symtab) (Datum, error) {
	d, err := parseDatum(t, js, symtab, true)
	if err != nil {
		return Datum{}, err
	}
	if err := d.Sort(); err != nil {
		return Datum{}, err
	}
	return d, nil
}

// ParseDatumNoSize is ParseDatum without the size check (C's
// ovsdb_transient_datum_from_json), used for mutation arguments.
func ParseDatumNoSize(t *Type, js any, symtab Symtab) (Datum, error) {
	d, err := parseDatum(t, js, symtab, false)
	if err != nil {
		return Datum{}, err
	}
	if err := d.Sort(); err != nil {
		return Datum{}, err
	}
	return d, nil
}

func isSetWrapper(js any) bool {
	arr, ok := js.([]any)
	if !ok || len(arr) == 0 {
		return false
	}
	s, ok := arr[0].(string)
	return ok && s == "set"
}

func parseDatum(t *Type, js any, symtab Symtab, checkSize bool) (Datum, error) {
	if !t.IsMap() && !isSetWrapper(js) {
		a, err := ParseAtom(&t.Key, js, symtab)
		if err != nil {
			return Datum{}, err
		}
		return Datum{Keys: []Atom{a}}, nil
	}
	class := "set"
	if t.IsMap() {
		class = "map"
	}
	arr, ok := js.([]any)
	if !ok || len(arr) != 2 {
		return Datum{}, unwrapError(js, class, "array")
	}
	if s, ok := arr[0].(string); !ok || s != class {
		return Datum{}, unwrapError(js, class, "array")
	}
	inner, ok := arr[1].([]any)
	if !ok {
		return Datum{}, unwrapError(js, class, "array")
	}
	n := len(inner)
	if checkSize && (n < t.Min || n > t.Max) {
		if t.Min == 1 && t.Max == 1 {
			return Datum{}, ovsdberr.Syntax(js, "%s must have exactly one member but %d are present", class, n)
		}
		return Datum{}, ovsdberr.Syntax(js, "%s must have %d to %d members but %d are present",
			class, t.Min, t.Max, n)
	}
	d := Datum{Keys: make([]Atom, 0, n)}
	if t.IsMap() {
		d.Values = make([]Atom, 0, n)
	}
	for _, e := range inner {
		kj := e
		var vj any
		if t.IsMap() {
			pair, ok := e.([]any)
			if !ok || len(pair) != 2 {
				return Datum{}, ovsdberr.Syntax(e, "expected 2-element array")
			}
			kj, vj = pair[0], pair[1]
		}
		k, err := ParseAtom(&t.Key, kj, symtab)
		if err != nil {
			return Datum{}, err
		}
		d.Keys = append(d.Keys, k)
		if t.IsMap() {
			v, err := ParseAtom(t.Value, vj, symtab)
			if err != nil {
				return Datum{}, err
			}
			d.Values = append(d.Values, v)
		}
	}
	return d, nil
}

// CheckDatum checks every atom of d against t's constraints.
func CheckDatum(t *Type, d Datum) error {
	for _, k := range d.Keys {
		if err := CheckAtom(&t.Key, k); err != nil {
			return err
		}
	}
	if t.Value != nil {
		for _, v := range d.Values {
			if err := CheckAtom(t.Value, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// DatumString renders d as C's ovsdb_datum_to_string.
func DatumString(t *Type, d Datum) string {
	var sb strings.Builder
	isMap := t.IsMap()
	bracket := t.Max > 1 || len(d.Keys) == 0
	if bracket {
		if isMap {
			sb.WriteByte('{')
		} else {
			sb.WriteByte('[')
		}
	}
	for i := range d.Keys {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(AtomString(d.Keys[i]))
		if isMap {
			sb.WriteByte('=')
			sb.WriteString(AtomString(d.Values[i]))
		}
	}
	if bracket {
		if isMap {
			sb.WriteByte('}')
		} else {
			sb.WriteByte(']')
		}
	}
	return sb.String()
}

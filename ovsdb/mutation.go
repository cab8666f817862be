package ovsdb

import (
	"fmt"
	"math"

	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// Mutator is a mutation operator of RFC 7047.
type Mutator uint8

// The mutators, in C's order.
const (
	MutAdd Mutator = iota
	MutSub
	MutMul
	MutDiv
	MutMod
	MutInsert
	MutDelete
)

var mutatorNames = [...]string{"+=", "-=", "*=", "/=", "%=", "insert", "delete"}

// String returns the mutator's wire name.
func (m Mutator) String() string {
	if int(m) < len(mutatorNames) {
		return mutatorNames[m]
	}
	return fmt.Sprintf("Mutator(%d)", uint8(m))
}

// Mutation is one parsed element of a "mutations" array.
type Mutation struct {
	// Column is the mutated column.
	Column *schema.Column
	// Mutator is the operator.
	Mutator Mutator
	// Arg is the argument: one atom for arithmetic, a set or map for
	// insert/delete. For "delete" on a map column, Arg may be a set of keys
	// (Values nil) instead of a map.
	Arg schema.Datum
	// ArgType is the type Arg was parsed with (C's relaxed type).
	ArgType schema.Type
}

// ToJSON returns the mutation in RFC 7047 form.
func (m *Mutation) ToJSON() any {
	return []any{m.Column.Name, m.Mutator.String(), schema.DatumToJSON(&m.ArgType, m.Arg)}
}

// ParseMutations parses an RFC 7047 "mutations" array for table t. Errors
// are C-identical. The caller is expected to have checked that the member is
// an array; a non-array gives a syntax error here.
func ParseMutations(t *schema.Table, js any, symtab schema.Symtab) ([]Mutation, error) {
	arr, ok := js.([]any)
	if !ok {
		return nil, ovsdberr.Syntax(js, "Parse error in mutation.")
	}
	muts := make([]Mutation, 0, len(arr))
	for _, mj := range arr {
		m, err := parseMutation(t, mj, symtab)
		if err != nil {
			return nil, err
		}
		muts = append(muts, m)
	}
	return muts, nil
}

func mutatorFromString(name string) (Mutator, bool) {
	for i, n := range mutatorNames {
		if n == name {
			return Mutator(i), true
		}
	}
	return 0, false
}

func parseMutation(t *schema.Table, js any, symtab schema.Symtab) (Mutation, error) {
	arr, ok := js.([]any)
	if !ok || len(arr) != 3 {
		return Mutation{}, ovsdberr.Syntax(js, "Parse error in mutation.")
	}
	colName, ok1 := arr[0].(string)
	mutName, ok2 := arr[1].(string)
	if !ok1 || !ok2 {
		return Mutation{}, ovsdberr.Syntax(js, "Parse error in mutation.")
	}
	col := t.Column(colName)
	if col == nil {
		return Mutation{}, ovsdberr.WithSyntax("unknown column", js, "No column %s in table %s.", colName, t.Name)
	}
	if !col.Mutable {
		return Mutation{}, ovsdberr.WithSyntax(ovsdberr.TagConstraint, js,
			"Cannot mutate immutable column %s in table %s.", colName, t.Name)
	}
	mut, ok := mutatorFromString(mutName)
	if !ok {
		return Mutation{}, ovsdberr.New("unknown mutator", "No mutator named %s.", mutName)
	}
	m := Mutation{Column: col, Mutator: mut, ArgType: col.Type}
	typeMismatch := func() error {
		return ovsdberr.Syntax(js, "Type mismatch: \"%s\" operator may not be applied to column %s of type %s.",
			mut, col.Name, TypeToEnglish(&col.Type))
	}
	var err error
	switch mut {
	case MutAdd, MutSub, MutMul, MutDiv, MutMod:
		kt := col.Type.Key.Type
		if (!col.Type.IsScalar() && !col.Type.IsSet()) ||
			(kt != schema.TypeInteger && kt != schema.TypeReal) ||
			(mut == MutMod && kt == schema.TypeReal) {
			return Mutation{}, typeMismatch()
		}
		m.ArgType = schema.Type{Key: schema.NewBaseType(kt), Min: 1, Max: 1}
		m.Arg, err = parseDatumSized(&m.ArgType, arr[2], symtab)
	case MutInsert, MutDelete:
		if !col.Type.IsSet() && !col.Type.IsMap() {
			return Mutation{}, typeMismatch()
		}
		m.ArgType.Min = 0
		if mut == MutDelete {
			m.ArgType.Max = schema.Unlimited
		}
		m.Arg, err = parseDatumSized(&m.ArgType, arr[2], symtab)
		if err != nil && mut == MutDelete && col.Type.IsMap() {
			// Deleting from a map also accepts a set of keys.
			m.ArgType.Value = nil
			m.Arg, err = parseDatumSized(&m.ArgType, arr[2], symtab)
		}
	}
	if err != nil {
		return Mutation{}, err
	}
	return m, nil
}

// ApplyMutations applies muts in order to fields (a private copy of a row's
// Fields owned by the caller); it replaces datums in the slice and never
// mutates the datums' existing slices. Errors are C-identical. On error,
// fields may hold the results of the mutations before the failing one.
func ApplyMutations(t *schema.Table, muts []Mutation, fields []schema.Datum) error {
	for i := range muts {
		m := &muts[i]
		idx := m.Column.Index
		var (
			nd  schema.Datum
			err error
		)
		switch m.Mutator {
		case MutAdd, MutSub, MutMul, MutDiv, MutMod:
			nd, err = mutateScalar(&m.Column.Type, fields[idx], m.Arg.Keys[0], m.Mutator)
		case MutInsert:
			nd = datumUnion(m.Column.Type.IsMap(), fields[idx], m.Arg)
			err = checkCount(&m.Column.Type, nd)
		case MutDelete:
			nd = datumSubtract(m.Column.Type.IsMap(), m.ArgType.IsMap(), fields[idx], m.Arg)
			err = checkCount(&m.Column.Type, nd)
		default:
			err = ovsdberr.New(ovsdberr.TagInternal, "unknown mutator %d", m.Mutator)
		}
		if err != nil {
			return err
		}
		fields[idx] = nd
	}
	return nil
}

func scalarRangeError(m Mutator) error {
	return ovsdberr.New(ovsdberr.TagRange, "Result of \"%s\" operation is out of range.", m)
}

func divisionByZero() error {
	return ovsdberr.New(ovsdberr.TagDomain, "Division by zero.")
}

// mutateInt applies an integer mutator with C's overflow rules, including
// the quirks of its multiplication check (which rejects some products that
// fit, and lets INT64_MIN * -1 wrap).
func mutateInt(m Mutator, x, y int64) (int64, error) {
	switch m {
	case MutAdd:
		s := x + y
		if (x >= 0) == (y >= 0) && (s >= 0) != (x >= 0) {
			return 0, scalarRangeError(m)
		}
		return s, nil
	case MutSub:
		s := x - y
		if (x >= 0) != (y >= 0) && (s >= 0) != (x >= 0) {
			return 0, scalarRangeError(m)
		}
		return s, nil
	case MutMul:
		var overflow bool
		switch {
		case x > 0 && y > 0:
			overflow = x >= math.MaxInt64/y
		case x > 0:
			overflow = y < math.MinInt64/x
		case y > 0:
			overflow = x < math.MinInt64/y
		default:
			// C tests y against INT64_MAX / y here (and divides by zero,
			// crashing, when x < 0 and y == 0); zero products are fine.
			overflow = x != 0 && y != 0 && y < math.MaxInt64/y
		}
		if overflow {
			return 0, scalarRangeError(m)
		}
		return x * y, nil
	case MutDiv, MutMod:
		if y == 0 {
			return 0, divisionByZero()
		}
		if x == math.MinInt64 && y == -1 {
			return 0, scalarRangeError(m)
		}
		if m == MutDiv {
			return x / y, nil
		}
		return x % y, nil
	}
	return 0, ovsdberr.New(ovsdberr.TagInternal, "bad integer mutator %s", m)
}

func mutateReal(m Mutator, x, y float64) (float64, error) {
	var r float64
	switch m {
	case MutAdd:
		r = x + y
	case MutSub:
		r = x - y
	case MutMul:
		r = x * y
	case MutDiv:
		if y == 0 {
			return 0, divisionByZero()
		}
		r = x / y
	default:
		return 0, ovsdberr.New(ovsdberr.TagInternal, "bad real mutator %s", m)
	}
	if !(r >= -math.MaxFloat64 && r <= math.MaxFloat64) {
		return 0, scalarRangeError(m)
	}
	return r, nil
}

// mutateScalar applies an arithmetic mutator to every element of dst, then
// checks the column's constraints and uniqueness, as C's mutate_scalar.
func mutateScalar(t *schema.Type, dst schema.Datum, arg schema.Atom, m Mutator) (schema.Datum, error) {
	keys := make([]schema.Atom, len(dst.Keys))
	for i, k := range dst.Keys {
		var err error
		switch x := k.(type) {
		case int64:
			y, _ := arg.(int64)
			keys[i], err = mutateInt(m, x, y)
		case float64:
			y, _ := arg.(float64)
			keys[i], err = mutateReal(m, x, y)
		default:
			err = ovsdberr.New(ovsdberr.TagInternal, "arithmetic on %T atom", k)
		}
		if err != nil {
			return schema.Datum{}, err
		}
	}
	for _, k := range keys {
		if err := schema.CheckAtom(&t.Key, k); err != nil {
			return schema.Datum{}, err
		}
	}
	nd := schema.Datum{Keys: keys}
	if err := nd.Sort(); err != nil {
		return schema.Datum{}, ovsdberr.New(ovsdberr.TagConstraint,
			"Result of \"%s\" operation contains duplicates.", m)
	}
	return nd, nil
}

// datumUnion returns a with the elements of b whose keys are not in a (a
// map keeps a's value for a key present in both).
func datumUnion(isMap bool, a, b schema.Datum) schema.Datum {
	n := len(a.Keys) + len(b.Keys)
	out := schema.Datum{Keys: make([]schema.Atom, 0, n)}
	if isMap {
		out.Values = make([]schema.Atom, 0, n)
	}
	i, j := 0, 0
	for i < len(a.Keys) || j < len(b.Keys) {
		var c int
		switch {
		case i == len(a.Keys):
			c = 1
		case j == len(b.Keys):
			c = -1
		default:
			c = schema.CompareAtoms(a.Keys[i], b.Keys[j])
		}
		if c <= 0 {
			out.Keys = append(out.Keys, a.Keys[i])
			if isMap {
				out.Values = append(out.Values, a.Values[i])
			}
			i++
			if c == 0 {
				j++
			}
			continue
		}
		out.Keys = append(out.Keys, b.Keys[j])
		if isMap {
			out.Values = append(out.Values, b.Values[j])
		}
		j++
	}
	return out
}

// datumSubtract returns a without the elements of b: by key when b has no
// values (a set, or a set of keys for a map), by key and value otherwise.
func datumSubtract(isMap, byValue bool, a, b schema.Datum) schema.Datum {
	out := schema.Datum{Keys: make([]schema.Atom, 0, len(a.Keys))}
	if isMap {
		out.Values = make([]schema.Atom, 0, len(a.Keys))
	}
	for i, k := range a.Keys {
		j := b.Find(k)
		if j >= 0 && (!isMap || !byValue || schema.CompareAtoms(a.Values[i], b.Values[j]) == 0) {
			continue
		}
		out.Keys = append(out.Keys, k)
		if isMap {
			out.Values = append(out.Values, a.Values[i])
		}
	}
	return out
}

func checkCount(t *schema.Type, d schema.Datum) error {
	if n := len(d.Keys); n < t.Min || n > t.Max {
		return ovsdberr.New(ovsdberr.TagConstraint, "Attempted to store %d elements in %s.", n, TypeToEnglish(t))
	}
	return nil
}

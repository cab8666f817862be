package ovsdb

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// Function is a condition function. The order of the constants is C's
// (cheapest-first heuristic), and is used to sort parsed conditions.
type Function uint8

// The condition functions of RFC 7047, plus the boolean constants that C
// accepts as a whole clause (JSON true / false).
const (
	FuncFalse Function = iota
	FuncTrue
	FuncEQ
	FuncIncludes
	FuncLE
	FuncLT
	FuncGE
	FuncGT
	FuncExcludes
	FuncNE
)

var functionNames = [...]string{"false", "true", "==", "includes", "<=", "<", ">=", ">", "excludes", "!="}

// String returns the function's wire name.
func (f Function) String() string {
	if int(f) < len(functionNames) {
		return functionNames[f]
	}
	return fmt.Sprintf("Function(%d)", uint8(f))
}

// Condition is one parsed clause of a "where" array.
type Condition struct {
	// Column is the column tested. For FuncTrue/FuncFalse it is _uuid and
	// is not used.
	Column *schema.Column
	// Function is the comparison.
	Function Function
	// Arg is the right-hand side, sorted and checked against the column's
	// constraints (with the relaxed size rules C applies per function).
	Arg schema.Datum
}

// ToJSON returns the clause in RFC 7047 form (true/false for the boolean
// clauses), as C's ovsdb_condition_to_json.
func (c *Condition) ToJSON() any {
	if c.Function == FuncTrue || c.Function == FuncFalse {
		return c.Function == FuncTrue
	}
	return []any{c.Column.Name, c.Function.String(), schema.DatumToJSON(&c.Column.Type, c.Arg)}
}

// ParseConditions parses an RFC 7047 "where" array for table t. Errors are
// C-identical. The caller is expected to have checked that the "where"
// member is an array (C's member parser does); a non-array gives a syntax
// error here. The result is sorted in C's order (function, then column),
// which does not change what MatchAll returns.
func ParseConditions(t *schema.Table, js any, symtab schema.Symtab) ([]Condition, error) {
	arr, ok := js.([]any)
	if !ok {
		return nil, ovsdberr.Syntax(js, "Parse error in condition.")
	}
	conds := make([]Condition, 0, len(arr))
	for _, cj := range arr {
		c, err := parseClause(t, cj, symtab)
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
	}
	sort.SliceStable(conds, func(i, j int) bool { return compareClauses(&conds[i], &conds[j]) < 0 })
	return conds, nil
}

func compareClauses(a, b *Condition) int {
	if a.Function != b.Function {
		if a.Function < b.Function {
			return -1
		}
		return 1
	}
	if a.Column.Index != b.Column.Index {
		if a.Column.Index <= schema.ColVersion || b.Column.Index <= schema.ColVersion {
			if a.Column.Index < b.Column.Index {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Column.Name, b.Column.Name)
	}
	return schema.CompareDatums(a.Arg, b.Arg)
}

func functionFromString(name string) (Function, bool) {
	// "true" and "false" are valid function names in C's table, but C
	// 3.1 aborts when they are used inside a 3-element clause; we reject
	// them as unknown instead of crashing.
	for i := FuncEQ; i <= FuncNE; i++ {
		if functionNames[i] == name {
			return i, true
		}
	}
	return 0, false
}

func parseClause(t *schema.Table, js any, symtab schema.Symtab) (Condition, error) {
	if b, ok := js.(bool); ok {
		c := Condition{Column: t.Columns[schema.ColUUID], Function: FuncFalse}
		if b {
			c.Function = FuncTrue
		}
		c.Arg = schema.DefaultDatum(&c.Column.Type)
		return c, nil
	}
	arr, ok := js.([]any)
	if !ok || len(arr) != 3 {
		return Condition{}, ovsdberr.Syntax(js, "Parse error in condition.")
	}
	colName, ok1 := arr[0].(string)
	fnName, ok2 := arr[1].(string)
	if !ok1 || !ok2 {
		return Condition{}, ovsdberr.Syntax(js, "Parse error in condition.")
	}
	col := t.Column(colName)
	if col == nil {
		return Condition{}, ovsdberr.WithSyntax("unknown column", js, "No column %s in table %s.", colName, t.Name)
	}
	fn, ok := functionFromString(fnName)
	if !ok {
		return Condition{}, ovsdberr.New("unknown function", "No function named %s.", fnName)
	}
	typ := col.Type
	switch fn {
	case FuncLT, FuncLE, FuncGT, FuncGE:
		if !(typ.IsScalar() || typ.IsOptionalScalar()) ||
			(typ.Key.Type != schema.TypeInteger && typ.Key.Type != schema.TypeReal) {
			return Condition{}, ovsdberr.Syntax(js,
				"Type mismatch: \"%s\" operator may not be applied to column %s of type %s.",
				fn, col.Name, TypeToEnglish(&col.Type))
		}
		typ.Min = 1
	case FuncExcludes:
		if !typ.IsScalar() {
			typ.Min, typ.Max = 0, schema.Unlimited
		}
	case FuncIncludes:
		if !typ.IsScalar() {
			typ.Min = 0
		}
	}
	arg, err := parseDatumSized(&typ, arr[2], symtab)
	if err != nil {
		return Condition{}, err
	}
	return Condition{Column: col, Function: fn, Arg: arg}, nil
}

// MatchAll reports whether row satisfies every condition (true for no
// conditions).
func MatchAll(conds []Condition, row *Row) bool {
	for i := range conds {
		if !conds[i].Match(row) {
			return false
		}
	}
	return true
}

// Match evaluates one clause against a row, as C's ovsdb_clause_evaluate.
func (c *Condition) Match(row *Row) bool {
	switch c.Function {
	case FuncTrue:
		return true
	case FuncFalse:
		return false
	}
	field := row.Field(c.Column.Index)
	typ := &c.Column.Type
	arg := c.Arg
	ordered := c.Function == FuncLT || c.Function == FuncLE || c.Function == FuncGT || c.Function == FuncGE
	if typ.IsOptionalScalar() && len(field.Keys) == 0 && ordered {
		return false
	}
	if (typ.IsScalar() || typ.IsOptionalScalar()) && len(field.Keys) == 1 && len(arg.Keys) == 1 {
		cmp := schema.CompareAtoms(field.Keys[0], arg.Keys[0])
		switch c.Function {
		case FuncLT:
			return cmp < 0
		case FuncLE:
			return cmp <= 0
		case FuncEQ, FuncIncludes:
			return cmp == 0
		case FuncNE, FuncExcludes:
			return cmp != 0
		case FuncGE:
			return cmp >= 0
		case FuncGT:
			return cmp > 0
		}
		return false
	}
	switch c.Function {
	case FuncEQ:
		return datumEquals(typ, field, arg)
	case FuncNE:
		return !datumEquals(typ, field, arg)
	case FuncIncludes:
		return includesAll(typ, arg, field)
	case FuncExcludes:
		return excludesAll(typ, arg, field)
	}
	// Ordered functions on a non-optional column always have one element
	// on each side, handled above.
	return false
}

func datumEquals(t *schema.Type, a, b schema.Datum) bool {
	if len(a.Keys) != len(b.Keys) {
		return false
	}
	for i := range a.Keys {
		if schema.CompareAtoms(a.Keys[i], b.Keys[i]) != 0 {
			return false
		}
	}
	if t.IsMap() {
		for i := range a.Values {
			if schema.CompareAtoms(a.Values[i], b.Values[i]) != 0 {
				return false
			}
		}
	}
	return true
}

// findElem returns whether element i of a (key, and value when byValue) is
// in b.
func findElem(a schema.Datum, i int, b schema.Datum, byValue bool) bool {
	j := b.Find(a.Keys[i])
	if j < 0 {
		return false
	}
	if byValue && a.Values != nil && b.Values != nil {
		return schema.CompareAtoms(a.Values[i], b.Values[j]) == 0
	}
	return true
}

// includesAll reports whether every element of a is in b.
func includesAll(t *schema.Type, a, b schema.Datum) bool {
	if len(a.Keys) > len(b.Keys) {
		return false
	}
	for i := range a.Keys {
		if !findElem(a, i, b, t.IsMap()) {
			return false
		}
	}
	return true
}

// excludesAll reports whether no element of a is in b.
func excludesAll(t *schema.Type, a, b schema.Datum) bool {
	for i := range a.Keys {
		if findElem(a, i, b, t.IsMap()) {
			return false
		}
	}
	return true
}

// TypeToEnglish describes a column type as C's ovsdb_type_to_english
// ("integer", "set of up to 2 strings", "map of (string, integer) pairs").
func TypeToEnglish(t *schema.Type) string {
	if t.IsScalar() {
		return t.Key.Type.String()
	}
	var sb strings.Builder
	if t.IsSet() {
		sb.WriteString("set")
	} else {
		sb.WriteString("map")
	}
	switch {
	case t.Max == schema.Unlimited && t.Min > 0:
		fmt.Fprintf(&sb, " of %d or more", t.Min)
	case t.Max == schema.Unlimited:
		sb.WriteString(" of")
	case t.Min > 0:
		fmt.Fprintf(&sb, " of %d to %d", t.Min, t.Max)
	default:
		fmt.Fprintf(&sb, " of up to %d", t.Max)
	}
	if t.IsSet() {
		fmt.Fprintf(&sb, " %ss", t.Key.Type)
	} else {
		fmt.Fprintf(&sb, " (%s, %s) pairs", t.Key.Type, t.Value.Type)
	}
	return sb.String()
}

// cMax renders a maximum size as C's unsigned int does ("unlimited" is
// UINT_MAX there).
func cMax(n int) uint64 {
	if n == schema.Unlimited {
		return 1<<32 - 1
	}
	return uint64(n)
}

// parseDatumSized is C's ovsdb_datum_from_json: it checks the number of
// elements against t (with C's wording for an unlimited maximum) before
// parsing the atoms, then parses, checks constraints and sorts.
func parseDatumSized(t *schema.Type, js any, symtab schema.Symtab) (schema.Datum, error) {
	if arr, ok := js.([]any); ok && len(arr) == 2 {
		class, _ := arr[0].(string)
		inner, isArr := arr[1].([]any)
		wantClass := "set"
		if t.IsMap() {
			wantClass = "map"
		}
		if isArr && class == wantClass {
			n := len(inner)
			if n < t.Min || n > t.Max {
				if t.Min == 1 && t.Max == 1 {
					return schema.Datum{}, ovsdberr.Syntax(js,
						"%s must have exactly one member but %d are present", class, n)
				}
				return schema.Datum{}, ovsdberr.Syntax(js,
					"%s must have %d to %d members but %d are present", class, t.Min, cMax(t.Max), n)
			}
		}
	}
	return schema.ParseDatumNoSize(t, js, symtab)
}

// MatchAny reports whether row satisfies at least one condition, or conds is empty: C's
// ovsdb_condition_empty_or_match_any, used by monitor_cond "where" arrays
// (a disjunction).
func MatchAny(conds []Condition, row *Row) bool {
	if len(conds) == 0 {
		return true
	}
	for i := range conds {
		if conds[i].Match(row) {
			return true
		}
	}
	return false
}

// ConditionsAlwaysTrue reports whether MatchAny is true for every row, as C's
// ovsdb_condition_is_true (empty, or a sorted list containing `true`).
func ConditionsAlwaysTrue(conds []Condition) bool {
	return len(conds) == 0 ||
		conds[0].Function == FuncTrue ||
		(len(conds) >= 2 && conds[1].Function == FuncTrue)
}

// ConditionsAlwaysFalse reports whether conds is exactly [false], as C's
// ovsdb_condition_is_false.
func ConditionsAlwaysFalse(conds []Condition) bool {
	return len(conds) == 1 && conds[0].Function == FuncFalse
}

// CompareConditions orders two parsed (sorted) condition lists as C's
// ovsdb_condition_cmp_3way: by length, then clause by clause.
func CompareConditions(a, b []Condition) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	for i := range a {
		if c := compareClauses(&a[i], &b[i]); c != 0 {
			return c
		}
	}
	return 0
}

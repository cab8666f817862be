package schema

import (
	"encoding/json"
	"math"
	"regexp"

	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// AtomicType is one of the five OVSDB atomic types.
type AtomicType uint8

// The atomic types. TypeVoid is used only for the absent value type of sets.
const (
	TypeVoid AtomicType = iota
	TypeInteger
	TypeReal
	TypeBoolean
	TypeString
	TypeUUID
)

var atomicNames = [...]string{"void", "integer", "real", "boolean", "string", "uuid"}

// String returns the JSON name of the type ("integer", ...).
func (t AtomicType) String() string { return atomicNames[t] }

// ParseAtomicType maps a JSON name to an AtomicType.
func ParseAtomicType(s string) (AtomicType, bool) {
	for i := TypeInteger; i <= TypeUUID; i++ {
		if atomicNames[i] == s {
			return i, true
		}
	}
	return TypeVoid, false
}

// RefType says whether a reference is strong or weak.
type RefType uint8

// Reference types.
const (
	RefStrong RefType = iota
	RefWeak
)

// Unlimited is the Max of a set or map with "max": "unlimited".
const Unlimited = math.MaxInt32

// BaseType is an atomic type with optional constraints.
type BaseType struct {
	Type AtomicType
	// Enum, if non-nil, is the set of allowed values (a set datum).
	Enum *Datum

	MinInteger, MaxInteger int64   // integer range (defaults: full int64)
	MinReal, MaxReal       float64 // real range (defaults: ±MaxFloat64)
	MinLength, MaxLength   int     // string length in UTF-8 code points (defaults: 0, MaxInt32)
	RefTableName           string  // uuid: referenced table name, "" if none
	RefTable               *Table  // resolved reference, nil if none
	RefType                RefType
}

// NewBaseType returns an unconstrained base type.
func NewBaseType(t AtomicType) BaseType {
	return BaseType{
		Type:       t,
		MinInteger: math.MinInt64, MaxInteger: math.MaxInt64,
		MinReal: -math.MaxFloat64, MaxReal: math.MaxFloat64,
		MinLength: 0, MaxLength: math.MaxInt32,
	}
}

// HasConstraints reports whether b carries any constraint beyond its type.
func (b *BaseType) HasConstraints() bool {
	if b.Enum != nil {
		return true
	}
	switch b.Type {
	case TypeInteger:
		return b.MinInteger != math.MinInt64 || b.MaxInteger != math.MaxInt64
	case TypeReal:
		return b.MinReal != -math.MaxFloat64 || b.MaxReal != math.MaxFloat64
	case TypeString:
		return b.MinLength != 0 || b.MaxLength != math.MaxInt32
	case TypeUUID:
		return b.RefTableName != ""
	}
	return false
}

// IsStrongRef reports whether b is a strong reference to a table.
func (b *BaseType) IsStrongRef() bool { return b.RefTableName != "" && b.RefType == RefStrong }

// IsWeakRef reports whether b is a weak reference to a table.
func (b *BaseType) IsWeakRef() bool { return b.RefTableName != "" && b.RefType == RefWeak }

// Type is a column type: a key base type, an optional value base type (maps),
// and the allowed number of elements.
type Type struct {
	Key   BaseType
	Value *BaseType // nil for scalars and sets
	Min   int       // 0 or 1
	Max   int       // >= 1, Unlimited for "unlimited"
}

// IsMap reports whether t is a map type.
func (t *Type) IsMap() bool { return t.Value != nil }

// IsSet reports whether t is a set (not a map, and not exactly one element).
func (t *Type) IsSet() bool { return t.Value == nil && (t.Min != 1 || t.Max != 1) }

// IsScalar reports whether t holds exactly one atom.
func (t *Type) IsScalar() bool { return t.Value == nil && t.Min == 1 && t.Max == 1 }

// IsOptional reports whether t is a 0..1 set.
func (t *Type) IsOptional() bool { return t.Min == 0 && t.Max == 1 }

// IsOptionalScalar reports whether t is a 0..1 set of atoms.
func (t *Type) IsOptionalScalar() bool { return t.Value == nil && t.Min == 0 && t.Max == 1 }

// HasStrongRef / HasWeakRef report references in key or value.
func (t *Type) HasStrongRef() bool {
	return t.Key.IsStrongRef() || (t.Value != nil && t.Value.IsStrongRef())
}

// HasWeakRef reports whether key or value is a weak reference.
func (t *Type) HasWeakRef() bool {
	return t.Key.IsWeakRef() || (t.Value != nil && t.Value.IsWeakRef())
}

// HasRef reports whether key or value references a table.
func (t *Type) HasRef() bool {
	return t.Key.RefTableName != "" || (t.Value != nil && t.Value.RefTableName != "")
}

var idRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// IsValidID reports whether s is a valid OVSDB identifier.
func IsValidID(s string) bool { return idRE.MatchString(s) }

func jsonInt(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err == nil {
			return i, true
		}
		f, err := n.Float64()
		if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return int64(f), false
		}
	case float64:
		return int64(n), n == math.Trunc(n)
	case int64:
		return n, true
	case int:
		return int64(n), true
	}
	return 0, false
}

func jsonNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}

func isJSONInteger(v any) bool {
	switch n := v.(type) {
	case json.Number:
		_, err := n.Int64()
		return err == nil
	case int64, int:
		return true
	}
	return false
}

// ParseBaseType parses the JSON form of a base type.
func ParseBaseType(js any) (BaseType, error) {
	if s, ok := js.(string); ok {
		t, ok := ParseAtomicType(s)
		if !ok {
			return BaseType{}, ovsdberr.Syntax(js, "unknown atomic type \"%s\"", s)
		}
		return NewBaseType(t), nil
	}
	obj, ok := js.(map[string]any)
	if !ok {
		return BaseType{}, ovsdberr.Syntax(js, "base type must be string or object")
	}
	for k := range obj {
		switch k {
		case "type", "enum", "minInteger", "maxInteger", "minReal", "maxReal",
			"minLength", "maxLength", "refTable", "refType":
		default:
			return BaseType{}, ovsdberr.Syntax(js, "Member '%s' is present but not allowed here.", k)
		}
	}
	ts, ok := obj["type"].(string)
	if !ok {
		return BaseType{}, ovsdberr.Syntax(js, "Required 'type' member is missing.")
	}
	t, ok := ParseAtomicType(ts)
	if !ok {
		return BaseType{}, ovsdberr.Syntax(js, "unknown atomic type \"%s\"", ts)
	}
	b := NewBaseType(t)
	allowed := func(name string, types ...AtomicType) error {
		if _, present := obj[name]; !present {
			return nil
		}
		for _, at := range types {
			if at == t {
				return nil
			}
		}
		return ovsdberr.Syntax(js, "Member '%s' is present but not allowed here.", name)
	}
	for _, c := range []struct {
		n string
		t []AtomicType
	}{
		{"minInteger", []AtomicType{TypeInteger}}, {"maxInteger", []AtomicType{TypeInteger}},
		{"minReal", []AtomicType{TypeReal}}, {"maxReal", []AtomicType{TypeReal}},
		{"minLength", []AtomicType{TypeString}}, {"maxLength", []AtomicType{TypeString}},
		{"refTable", []AtomicType{TypeUUID}}, {"refType", []AtomicType{TypeUUID}},
	} {
		if err := allowed(c.n, c.t...); err != nil {
			return BaseType{}, err
		}
	}
	getInt := func(name string, dst *int64) error {
		v, present := obj[name]
		if !present {
			return nil
		}
		i, ok := jsonInt(v)
		if !ok || !isJSONInteger(v) {
			return ovsdberr.Syntax(js, "Type mismatch for member '%s'.", name)
		}
		*dst = i
		return nil
	}
	switch t {
	case TypeInteger:
		if err := getInt("minInteger", &b.MinInteger); err != nil {
			return b, err
		}
		if err := getInt("maxInteger", &b.MaxInteger); err != nil {
			return b, err
		}
		if b.MinInteger > b.MaxInteger {
			return b, ovsdberr.Syntax(js, "minInteger exceeds maxInteger")
		}
	case TypeReal:
		for _, n := range []string{"minReal", "maxReal"} {
			if v, present := obj[n]; present {
				f, ok := jsonNumber(v)
				if !ok {
					return b, ovsdberr.Syntax(js, "Type mismatch for member '%s'.", n)
				}
				if n == "minReal" {
					b.MinReal = f
				} else {
					b.MaxReal = f
				}
			}
		}
		if b.MinReal > b.MaxReal {
			return b, ovsdberr.Syntax(js, "minReal exceeds maxReal")
		}
	case TypeString:
		var lo, hi int64 = 0, math.MaxInt32
		if err := getInt("minLength", &lo); err != nil {
			return b, err
		}
		if err := getInt("maxLength", &hi); err != nil {
			return b, err
		}
		if lo < 0 || hi < 0 || lo > math.MaxInt32 || hi > math.MaxInt32 {
			return b, ovsdberr.Syntax(js, "minLength and maxLength must be between 0 and %d", math.MaxInt32)
		}
		if lo > hi {
			return b, ovsdberr.Syntax(js, "minLength exceeds maxLength")
		}
		b.MinLength, b.MaxLength = int(lo), int(hi)
	case TypeUUID:
		if v, present := obj["refTable"]; present {
			s, ok := v.(string)
			if !ok {
				return b, ovsdberr.Syntax(js, "Type mismatch for member 'refTable'.")
			}
			if !IsValidID(s) {
				return b, ovsdberr.Syntax(js, "refTable \"%s\" is not a valid identifier", s)
			}
			b.RefTableName = s
			if rv, present := obj["refType"]; present {
				rs, _ := rv.(string)
				switch rs {
				case "strong":
					b.RefType = RefStrong
				case "weak":
					b.RefType = RefWeak
				default:
					return b, ovsdberr.Syntax(js, "refType must be \"strong\" or \"weak\" (not \"%v\")", rv)
				}
			}
		} else if _, present := obj["refType"]; present {
			return b, ovsdberr.Syntax(js, "refType is not allowed without refTable")
		}
	}
	if ev, present := obj["enum"]; present {
		// An enum is a set of atoms of this base type (without the enum).
		setType := Type{Key: b, Min: 1, Max: Unlimited}
		d, err := ParseDatum(&setType, ev, nil)
		if err != nil {
			return b, err
		}
		b.Enum = &d
	}
	return b, nil
}

// ParseType parses the JSON form of a column type.
func ParseType(js any) (Type, error) {
	if s, ok := js.(string); ok {
		t, ok := ParseAtomicType(s)
		if !ok {
			return Type{}, ovsdberr.Syntax(js, "unknown atomic type \"%s\"", s)
		}
		return Type{Key: NewBaseType(t), Min: 1, Max: 1}, nil
	}
	obj, ok := js.(map[string]any)
	if !ok {
		return Type{}, ovsdberr.Syntax(js, "ovsdb type expected")
	}
	for k := range obj {
		switch k {
		case "key", "value", "min", "max":
		default:
			return Type{}, ovsdberr.Syntax(js, "Member '%s' is present but not allowed here.", k)
		}
	}
	kj, present := obj["key"]
	if !present {
		return Type{}, ovsdberr.Syntax(js, "Required 'key' member is missing.")
	}
	key, err := ParseBaseType(kj)
	if err != nil {
		return Type{}, err
	}
	t := Type{Key: key, Min: 1, Max: 1}
	if vj, present := obj["value"]; present {
		v, err := ParseBaseType(vj)
		if err != nil {
			return Type{}, err
		}
		t.Value = &v
	}
	if mj, present := obj["min"]; present {
		i, ok := jsonInt(mj)
		if !ok || !isJSONInteger(mj) {
			return Type{}, ovsdberr.Syntax(js, "Type mismatch for member 'min'.")
		}
		if i < 0 || i > 1 {
			return Type{}, ovsdberr.Syntax(js, "ovsdb type fails constraint checks")
		}
		t.Min = int(i)
	}
	if mj, present := obj["max"]; present {
		if s, ok := mj.(string); ok && s == "unlimited" {
			t.Max = Unlimited
		} else {
			i, ok := jsonInt(mj)
			if !ok || !isJSONInteger(mj) || i < 1 || i > math.MaxInt32 {
				return Type{}, ovsdberr.Syntax(js, "\"max\" must be positive integer or \"unlimited\"")
			}
			t.Max = int(i)
		}
	}
	if t.Min > t.Max {
		return Type{}, ovsdberr.Syntax(js, "ovsdb type fails constraint checks")
	}
	return t, nil
}

// BaseTypeJSON returns the canonical JSON of b, as C's get_schema prints it.
func BaseTypeJSON(b *BaseType) any {
	if !b.HasConstraints() {
		return b.Type.String()
	}
	m := map[string]any{"type": b.Type.String()}
	if b.Enum != nil {
		bt := *b
		bt.Enum = nil
		st := Type{Key: bt, Min: 1, Max: Unlimited}
		m["enum"] = DatumToJSON(&st, *b.Enum)
	}
	switch b.Type {
	case TypeInteger:
		if b.MinInteger != math.MinInt64 {
			m["minInteger"] = b.MinInteger
		}
		if b.MaxInteger != math.MaxInt64 {
			m["maxInteger"] = b.MaxInteger
		}
	case TypeReal:
		if b.MinReal != -math.MaxFloat64 {
			m["minReal"] = b.MinReal
		}
		if b.MaxReal != math.MaxFloat64 {
			m["maxReal"] = b.MaxReal
		}
	case TypeString:
		if b.MinLength != 0 {
			m["minLength"] = b.MinLength
		}
		if b.MaxLength != math.MaxInt32 {
			m["maxLength"] = b.MaxLength
		}
	case TypeUUID:
		if b.RefTableName != "" {
			m["refTable"] = b.RefTableName
			if b.RefType == RefWeak {
				m["refType"] = "weak"
			}
		}
	}
	return m
}

// TypeJSON returns the canonical JSON of t.
func TypeJSON(t *Type) any {
	if t.Value == nil && t.Min == 1 && t.Max == 1 && !t.Key.HasConstraints() {
		return t.Key.Type.String()
	}
	m := map[string]any{"key": BaseTypeJSON(&t.Key)}
	if t.Value != nil {
		m["value"] = BaseTypeJSON(t.Value)
	}
	if t.Min != 1 {
		m["min"] = t.Min
	}
	if t.Max == Unlimited {
		m["max"] = "unlimited"
	} else if t.Max != 1 {
		m["max"] = t.Max
	}
	return m
}

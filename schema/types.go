package schema

import (
	"math"

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

// Unlimited is the Max of a set or map with "max": "unlimited" (C's UINT_MAX).
const Unlimited = math.MaxUint32

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
		MinLength: 0, MaxLength: math.MaxUint32,
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
		return b.MinLength != 0 || b.MaxLength != math.MaxUint32
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

// IsValidID reports whether s is a valid OVSDB identifier: a letter or
// underscore followed by letters, digits and underscores.
func IsValidID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func parseAtomicType(js any) (AtomicType, error) {
	s, ok := js.(string)
	if !ok {
		return TypeVoid, ovsdberr.Syntax(js, "atomic-type expected")
	}
	t, ok := ParseAtomicType(s)
	if !ok {
		return TypeVoid, ovsdberr.Syntax(js, "\"%s\" is not an atomic-type", s)
	}
	return t, nil
}

// ParseBaseType parses the JSON form of a base type.
func ParseBaseType(js any) (BaseType, error) {
	if _, ok := js.(string); ok {
		t, err := parseAtomicType(js)
		if err != nil {
			return BaseType{}, err
		}
		return NewBaseType(t), nil
	}
	p := NewParser(js, "ovsdb type")
	tj := p.Member("type", KString)
	if p.Err() != nil {
		return BaseType{}, p.Finish()
	}
	t, err := parseAtomicType(tj)
	if err != nil {
		return BaseType{}, err
	}
	b := NewBaseType(t)
	if ev := p.Member("enum", KAny|KOptional); ev != nil {
		d, perr := ParseDatum(b.EnumType(), ev, nil)
		if perr != nil {
			err = perr
		} else {
			b.Enum = &d
		}
	} else {
		switch t {
		case TypeInteger:
			if v := p.Member("minInteger", KInteger|KOptional); v != nil {
				b.MinInteger, _ = AsInteger(v)
			}
			if v := p.Member("maxInteger", KInteger|KOptional); v != nil {
				b.MaxInteger, _ = AsInteger(v)
			}
			if b.MinInteger > b.MaxInteger {
				err = ovsdberr.Syntax(js, "minInteger exceeds maxInteger")
			}
		case TypeReal:
			if v := p.Member("minReal", KNumber|KOptional); v != nil {
				b.MinReal, _ = AsReal(v)
			}
			if v := p.Member("maxReal", KNumber|KOptional); v != nil {
				b.MaxReal, _ = AsReal(v)
			}
			if b.MinReal > b.MaxReal {
				err = ovsdberr.Syntax(js, "minReal exceeds maxReal")
			}
		case TypeString:
			for _, m := range []struct {
				name string
				dst  *int
			}{{"minLength", &b.MinLength}, {"maxLength", &b.MaxLength}} {
				if err != nil {
					break
				}
				if v := p.Member(m.name, KInteger|KOptional); v != nil {
					n, _ := AsInteger(v)
					if n < 0 || n > math.MaxUint32 {
						err = ovsdberr.Syntax(v, "%s out of valid range 0 to %d", m.name, uint32(math.MaxUint32))
					} else {
						*m.dst = int(n)
					}
				}
			}
			if err == nil && b.MinLength > b.MaxLength {
				err = ovsdberr.Syntax(js, "minLength exceeds maxLength")
			}
		case TypeUUID:
			if v := p.Member("refTable", KID|KOptional); v != nil {
				b.RefTableName = v.(string)
				if rv := p.Member("refType", KID|KOptional); rv != nil {
					switch rv.(string) {
					case "strong":
						b.RefType = RefStrong
					case "weak":
						b.RefType = RefWeak
					default:
						err = ovsdberr.Syntax(js, "refType must be \"strong\" or \"weak\" (not \"%s\")", rv.(string))
					}
				}
			}
		}
	}
	if err != nil {
		return BaseType{}, err
	}
	if err := p.Finish(); err != nil {
		return BaseType{}, err
	}
	return b, nil
}

// EnumType returns the type of b's enum: a set of b without the enum, with
// 1 to unlimited members (C's ovsdb_base_type_get_enum_type).
func (b *BaseType) EnumType() *Type {
	k := *b
	k.Enum = nil
	return &Type{Key: k, Min: 1, Max: Unlimited}
}

func nFromJSON(v any, dst *int) error {
	if v == nil {
		return nil
	}
	n, ok := AsInteger(v)
	if !ok || n < 0 || n >= math.MaxUint32 {
		return ovsdberr.Syntax(v, "bad min or max value")
	}
	*dst = int(n)
	return nil
}

// ParseType parses the JSON form of a column type.
func ParseType(js any) (Type, error) {
	switch js.(type) {
	case string:
		k, err := ParseBaseType(js)
		if err != nil {
			return Type{}, err
		}
		return Type{Key: k, Min: 1, Max: 1}, nil
	case map[string]any:
	default:
		return Type{}, ovsdberr.Syntax(js, "ovsdb type expected")
	}
	p := NewParser(js, "ovsdb type")
	kj := p.Member("key", KString|KObject)
	vj := p.Member("value", KString|KObject|KOptional)
	minj := p.Member("min", KInteger|KOptional)
	maxj := p.Member("max", KInteger|KString|KOptional)
	if err := p.Finish(); err != nil {
		return Type{}, err
	}
	key, err := ParseBaseType(kj)
	if err != nil {
		return Type{}, err
	}
	t := Type{Key: key, Min: 1, Max: 1}
	if vj != nil {
		v, err := ParseBaseType(vj)
		if err != nil {
			return Type{}, err
		}
		t.Value = &v
	}
	if err := nFromJSON(minj, &t.Min); err != nil {
		return Type{}, err
	}
	if s, ok := maxj.(string); ok && s == "unlimited" {
		t.Max = Unlimited
	} else if err := nFromJSON(maxj, &t.Max); err != nil {
		return Type{}, err
	}
	if t.Min > 1 || t.Max < 1 || t.Min > t.Max {
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
		m["enum"] = DatumToJSON(b.EnumType(), *b.Enum)
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
		if b.MaxLength != math.MaxUint32 {
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

package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// Atom is one OVSDB value: int64, float64, bool, string or UUID.
type Atom = any

// Symtab resolves named UUIDs ("named-uuid" in RFC 7047) while parsing.
// Lookup returns the UUID bound to name, creating a binding if needed, and
// records that it was referenced through base.
type Symtab interface {
	Lookup(name string, base *BaseType) UUID
}

// DefaultAtom returns the default atom of a type (0, 0.0, false, "", zero UUID).
func DefaultAtom(t AtomicType) Atom {
	switch t {
	case TypeInteger:
		return int64(0)
	case TypeReal:
		return float64(0)
	case TypeBoolean:
		return false
	case TypeString:
		return ""
	case TypeUUID:
		return ZeroUUID
	}
	return nil
}

// CompareAtoms orders two atoms of the same type as C does.
func CompareAtoms(a, b Atom) int {
	switch x := a.(type) {
	case int64:
		y := b.(int64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case float64:
		y := b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case bool:
		y := b.(bool)
		if x == y {
			return 0
		}
		if !x {
			return -1
		}
		return 1
	case string:
		return strings.Compare(x, b.(string))
	case UUID:
		y := b.(UUID)
		return bytes.Compare(x[:], y[:])
	}
	panic(fmt.Sprintf("CompareAtoms: bad atom %T", a))
}

// AtomToJSON returns the JSON value of an atom (reals stay float64, which
// internal/cjson prints in C's "%.15g" form).
func AtomToJSON(a Atom) any {
	switch x := a.(type) {
	case UUID:
		return []any{"uuid", x.String()}
	}
	return a
}

func unwrapPair(js any, name string) (string, bool) {
	arr, ok := js.([]any)
	if !ok || len(arr) != 2 {
		return "", false
	}
	tag, ok := arr[0].(string)
	if !ok || tag != name {
		return "", false
	}
	s, ok := arr[1].(string)
	return s, ok
}

func unwrapError(js any, name, want string) error {
	return ovsdberr.Syntax(js, "expected [\"%s\", <%s>]", name, want)
}

// ParseAtom parses the JSON form of an atom of base type b and checks b's
// constraints (except references, which are checked at commit).
func ParseAtom(b *BaseType, js any, symtab Symtab) (Atom, error) {
	a, err := parseAtom(b, js, symtab)
	if err != nil {
		return nil, err
	}
	if err := CheckAtom(b, a); err != nil {
		return nil, err
	}
	return a, nil
}

func parseAtom(b *BaseType, js any, symtab Symtab) (Atom, error) {
	switch b.Type {
	case TypeInteger:
		if i, ok := AsInteger(js); ok {
			if _, isNum := js.(json.Number); isNum || isGoInt(js) {
				return i, nil
			}
		}
	case TypeReal:
		if f, ok := AsReal(js); ok {
			return f, nil
		}
	case TypeBoolean:
		if v, ok := js.(bool); ok {
			return v, nil
		}
	case TypeString:
		if _, ok := js.(string); ok {
			return js, nil // the caller's boxed string: no new allocation
		}
	case TypeUUID:
		return parseUUIDAtom(b, js, symtab)
	}
	return nil, ovsdberr.Syntax(js, "expected %s", b.Type)
}

func isGoInt(v any) bool {
	switch v.(type) {
	case int64, int:
		return true
	}
	return false
}

func parseUUIDAtom(b *BaseType, js any, symtab Symtab) (Atom, error) {
	if s, ok := unwrapPair(js, "uuid"); ok {
		u, err := ParseUUID(s)
		if err != nil {
			return nil, ovsdberr.Syntax(js, "\"%s\" is not a valid UUID", s)
		}
		return u, nil
	}
	if symtab != nil {
		if name, ok := unwrapPair(js, "named-uuid"); ok {
			if !IsValidID(name) {
				return nil, ovsdberr.Syntax(js, "named-uuid string is not a valid <id>")
			}
			return symtab.Lookup(name, b), nil
		}
	}
	return nil, unwrapError(js, "uuid", "string")
}

// CheckAtom checks a's non-reference constraints against b.
func CheckAtom(b *BaseType, a Atom) error {
	if b.Enum != nil && !b.Enum.Contains(a) {
		return ovsdberr.New(ovsdberr.TagConstraint, "%s is not one of the allowed values (%s)",
			AtomString(a), DatumString(b.EnumType(), *b.Enum))
	}
	switch x := a.(type) {
	case int64:
		if x >= b.MinInteger && x <= b.MaxInteger {
			return nil
		}
		return rangeError(fmt.Sprint(x), fmt.Sprint(b.MinInteger), fmt.Sprint(b.MaxInteger),
			b.MinInteger != NewBaseType(TypeInteger).MinInteger, b.MaxInteger != NewBaseType(TypeInteger).MaxInteger)
	case float64:
		if x >= b.MinReal && x <= b.MaxReal {
			return nil
		}
		def := NewBaseType(TypeReal)
		return rangeError(FormatReal(x), FormatReal(b.MinReal), FormatReal(b.MaxReal),
			b.MinReal != def.MinReal, b.MaxReal != def.MaxReal)
	case string:
		if msg := InvalidUTF8(x); msg != "" {
			return ovsdberr.New(ovsdberr.TagConstraint, "not a valid UTF-8 string: %s", msg)
		}
		if b.MinLength == 0 && b.MaxLength >= len(x) {
			return nil
		}
		n := utf8.RuneCountInString(x)
		if n < b.MinLength {
			return ovsdberr.New(ovsdberr.TagConstraint,
				"\"%s\" length %d is less than minimum allowed length %d", x, n, b.MinLength)
		}
		if n > b.MaxLength {
			return ovsdberr.New(ovsdberr.TagConstraint,
				"\"%s\" length %d is greater than maximum allowed length %d", x, n, b.MaxLength)
		}
	}
	return nil
}

// InvalidUTF8 checks s as C's utf8_validate does and returns "" for valid
// UTF-8, else C's message naming the offending bytes: "invalid UTF-8
// sequence 0xed 0xa0". As in C, the bytes given are those of the sequence up
// to and including the first one that does not fit (a byte past the end of
// s is C's terminating null, 0x00), and s ends at its first null byte.
func InvalidUTF8(s string) string {
	if isASCII(s) {
		return ""
	}
	at := func(i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	for i := 0; i < len(s) && s[i] != 0; {
		c := s[i]
		if c < 0x80 {
			i++
			continue
		}
		// The allowed range of each byte after the first (Unicode's table
		// of well-formed sequences, which C's lookup table encodes).
		var next [3][2]byte
		n := 0
		switch {
		case c >= 0xc2 && c <= 0xdf:
			next, n = [3][2]byte{{0x80, 0xbf}}, 1
		case c == 0xe0:
			next, n = [3][2]byte{{0xa0, 0xbf}, {0x80, 0xbf}}, 2
		case c >= 0xe1 && c <= 0xec, c == 0xee, c == 0xef:
			next, n = [3][2]byte{{0x80, 0xbf}, {0x80, 0xbf}}, 2
		case c == 0xed:
			next, n = [3][2]byte{{0x80, 0x9f}, {0x80, 0xbf}}, 2
		case c == 0xf0:
			next, n = [3][2]byte{{0x90, 0xbf}, {0x80, 0xbf}, {0x80, 0xbf}}, 3
		case c >= 0xf1 && c <= 0xf3:
			next, n = [3][2]byte{{0x80, 0xbf}, {0x80, 0xbf}, {0x80, 0xbf}}, 3
		case c == 0xf4:
			next, n = [3][2]byte{{0x80, 0x8f}, {0x80, 0xbf}, {0x80, 0xbf}}, 3
		default:
			return invalidSequence(s[i:], 1)
		}
		for k := 1; k <= n; k++ {
			if b := at(i + k); b < next[k-1][0] || b > next[k-1][1] {
				return invalidSequence(s[i:], k+1)
			}
		}
		i += n + 1
	}
	return ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// invalidSequence is C's message for the first n bytes of s (0x00 past its
// end).
func invalidSequence(s string, n int) string {
	b := []byte("invalid UTF-8 sequence")
	for i := 0; i < n; i++ {
		var c byte
		if i < len(s) {
			c = s[i]
		}
		b = fmt.Appendf(b, " 0x%02x", c)
	}
	return string(b)
}

func rangeError(v, lo, hi string, hasMin, hasMax bool) error {
	switch {
	case hasMin && hasMax:
		return ovsdberr.New(ovsdberr.TagConstraint, "%s is not in the valid range %s to %s (inclusive)", v, lo, hi)
	case hasMin:
		return ovsdberr.New(ovsdberr.TagConstraint, "%s is less than minimum allowed value %s", v, lo)
	}
	return ovsdberr.New(ovsdberr.TagConstraint, "%s is greater than maximum allowed value %s", v, hi)
}

// AtomString renders an atom as C's ovsdb_atom_to_string (used in messages).
func AtomString(a Atom) string {
	switch x := a.(type) {
	case int64:
		return fmt.Sprint(x)
	case float64:
		return FormatReal(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	case string:
		if stringNeedsQuotes(x) {
			return cjson.String(x)
		}
		return x
	case UUID:
		return x.String()
	}
	return fmt.Sprint(a)
}

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func stringNeedsQuotes(s string) bool {
	if s == "" {
		return true
	}
	if !isAlpha(s[0]) && s[0] != '_' {
		return true
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' {
			return true
		}
	}
	if s == "true" || s == "false" || IsUUIDString(s) {
		return true
	}
	return false
}

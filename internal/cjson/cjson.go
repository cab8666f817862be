package cjson

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Marshal returns the C serialisation of v.
func Marshal(v any) []byte { return Append(nil, v) }

// String returns the C serialisation of v as a string.
func String(v any) string { return string(Append(nil, v)) }

const hexDigits = "0123456789abcdef"

// AppendMember appends the start of an object's member: a comma unless
// it is the object's first (i == 0), then the quoted name and a colon.
func AppendMember(b []byte, i int, name string) []byte {
	if i > 0 {
		b = append(b, ',')
	}
	return append(AppendString(b, name), ':')
}

// AppendString appends s as a JSON string literal.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= ' ' && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// FormatReal formats f as C's "%.15g".
func FormatReal(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "0"
	}
	return strconv.FormatFloat(f, 'g', 15, 64)
}

// Object is a JSON object whose members are written in the given order
// (Keys[i] with Vals[i]), for output that must follow C's hash-table order
// rather than the sorted order used for map[string]any.
type Object struct {
	Keys []string
	Vals []any
}

// Put appends a member.
func (o *Object) Put(k string, v any) {
	o.Keys = append(o.Keys, k)
	o.Vals = append(o.Vals, v)
}

// Get returns the value of member k, if present.
func (o *Object) Get(k string) (any, bool) {
	for i, x := range o.Keys {
		if x == k {
			return o.Vals[i], true
		}
	}
	return nil, false
}

// Append appends the C serialisation of v to b. Supported values: nil, bool,
// string, json.Number, json.RawMessage, all Go integer kinds, float64,
// []any, []string, map[string]any, Object, *Object and json.Marshaler.
func Append(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if x {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case string:
		return AppendString(b, x)
	case json.Number:
		return appendNumber(b, x)
	case json.RawMessage:
		return append(b, x...)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int32:
		return strconv.AppendInt(b, int64(x), 10)
	case uint64:
		return strconv.AppendUint(b, x, 10)
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10)
	case float64:
		return append(b, FormatReal(x)...)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = Append(b, e)
		}
		return append(b, ']')
	case []string:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, e)
		}
		return append(b, ']')
	case map[string]any:
		return appendMap(b, x)
	case *Object:
		return appendObject(b, x)
	case Object:
		return appendObject(b, &x)
	case json.Marshaler:
		raw, err := x.MarshalJSON()
		if err != nil {
			return append(b, "null"...)
		}
		return append(b, raw...)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("cjson: cannot serialise %T", v))
	}
	return append(b, raw...)
}

// appendMap writes the members of m sorted by name.
func appendMap(b []byte, m map[string]any) []byte {
	if len(m) == 1 {
		for k, v := range m {
			b = append(b, '{')
			b = AppendString(b, k)
			b = append(b, ':')
			b = Append(b, v)
			return append(b, '}')
		}
	}
	var kb [16]string
	keys := kb[:0]
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, k)
		b = append(b, ':')
		b = Append(b, m[k])
	}
	return append(b, '}')
}

func appendObject(b []byte, o *Object) []byte {
	b = append(b, '{')
	for i, k := range o.Keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, k)
		b = append(b, ':')
		b = Append(b, o.Vals[i])
	}
	return append(b, '}')
}

// MarshalJSON makes encoding/json write the members in order too.
func (o Object) MarshalJSON() ([]byte, error) { return appendObject(nil, &o), nil }

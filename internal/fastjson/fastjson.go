package fastjson

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
)

// Decode decodes one complete JSON value from b into the same
// representation encoding/json produces with UseNumber (map[string]any,
// []any, string, bool, nil, json.Number). It handles the common subset
// only: strings of printable ASCII without escapes. For anything else,
// including every syntax error, it reports ok=false and the caller falls
// back to encoding/json, so accepted input and error behaviour are
// exactly encoding/json's.
func Decode(b []byte) (v any, ok bool) {
	var d Decoder
	return d.Decode(b)
}

// MaxDepth bounds recursion; deeper input goes to encoding/json (which
// has its own limit).
const MaxDepth = 1000

// Limits of a decoder's string cache: it holds object member names and
// table names, which a schema bounds, so a session quickly knows them all.
const (
	maxCached    = 1024
	maxCachedLen = 64
)

// Decoder is reusable (one per connection) but not safe for
// concurrent use. Nothing it returns refers to its scratch memory.
type Decoder struct {
	b   []byte
	i   int
	bad bool
	// err is set with bad when the input is valid JSON that C's parser
	// refuses (a number out of range): no fallback then.
	err error

	// stack collects array elements and object members while they are
	// parsed, so each array and map is allocated once at its final size.
	stack []any
	keys  []string

	// cache maps strings seen as member names or as "table" values to a
	// shared copy (boxed, so returning it as a value does not allocate).
	cache map[string]any
}

// Decode is the package's Decode with the decoder's scratch memory and cache.
func (d *Decoder) Decode(b []byte) (v any, ok bool) {
	d.b, d.i, d.bad, d.err = b, 0, false, nil
	v = d.value(0, false)
	d.skipSpace()
	ok = !d.bad && d.i == len(b)
	d.b = nil
	if d.bad {
		// Abandoned members and elements: drop references to them.
		clear(d.stack[:cap(d.stack)])
	}
	d.stack = d.stack[:0]
	d.keys = d.keys[:0]
	if !ok {
		return nil, false
	}
	return v, true
}

func (d *Decoder) skipSpace() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value parses one value; cache says a string value may be cached.
func (d *Decoder) value(depth int, cache bool) any {
	d.skipSpace()
	if d.i >= len(d.b) || depth > MaxDepth {
		d.bad = true
		return nil
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.strValue(cache)
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == 't':
		return d.literal("true", true)
	case c == 'f':
		return d.literal("false", false)
	case c == 'n':
		return d.literal("null", nil)
	}
	d.bad = true
	return nil
}

func (d *Decoder) literal(lit string, v any) any {
	if len(d.b)-d.i < len(lit) || string(d.b[d.i:d.i+len(lit)]) != lit {
		d.bad = true
		return nil
	}
	d.i += len(lit)
	return v
}

// rawStr scans a string of printable ASCII without escapes and returns
// its contents (pointing into the input).
func (d *Decoder) rawStr() ([]byte, bool) {
	d.i++ // opening quote
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			raw := d.b[start:d.i]
			d.i++
			return raw, true
		}
		if c < ' ' || c == '\\' || c >= 0x80 {
			break
		}
		d.i++
	}
	d.bad = true
	return nil, false
}

// lookup returns the shared boxed copy of raw, if there is one, and
// otherwise makes one when add is set and the cache has room.
func (d *Decoder) lookup(raw []byte, add bool) (any, bool) {
	if v, ok := interned[string(raw)]; ok { // no allocation
		return v, true
	}
	if v, ok := d.cache[string(raw)]; ok {
		return v, true
	}
	if !add || len(raw) > maxCachedLen || len(d.cache) >= maxCached {
		return nil, false
	}
	if d.cache == nil {
		d.cache = make(map[string]any)
	}
	s := string(raw)
	v := any(s)
	d.cache[s] = v
	return v, true
}

func (d *Decoder) strValue(cache bool) any {
	raw, ok := d.rawStr()
	if !ok {
		return nil
	}
	if v, ok := d.lookup(raw, cache); ok {
		return v
	}
	return string(raw)
}

func (d *Decoder) key() (string, bool) {
	raw, ok := d.rawStr()
	if !ok {
		return "", false
	}
	if v, ok := d.lookup(raw, true); ok {
		return v.(string), true
	}
	return string(raw), true
}

// number validates the JSON number grammar and returns its text.
func (d *Decoder) number() any {
	start := d.i
	b := d.b
	i := d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		d.bad = true
		return nil
	}
	plain := true
	if i < len(b) && b[i] == '.' {
		plain = false
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.bad = true
			return nil
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		plain = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.bad = true
			return nil
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.i = i
	if i-start == 1 && b[start] >= '0' && b[start] <= '9' {
		return smallNumbers[b[start]-'0']
	}
	if !plain || i-start > 18 {
		// A fraction, an exponent or many digits: read it as C does.
		t, err := cjson.LexNumber(string(b[start:i]))
		if err != nil {
			d.bad, d.err = true, err
			return nil
		}
		return json.Number(t)
	}
	return json.Number(string(b[start:i]))
}

// smallNumbers are the boxed one-digit numbers, shared.
var smallNumbers = func() (a [10]any) {
	for i := range a {
		a[i] = json.Number(string(rune('0' + i)))
	}
	return a
}()

func (d *Decoder) array(depth int) any {
	d.i++ // '['
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return []any{}
	}
	base := len(d.stack)
	for {
		v := d.value(depth+1, false)
		if d.bad {
			return nil
		}
		d.stack = append(d.stack, v)
		d.skipSpace()
		if d.i >= len(d.b) {
			d.bad = true
			return nil
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			out := make([]any, len(d.stack)-base)
			copy(out, d.stack[base:])
			clear(d.stack[base:])
			d.stack = d.stack[:base]
			return out
		default:
			d.bad = true
			return nil
		}
	}
}

func (d *Decoder) object(depth int) any {
	d.i++ // '{'
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return map[string]any{}
	}
	base := len(d.stack)
	for {
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			d.bad = true
			return nil
		}
		k, ok := d.key()
		if !ok {
			return nil
		}
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			d.bad = true
			return nil
		}
		d.i++
		v := d.value(depth+1, k == "table")
		if d.bad {
			return nil
		}
		d.keys = append(d.keys, k)
		d.stack = append(d.stack, v)
		d.skipSpace()
		if d.i >= len(d.b) {
			d.bad = true
			return nil
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			n := len(d.stack) - base
			out := make(map[string]any, n)
			keys := d.keys[len(d.keys)-n:]
			for j, k := range keys {
				out[k] = d.stack[base+j] // later duplicates win, as in encoding/json
			}
			clear(d.stack[base:])
			d.stack = d.stack[:base]
			d.keys = d.keys[:len(d.keys)-n]
			return out
		default:
			d.bad = true
			return nil
		}
	}
}

// interned holds strings that occur in almost every message (member names,
// operation names, atom type tags), boxed once and shared.
var interned = func() map[string]any {
	m := map[string]any{}
	for _, s := range []string{
		"method", "params", "id", "result", "error", "transact", "echo", "monitor_cond",
		"monitor_cond_since", "monitor", "monitor_cancel", "get_schema", "list_dbs",
		"op", "table", "row", "rows", "uuid", "uuid-name", "named-uuid", "where", "columns",
		"mutations", "until", "timeout", "comment", "durable", "lock",
		"insert", "select", "update", "mutate", "delete", "wait", "commit", "abort", "assert",
		"set", "map", "==", "!=", "includes", "excludes", "<", "<=", ">", ">=",
		"+=", "-=", "*=", "/=", "%=", "name", "external_ids", "other_config", "options",
		"ports", "_uuid", "_version", "OVN_Northbound", "OVN_Southbound", "Open_vSwitch",
		"_Server",
	} {
		m[s] = s
	}
	return m
}()

// ErrTrailing is returned by DecodeValue when a complete value is followed
// by more than white space.
var ErrTrailing = errors.New("trailing data after JSON value")

// DecodeValue decodes one complete JSON value with json.Number for
// numbers: the fast path when it applies, else encoding/json (whose error
// it returns, or ErrTrailing).
func DecodeValue(b []byte) (any, error) {
	var d Decoder
	return d.DecodeValue(b)
}

// DecodeValue is the package's DecodeValue with d's scratch memory and
// string cache.
func (d *Decoder) DecodeValue(b []byte) (any, error) {
	if v, ok := d.Decode(b); ok {
		return v, nil
	} else if d.err != nil {
		return nil, d.err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, ErrTrailing
	}
	return lexNumbers(v)
}

// lexNumbers applies C's reading of numbers (cjson.LexNumber) to every
// number of v, in place.
func lexNumbers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		t, err := cjson.LexNumber(string(x))
		if err != nil {
			return nil, err
		}
		return json.Number(t), nil
	case []any:
		for i, e := range x {
			ne, err := lexNumbers(e)
			if err != nil {
				return nil, err
			}
			x[i] = ne
		}
	case map[string]any:
		for k, e := range x {
			if _, leaf := e.(string); leaf || e == nil {
				continue
			}
			ne, err := lexNumbers(e)
			if err != nil {
				return nil, err
			}
			x[k] = ne
		}
	}
	return v, nil
}

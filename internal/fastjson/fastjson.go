package fastjson

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
)

// Decode decodes one complete JSON value from b into the same
// representation encoding/json produces with UseNumber (map[string]any,
// []any, string, bool, nil, json.Number), accepting exactly what C's JSON
// parser accepts (see DecodeValue). ok is false for any input it refuses.
func Decode(b []byte) (v any, ok bool) {
	var d Decoder
	return d.Decode(b)
}

// MaxDepth is C's JSON_MAX_HEIGHT: at most this many arrays and objects
// may be open at once; one more is a syntax error ("input exceeds maximum
// nesting depth 1000").
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
	// err says why the input was refused (set with bad).
	err error
	// sbuf is scratch for strings with escapes or non-ASCII bytes.
	sbuf []byte

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
	if !d.bad && d.i != len(b) {
		d.fail(ErrTrailing)
	}
	ok = !d.bad
	d.b = nil
	if d.bad {
		// Abandoned members and elements: drop references to them.
		clear(d.stack[:cap(d.stack)])
	}
	d.stack = d.stack[:0]
	d.keys = d.keys[:0]
	if cap(d.stack) > maxScratch {
		d.stack = nil // do not pin the scratch of a huge message
	}
	if cap(d.keys) > maxScratch {
		d.keys = nil
	}
	if cap(d.sbuf) > maxScratch {
		d.sbuf = nil
	}
	if !ok {
		if d.err == nil {
			d.err = errSyntax
		}
		return nil, false
	}
	return v, true
}

// maxScratch bounds the scratch memory a decoder keeps between values.
const maxScratch = 64 << 10

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
// depth is the number of arrays and objects open around it.
func (d *Decoder) value(depth int, cache bool) any {
	d.skipSpace()
	if d.i >= len(d.b) {
		d.fail(errEOF)
		return nil
	}
	switch c := d.b[d.i]; {
	case c == '{', c == '[':
		if depth >= MaxDepth {
			d.fail(ErrDepth)
			return nil
		}
		if c == '{' {
			return d.object(depth)
		}
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
	d.fail(errExpectValue)
	return nil
}

func (d *Decoder) literal(lit string, v any) any {
	if len(d.b)-d.i < len(lit) || string(d.b[d.i:d.i+len(lit)]) != lit {
		d.fail(errKeyword)
		return nil
	}
	d.i += len(lit)
	return v
}

// rawStr scans a string and returns its contents: a slice of the input
// when it is printable ASCII without escapes, else the decoded bytes in
// the decoder's scratch buffer (valid until the next string).
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
			return d.slowStr(start)
		}
		d.i++
	}
	d.fail(errEOFString)
	return nil, false
}

// slowStr decodes a string that starts at b[start] (after its opening
// quote) and holds an escape, a byte >= 0x80 or a control character, as C's
// JSON lexer does. First the string's end is found (the first quote not
// escaped; a control character before it is an error, the byte after a
// backslash is taken whatever it is), then its contents are unescaped
// within it: bytes other than escapes are kept as they are (invalid UTF-8
// included: C checks it where it checks it, in string atoms), "\u0000" and
// an escaped leading surrogate not followed by an escaped trailing one are
// errors, and a lone escaped trailing surrogate becomes its three bytes
// (not valid UTF-8).
func (d *Decoder) slowStr(start int) ([]byte, bool) {
	b := d.b
	end := -1
	for j := d.i; j < len(b); j++ {
		c := b[j]
		if c == '\\' {
			j++
			continue
		}
		if c == '"' {
			end = j
			break
		}
		if c < ' ' {
			d.i = j
			d.fail(controlError(c))
			return nil, false
		}
	}
	if end < 0 {
		d.i = len(b)
		d.fail(errEOFString)
		return nil, false
	}
	out := d.sbuf[:0]
	for i := start; i < end; {
		c := b[i]
		if c != '\\' {
			j := i + 1
			for j < end && b[j] != '\\' {
				j++
			}
			out = append(out, b[i:j]...)
			i = j
			continue
		}
		i++ // never at end: the byte after a backslash is part of the string
		switch e := b[i]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			var err error
			out, i, err = unicodeEscape(out, b[:end], i+1)
			if err != nil {
				d.i = i
				d.fail(err)
				return nil, false
			}
			continue
		default:
			d.i = i
			d.fail(fmt.Errorf("bad escape \\%c", e))
			return nil, false
		}
		i++
	}
	d.i = end + 1
	d.sbuf = out
	return out, true
}

// unicodeEscape decodes the escape whose four hex digits start at b[i]
// (after "\\u"; b ends where the string does) and, for a leading
// surrogate, the escaped trailing surrogate that must follow; it appends
// the code point's UTF-8 bytes.
func unicodeEscape(out, b []byte, i int) ([]byte, int, error) {
	c0, err := hex4(b, i)
	if err != nil {
		return nil, i, err
	}
	i += 4
	if c0 < 0xd800 || c0 > 0xdbff {
		// Not a leading surrogate (a trailing one is encoded as is, as C does).
		return appendUTF8(out, c0), i, nil
	}
	if i+2 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return nil, i, ErrSurrogatePair
	}
	i += 2
	c1, err := hex4(b, i)
	if err != nil {
		return nil, i, err
	}
	i += 4
	if c1 < 0xdc00 || c1 > 0xdfff {
		return nil, i, ErrTrailingSurrogate
	}
	return appendUTF8(out, 0x10000+(c0-0xd800)<<10+(c1-0xdc00)), i, nil
}

// hex4 reads the four hex digits of a \u escape at b[i:].
func hex4(b []byte, i int) (rune, error) {
	if i+4 > len(b) {
		return 0, errEscapeEnd
	}
	var v rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, errEscapeMalformed
		}
		v = v<<4 | rune(c)
	}
	if v == 0 {
		return 0, ErrNullEscape
	}
	return v, nil
}

// appendUTF8 encodes any code point below 0x110000 in UTF-8's byte
// pattern, surrogates included (utf8.AppendRune would replace those).
func appendUTF8(out []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(out, byte(r))
	case r < 0x800:
		return append(out, 0xc0|byte(r>>6), 0x80|byte(r&0x3f))
	case r < 0x10000:
		return append(out, 0xe0|byte(r>>12), 0x80|byte(r>>6&0x3f), 0x80|byte(r&0x3f))
	}
	return append(out, 0xf0|byte(r>>18), 0x80|byte(r>>12&0x3f), 0x80|byte(r>>6&0x3f), 0x80|byte(r&0x3f))
}

func controlError(c byte) error {
	return fmt.Errorf("U+%04X must be escaped in quoted string", c)
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
		d.fail(errNumber)
		return nil
	}
	plain := true
	if i < len(b) && b[i] == '.' {
		plain = false
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.fail(errNumber)
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
			d.fail(errNumber)
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
			d.fail(err)
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
			d.fail(errEOF)
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
			d.fail(errArrayNext)
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
			d.fail(errObjectName)
			return nil
		}
		k, ok := d.key()
		if !ok {
			return nil
		}
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			d.fail(errObjectColon)
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
			d.fail(errEOF)
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
			d.fail(errObjectNext)
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

// Errors. Any of them makes C's JSON-RPC layer drop the connection; the
// texts are C's (without its "line, column, byte" prefix).
var (
	// ErrTrailing: a complete value is followed by more than white space.
	ErrTrailing = errors.New("trailing garbage at end of input")
	// ErrDepth: more than MaxDepth arrays and objects are open at once.
	ErrDepth = fmt.Errorf("input exceeds maximum nesting depth %d", MaxDepth)
	// ErrNullEscape: "\u0000" (C strings cannot hold a null byte).
	ErrNullEscape = errors.New("null bytes not supported in quoted strings")
	// ErrSurrogatePair: an escaped leading surrogate (\uD800-\uDBFF) not
	// followed by another \u escape.
	ErrSurrogatePair = errors.New("malformed escaped surrogate pair")
	// ErrTrailingSurrogate: an escaped leading surrogate followed by an
	// escape that is not a trailing surrogate (\uDC00-\uDFFF).
	ErrTrailingSurrogate = errors.New("second half of escaped surrogate pair is not trailing surrogate")

	errSyntax          = errors.New("syntax error")
	errEOF             = errors.New("unexpected end of input")
	errEOFString       = errors.New("unexpected end of input in quoted string")
	errEscapeEnd       = errors.New("quoted string ends within \\u escape")
	errEscapeMalformed = errors.New("malformed \\u escape")
	errExpectValue     = errors.New("syntax error expecting value")
	errKeyword         = errors.New("invalid keyword")
	errNumber          = errors.New("syntax error in number")
	errArrayNext       = errors.New("syntax error expecting ']' or ','")
	errObjectName      = errors.New("syntax error parsing object expecting string")
	errObjectColon     = errors.New("syntax error parsing object expecting ':'")
	errObjectNext      = errors.New("syntax error expecting '}' or ','")
)

// fail marks the input refused for err (the first error is kept).
func (d *Decoder) fail(err error) {
	if !d.bad {
		d.bad, d.err = true, err
	}
}

// DecodeValue decodes one complete JSON value with json.Number for
// numbers. It accepts exactly what C's JSON parser (lib/json.c) accepts,
// except that any value may stand at the top level:
//   - strings keep their bytes as they are, invalid UTF-8 included (C
//     checks UTF-8 only in string atoms; see schema.CheckAtom), escapes are
//     decoded as C decodes them: "\u0000" and an escaped leading surrogate
//     without an escaped trailing one are errors, a lone escaped trailing
//     surrogate becomes its three (invalid UTF-8) bytes;
//   - numbers are read as C reads them (cjson.LexNumber);
//   - at most MaxDepth arrays and objects may be nested.
//
// Errors carry C's texts (ErrTrailing after a complete value).
func DecodeValue(b []byte) (any, error) {
	var d Decoder
	return d.DecodeValue(b)
}

// DecodeValue is the package's DecodeValue with d's scratch memory and
// string cache.
func (d *Decoder) DecodeValue(b []byte) (any, error) {
	v, ok := d.Decode(b)
	if !ok {
		return nil, d.err
	}
	return v, nil
}

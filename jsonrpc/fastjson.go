package jsonrpc

import (
	"encoding/json"
)

// fastDecode decodes one complete JSON value from b into the same
// representation encoding/json produces with UseNumber (map[string]any,
// []any, string, bool, nil, json.Number). It handles the common subset
// only: strings of printable ASCII without escapes. For anything else,
// including every syntax error, it reports ok=false and the caller falls
// back to encoding/json, so accepted input and error behaviour are
// exactly encoding/json's.
func fastDecode(b []byte) (v any, ok bool) {
	d := fastDecoder{b: b}
	v = d.value(0)
	if d.bad {
		return nil, false
	}
	d.skipSpace()
	if d.i != len(d.b) {
		return nil, false
	}
	return v, true
}

// maxFastDepth bounds recursion; deeper input goes to encoding/json (which
// has its own limit).
const maxFastDepth = 1000

type fastDecoder struct {
	b   []byte
	i   int
	bad bool
}

func (d *fastDecoder) skipSpace() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *fastDecoder) value(depth int) any {
	d.skipSpace()
	if d.i >= len(d.b) || depth > maxFastDepth {
		d.bad = true
		return nil
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		s, _ := d.str()
		return s
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

func (d *fastDecoder) literal(lit string, v any) any {
	if len(d.b)-d.i < len(lit) || string(d.b[d.i:d.i+len(lit)]) != lit {
		d.bad = true
		return nil
	}
	d.i += len(lit)
	return v
}

// str parses a string of printable ASCII without escapes.
func (d *fastDecoder) str() (string, bool) {
	d.i++ // opening quote
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			raw := d.b[start:d.i]
			d.i++
			if s, ok := interned[string(raw)]; ok { // no allocation
				return s, true
			}
			return string(raw), true
		}
		if c < ' ' || c == '\\' || c >= 0x80 {
			break
		}
		d.i++
	}
	d.bad = true
	return "", false
}

// number validates the JSON number grammar and returns its text.
func (d *fastDecoder) number() any {
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
	if i < len(b) && b[i] == '.' {
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
	return json.Number(string(b[start:i]))
}

func (d *fastDecoder) array(depth int) any {
	d.i++ // '['
	out := make([]any, 0, 4)
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return out
	}
	for {
		v := d.value(depth + 1)
		if d.bad {
			return nil
		}
		out = append(out, v)
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
			return out
		default:
			d.bad = true
			return nil
		}
	}
}

func (d *fastDecoder) object(depth int) any {
	d.i++ // '{'
	out := make(map[string]any)
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return out
	}
	for {
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			d.bad = true
			return nil
		}
		k, ok := d.str()
		if !ok {
			return nil
		}
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			d.bad = true
			return nil
		}
		d.i++
		v := d.value(depth + 1)
		if d.bad {
			return nil
		}
		out[k] = v
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
			return out
		default:
			d.bad = true
			return nil
		}
	}
}

// interned holds strings that occur in almost every message (member names,
// operation names, atom type tags), shared instead of allocated.
var interned = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{
		"method", "params", "id", "result", "error", "transact", "echo", "monitor_cond",
		"monitor_cond_since", "monitor", "monitor_cancel", "get_schema", "list_dbs",
		"op", "table", "row", "rows", "uuid", "uuid-name", "named-uuid", "where", "columns",
		"mutations", "until", "timeout", "comment", "durable", "lock",
		"insert", "select", "update", "mutate", "delete", "wait", "commit", "abort", "assert",
		"set", "map", "==", "!=", "includes", "excludes", "<", "<=", ">", ">=",
		"+=", "-=", "*=", "/=", "%=", "name", "external_ids", "other_config", "options",
		"ports", "_uuid", "_version",
	} {
		m[s] = s
	}
	return m
}()

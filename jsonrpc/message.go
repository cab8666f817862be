package jsonrpc

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/internal/fastjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// DefaultMaxMessageSize bounds one received JSON-RPC message.
const DefaultMaxMessageSize = 256 << 20

// msgKind is the JSON-RPC message type, determined as C does: result ->
// reply, else error -> error, else id -> request, else notification.
type msgKind int

const (
	kindRequest msgKind = iota
	kindNotify
	kindReply
	kindError
)

var kindNames = [...]string{"request", "notification", "reply", "error"}

// message is one decoded, validated JSON-RPC message. Absent members and
// members whose value is JSON null are both nil, as in C.
type message struct {
	kind   msgKind
	method string
	params []any
	result any
	err    any
	id     any
}

// errProtocol marks a stream that violated JSON or JSON-RPC syntax.
var errProtocol = errors.New("jsonrpc: protocol error")

// reader splits a byte stream into JSON values without separators.
type reader struct {
	br  *bufio.Reader
	max int
	buf []byte
}

func newReader(r io.Reader, max int) *reader {
	if max <= 0 {
		max = DefaultMaxMessageSize
	}
	return &reader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the bytes of the next top-level JSON object or array. The
// returned slice is valid until the next call.
func (r *reader) next() ([]byte, error) {
	r.buf = r.buf[:0]
	// Skip whitespace between values.
	var c byte
	var err error
	for {
		c, err = r.br.ReadByte()
		if err != nil {
			return nil, err
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
	}
	if c != '{' && c != '[' {
		return nil, fmt.Errorf("%w: message does not start with '{' or '['", errProtocol)
	}
	r.buf = append(r.buf, c)
	depth := 1
	inString, escaped := false, false
	for {
		// Scan what is buffered without copying byte by byte; block for
		// more only when the buffer is empty.
		n := r.br.Buffered()
		if n == 0 {
			if _, err := r.br.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
			n = r.br.Buffered()
		}
		chunk, _ := r.br.Peek(n)
		end := -1
	scan:
		for i, c := range chunk {
			switch {
			case inString:
				switch {
				case escaped:
					escaped = false
				case c == '\\':
					escaped = true
				case c == '"':
					inString = false
				}
			case c == '"':
				inString = true
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
				if depth == 0 {
					end = i + 1
					break scan
				}
			}
		}
		take := len(chunk)
		if end >= 0 {
			take = end
		}
		if len(r.buf)+take > r.max {
			return nil, fmt.Errorf("%w: message exceeds %d bytes", errProtocol, r.max)
		}
		r.buf = append(r.buf, chunk[:take]...)
		_, _ = r.br.Discard(take)
		if end >= 0 {
			return r.buf, nil
		}
	}
}

// decodeValue decodes one JSON value with json.Number for numbers.
func decodeValue(b []byte) (any, error) {
	var d fastDecoder
	return decodeWith(&d, b)
}

// decodeWith is decodeValue with d's scratch memory and string cache.
func decodeWith(d *fastDecoder, b []byte) (any, error) {
	v, err := d.DecodeValue(b)
	if errors.Is(err, fastjson.ErrTrailing) {
		return nil, fmt.Errorf("%w: trailing data", errProtocol)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errProtocol, err)
	}
	return v, nil
}

// parseMessage validates a decoded JSON value as a JSON-RPC message with the
// rules of C's jsonrpc_msg_from_json.
func parseMessage(v any) (*message, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: message is not a JSON object", errProtocol)
	}
	m := &message{}
	hasMethod := false
	for k, val := range obj {
		switch k {
		case "method":
			if val == nil {
				continue
			}
			s, ok := val.(string)
			if !ok {
				return nil, fmt.Errorf("%w: method is not a JSON string", errProtocol)
			}
			m.method, hasMethod = s, true
		case "params":
			if val == nil {
				continue
			}
			a, ok := val.([]any)
			if !ok {
				return nil, fmt.Errorf("%w: \"params\" must be JSON array", errProtocol)
			}
			m.params = a
		case "result":
			m.result = val
		case "error":
			m.err = val
		case "id":
			m.id = val
		default:
			return nil, fmt.Errorf("%w: message has unexpected member %q", errProtocol, k)
		}
	}
	switch {
	case m.result != nil:
		m.kind = kindReply
	case m.err != nil:
		m.kind = kindError
	case m.id != nil:
		m.kind = kindRequest
	default:
		m.kind = kindNotify
	}
	wantMethod := m.kind == kindRequest || m.kind == kindNotify
	name := kindNames[m.kind]
	switch {
	case hasMethod != wantMethod:
		return nil, fmt.Errorf("%w: %s must%s have \"method\"", errProtocol, name, notStr(wantMethod))
	case (m.params != nil) != wantMethod:
		return nil, fmt.Errorf("%w: %s must%s have \"params\"", errProtocol, name, notStr(wantMethod))
	case m.kind == kindRequest && m.id == nil, m.kind == kindNotify && m.id != nil:
		return nil, fmt.Errorf("%w: bad id", errProtocol)
	case (m.kind == kindReply || m.kind == kindError) && m.id == nil:
		return nil, fmt.Errorf("%w: %s must have \"id\"", errProtocol, name)
	case m.kind == kindReply && m.err != nil:
		return nil, fmt.Errorf("%w: reply must not have \"error\"", errProtocol)
	}
	m.id = normalize(m.id)
	return m, nil
}

func notStr(want bool) string {
	if want {
		return ""
	}
	return " not"
}

// normalize rewrites numbers the way C re-serialises them: a number C's
// lexer reads as an integer (cjson.ClassifyNumber) in decimal, any other a
// real printed with %.15g.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			var buf [24]byte
			if string(strconv.AppendInt(buf[:0], i, 10)) == s {
				return x // already canonical: keep the value, no allocation
			}
			return json.Number(strconv.FormatInt(i, 10))
		}
		i, f, isInt, ok := cjson.ClassifyNumber(s)
		switch {
		case !ok:
			return x
		case isInt:
			return json.Number(strconv.FormatInt(i, 10))
		}
		return json.Number(cjson.FormatReal(f))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}

// Envelope encoding. C emits members in the order id, method, params,
// result, error (its hash order), and error objects as syntax, details,
// error. Clients must not care, but byte-for-byte equality with C makes
// differential testing simple.

func appendReply(b []byte, id, result any) []byte {
	b = append(b, `{"id":`...)
	b = cjson.Append(b, id)
	b = append(b, `,"result":`...)
	b = cjson.Append(b, result)
	return append(b, `,"error":null}`...)
}

func appendErrorReply(b []byte, id any, err error) []byte {
	b = append(b, `{"id":`...)
	b = cjson.Append(b, id)
	b = append(b, `,"error":`...)
	b = appendError(b, err)
	return append(b, '}')
}

func appendNotify(b []byte, method string, params any) []byte {
	b = append(b, `{"id":null,"method":`...)
	b = cjson.AppendString(b, method)
	b = append(b, `,"params":`...)
	b = cjson.Append(b, params)
	return append(b, '}')
}

func appendRequest(b []byte, id any, method string, params any) []byte {
	b = append(b, `{"id":`...)
	b = cjson.Append(b, id)
	b = append(b, `,"method":`...)
	b = cjson.AppendString(b, method)
	b = append(b, `,"params":`...)
	b = cjson.Append(b, params)
	return append(b, '}')
}

// ErrorValue is an error whose JSON-RPC "error" member is an arbitrary JSON
// value, such as the bare string "unknown method".
type ErrorValue struct{ Value any }

func (e *ErrorValue) Error() string { return cjson.String(e.Value) }

// appendError renders err as the "error" member of a reply.
func appendError(b []byte, err error) []byte {
	var ev *ErrorValue
	if errors.As(err, &ev) {
		return cjson.Append(b, ev.Value)
	}
	m := ovsdberr.ToJSON(err)
	b = append(b, '{')
	first := true
	for _, k := range [...]string{"syntax", "details", "error"} {
		v, ok := m[k]
		if !ok {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = cjson.AppendString(b, k)
		b = append(b, ':')
		b = cjson.Append(b, v)
	}
	return append(b, '}')
}

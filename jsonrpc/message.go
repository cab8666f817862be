package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/internal/fastjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

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
	size   int64 // input bytes charged (servers)
}

// errProtocol marks a stream that violated JSON or JSON-RPC syntax.
var errProtocol = errors.New("jsonrpc: protocol error")

// reader splits a byte stream into JSON values without separators, as C's
// stream parser does: each must be an object or an array, at most
// fastjson.MaxDepth (1000) arrays and objects may be open at once (one more
// is C's "input exceeds maximum nesting depth 1000", found as soon as the
// bracket arrives), and, ours only, a message may not exceed max bytes.
//
// A message that fits in the read buffer is returned where it was read. A
// larger one is collected in chunks that are never copied while it grows
// (an incomplete message costs what it holds), charged to the account, and
// assembled once complete.
type reader struct {
	rd   io.Reader
	max  int
	acct *account // nil: no accounting

	own  []byte // the read buffer
	buf  []byte // own, or the tail of a chunk read past a big message
	r, w int    // buf[r:w] is unread or part of the message

	// Scanner state of the message being read.
	scan     int // next byte of buf to scan (small messages)
	depth    int
	inString bool
	escaped  bool

	// A message larger than buf: its bytes so far.
	chunks [][]byte
	size   int
}

func newReader(rd io.Reader, max int, acct *account) *reader {
	if max <= 0 {
		max = DefaultMaxMessageSize
	}
	buf := make([]byte, readBufSize)
	return &reader{rd: rd, max: max, acct: acct, own: buf, buf: buf}
}

// Errors of the reader (all errProtocol: C closes the connection).
var errDepth = fmt.Errorf("%w: %v", errProtocol, fastjson.ErrDepth)

func (r *reader) tooBig() error {
	return fmt.Errorf("%w: message exceeds %d bytes", errProtocol, r.max)
}

// overBudget is the error of a session that cannot get input budget.
func (r *reader) overBudget() error {
	return fmt.Errorf("%w: input memory budget of %d bytes exhausted", errProtocol, r.acct.b.limit)
}

// next returns the bytes of the next top-level JSON object or array and,
// when the reader has an account, the bytes charged for it, which the
// caller must release once the message has been handled (requests: when
// they start). The returned slice is valid until the next call.
func (r *reader) next() ([]byte, int64, error) {
	// Skip white space between values.
	for {
		for r.r < r.w {
			switch r.buf[r.r] {
			case ' ', '\t', '\n', '\r':
				r.r++
				continue
			}
			break
		}
		if r.r < r.w {
			break
		}
		if err := r.fill(); err != nil {
			return nil, 0, err
		}
	}
	if c := r.buf[r.r]; c != '{' && c != '[' {
		return nil, 0, fmt.Errorf("%w: message does not start with '{' or '['", errProtocol)
	}
	r.scan, r.depth, r.inString, r.escaped = r.r, 0, false, false
	for {
		end, err := r.scanBytes(r.buf[r.scan:r.w])
		if err != nil {
			return nil, 0, err
		}
		if end >= 0 {
			msg := r.buf[r.r : r.scan+end]
			r.r = r.scan + end
			if len(msg) > r.max {
				return nil, 0, r.tooBig()
			}
			n := int64(len(msg))
			if !r.acct.charge(n, false) {
				return nil, 0, r.overBudget()
			}
			return msg, n, nil
		}
		r.scan = r.w
		if r.w-r.r > r.max {
			return nil, 0, r.tooBig()
		}
		if r.w == len(r.buf) {
			part := r.buf[r.r:r.w]
			if len(part) >= len(r.own) {
				return r.nextBig(part)
			}
			// Move the beginning of the message to the front.
			n := copy(r.own, part)
			r.buf, r.r, r.w, r.scan = r.own, 0, n, n
		}
		if err := r.more(); err != nil {
			return nil, 0, err
		}
	}
}

// fill reads into the empty buffer.
func (r *reader) fill() error {
	r.buf, r.r, r.w = r.own, 0, 0
	return r.more()
}

// more reads into buf[w:].
func (r *reader) more() error {
	n, err := readSome(r.rd, r.buf[r.w:])
	r.w += n
	if n > 0 {
		return nil
	}
	if err == io.EOF && r.w > r.r {
		err = io.ErrUnexpectedEOF // EOF within a message
	}
	return err
}

// readSome reads at least one byte into p (len(p) > 0) or returns an
// error, retrying reads that return nothing (as bufio does, 100 times).
func readSome(rd io.Reader, p []byte) (int, error) {
	for range 100 {
		n, err := rd.Read(p)
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}

// nextBig continues reading a message whose first bytes, part, fill the
// read buffer, in chunks charged to the account.
func (r *reader) nextBig(part []byte) (msg []byte, charged int64, err error) {
	defer func() {
		held := r.size
		clear(r.chunks)
		r.chunks, r.size = r.chunks[:0], 0
		if err != nil {
			r.acct.releasePartial(0)
			if r.acct != nil && held >= collectAfter {
				r.acct.b.collect()
			}
		}
	}()
	chunk, err := r.newChunk(0, len(part))
	if err != nil {
		return nil, 0, err
	}
	chunk = append(chunk, part...)
	r.buf, r.r, r.w = r.own, 0, 0
	for {
		if len(chunk) == cap(chunk) {
			r.chunks = append(r.chunks, chunk)
			r.size += len(chunk)
			if chunk, err = r.newChunk(r.size, 0); err != nil {
				return nil, 0, err
			}
		}
		n, rerr := readSome(r.rd, chunk[len(chunk):cap(chunk)])
		if n == 0 {
			if rerr == io.EOF {
				rerr = io.ErrUnexpectedEOF
			}
			return nil, 0, rerr
		}
		fresh := chunk[len(chunk) : len(chunk)+n]
		end, serr := r.scanBytes(fresh)
		if serr != nil {
			return nil, 0, serr
		}
		if end < 0 {
			chunk = chunk[:len(chunk)+n]
			if r.size+len(chunk) > r.max {
				return nil, 0, r.tooBig()
			}
			continue
		}
		chunk = chunk[:len(chunk)+end]
		total := r.size + len(chunk)
		if total > r.max {
			return nil, 0, r.tooBig()
		}
		// What the read brought after the message is read next: from the
		// read buffer if it fits, else from where it is (the chunk's tail,
		// without its free space, so that no more is read there).
		if rest := fresh[end:]; len(rest) <= len(r.own) {
			r.w = copy(r.own, rest)
		} else {
			r.buf, r.w = rest[:len(rest):len(rest)], len(rest)
		}
		// Assemble the message (one chunk: as it is).
		if len(r.chunks) == 0 {
			msg = chunk
		} else {
			msg = make([]byte, 0, total)
			for _, c := range r.chunks {
				msg = append(msg, c...)
			}
			msg = append(msg, chunk...)
		}
		r.acct.releasePartial(int64(total))
		return msg, int64(total), nil
	}
}

// newChunk allocates the next chunk of a big message of have bytes so
// far, charged to the account; it holds at least need bytes.
func (r *reader) newChunk(have, need int) ([]byte, error) {
	size := firstChunk
	if have >= firstChunk {
		size = min(have, maxChunk)
	}
	if size < need {
		size = need
	}
	// No more than the message may still hold, plus one byte to see it
	// exceed the limit (written so that max = math.MaxInt cannot overflow).
	if left := r.max - have; left < size {
		size = max(left+1, 1)
	}
	if !r.acct.charge(int64(size), true) {
		return nil, r.overBudget()
	}
	return make([]byte, 0, size), nil
}

// scanBytes advances the scanner over p and returns the length of the
// prefix of p that completes the message, or -1.
func (r *reader) scanBytes(p []byte) (int, error) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if r.inString {
			if r.escaped {
				r.escaped = false
				continue
			}
			// Skip to the next quote or backslash.
			j := bytes.IndexByte(p[i:], '"')
			seg := p[i:]
			if j >= 0 {
				seg = p[i : i+j]
			}
			if k := bytes.IndexByte(seg, '\\'); k >= 0 {
				i += k
				r.escaped = true
				continue
			}
			if j < 0 {
				return -1, nil
			}
			i += j
			r.inString = false
			continue
		}
		switch c {
		case '"':
			r.inString = true
		case '{', '[':
			r.depth++
			if r.depth > fastjson.MaxDepth {
				return -1, errDepth
			}
		case '}', ']':
			r.depth--
			if r.depth == 0 {
				return i + 1, nil
			}
		}
	}
	return -1, nil
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

// idKey is the key of a request id in Session.pending: its C
// serialisation, or for a number (ids are normalized) its text as it is,
// which needs no allocation. No number's text is the serialisation of
// another kind of value.
func idKey(id any) string {
	if n, ok := id.(json.Number); ok {
		return string(n)
	}
	return cjson.String(id)
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
				return v // already canonical: keep the value, no allocation
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

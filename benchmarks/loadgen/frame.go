package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// frameReader splits a byte stream of concatenated JSON objects or arrays
// (JSON-RPC 1.0 over a stream) into one byte slice per top-level value
// without decoding it: it tracks only nesting depth and string state, so
// reading a multi-megabyte reply costs the harness little CPU next to the
// server under test.
type frameReader struct {
	r       io.Reader
	buf     []byte
	start   int // first byte of the current frame (or of unscanned input)
	scanned int // bytes of buf already scanned
	depth   int
	inStr   bool
	esc     bool
}

func newFrameReader(r io.Reader, size int) *frameReader {
	if size < 512 {
		size = 512
	}
	return &frameReader{r: r, buf: make([]byte, 0, size)}
}

// errFrameSyntax reports bytes outside any object or array.
var errFrameSyntax = errors.New("frame: unexpected byte outside a JSON object or array")

// Next returns the next complete top-level JSON value. The slice is valid
// only until the next call.
func (f *frameReader) Next() ([]byte, error) {
	for {
		if frame, ok, err := f.scan(); err != nil || ok {
			return frame, err
		}
		// Need more input: drop consumed bytes, grow if full, read.
		if f.start > 0 {
			n := copy(f.buf, f.buf[f.start:])
			f.scanned -= f.start
			f.buf = f.buf[:n]
			f.start = 0
		}
		if len(f.buf) == cap(f.buf) {
			nb := make([]byte, len(f.buf), 2*cap(f.buf))
			copy(nb, f.buf)
			f.buf = nb
		}
		n, err := f.r.Read(f.buf[len(f.buf):cap(f.buf)])
		f.buf = f.buf[:len(f.buf)+n]
		if n == 0 && err != nil {
			if err == io.EOF && (f.depth > 0 || f.start < len(f.buf)) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// scan continues scanning buffered bytes; ok reports a complete frame.
func (f *frameReader) scan() (frame []byte, ok bool, err error) {
	b := f.buf
	for i := f.scanned; i < len(b); i++ {
		if f.inStr {
			if f.esc {
				f.esc = false
				continue
			}
			// Skip ahead to the next quote or backslash.
			j := bytes.IndexAny(b[i:], "\"\\")
			if j < 0 {
				i = len(b) - 1
				continue
			}
			i += j
			if b[i] == '\\' {
				f.esc = true
			} else {
				f.inStr = false
			}
			continue
		}
		switch c := b[i]; c {
		case '"':
			if f.depth == 0 {
				f.scanned = i
				return nil, false, fmt.Errorf("%w: %q", errFrameSyntax, c)
			}
			f.inStr = true
		case '{', '[':
			f.depth++
		case '}', ']':
			f.depth--
			if f.depth < 0 {
				f.scanned = i
				return nil, false, fmt.Errorf("%w: %q", errFrameSyntax, c)
			}
			if f.depth == 0 {
				frame = b[f.start : i+1]
				f.start, f.scanned = i+1, i+1
				return frame, true, nil
			}
		case ' ', '\t', '\r', '\n':
			if f.depth == 0 {
				f.start = i + 1
			}
		default:
			if f.depth == 0 {
				f.scanned = i
				return nil, false, fmt.Errorf("%w: %q", errFrameSyntax, c)
			}
		}
	}
	f.scanned = len(b)
	return nil, false, nil
}

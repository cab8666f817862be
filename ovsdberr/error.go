package ovsdberr

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
)

// Common error tags used by the C ovsdb-server.
const (
	TagOVSDB                = "ovsdb error" // C default when no tag is given
	TagSyntax               = "syntax error"
	TagConstraint           = "constraint violation"
	TagReferentialIntegrity = "referential integrity violation"
	TagResourcesExhausted   = "resources exhausted"
	TagIOError              = "I/O error"
	TagDuplicateUUIDName    = "duplicate uuid-name"
	TagDomain               = "domain error"
	TagRange                = "range error"
	TagTimedOut             = "timed out"
	TagNotSupported         = "not supported"
	TagAborted              = "aborted"
	TagNotOwner             = "not owner"
	TagUnknownDatabase      = "unknown database"
	TagUnknownMethod        = "unknown method"
	TagCanceled             = "canceled"
	TagInternal             = "internal error"
	TagPermissionDenied     = "permission error"
)

// Error is an OVSDB protocol error.
type Error struct {
	Tag     string // "error" member
	Details string // "details" member; omitted when empty
	// Syntax, when HasSyntax, is the offending JSON value, serialised into
	// the "syntax" member as C does.
	Syntax    any
	HasSyntax bool
	// IOError, when not empty, is the text of the system error behind an
	// I/O error, as C's strerror gives it ("No space left on device"):
	// C sends it as the "io-error" member and appends it to the message
	// in parentheses.
	IOError string
	// Cause is an optional wrapped error (not sent to clients).
	Cause error
}

func (e *Error) Error() string {
	s := e.Tag
	if e.Details != "" {
		s += ": " + e.Details
	}
	if e.IOError != "" {
		s += " (" + e.IOError + ")"
	}
	return s
}

// Strerror returns C's strerror text for err's system error number (Go's
// text with a capital first letter, as glibc writes them), "End of file"
// for io.EOF, or err's own text.
func Strerror(err error) string {
	if errors.Is(err, io.EOF) {
		return "End of file"
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		if g := en.Error(); g != "" {
			return strings.ToUpper(g[:1]) + g[1:]
		}
	}
	return err.Error()
}

// IO makes an "I/O error" with formatted details caused by err (nil: no
// system error), as C's ovsdb_io_error.
func IO(err error, format string, args ...any) *Error {
	e := New(TagIOError, format, args...)
	if err != nil {
		e.IOError = Strerror(err)
		e.Cause = err
	}
	return e
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// New makes an error with a tag and formatted details.
func New(tag, format string, args ...any) *Error {
	d := format
	if len(args) > 0 {
		d = fmt.Sprintf(format, args...)
	}
	return &Error{Tag: tag, Details: d}
}

// Tagged makes an error with a tag and no details.
func Tagged(tag string) *Error { return &Error{Tag: tag} }

// Syntax makes a "syntax error" that carries the offending JSON.
func Syntax(js any, format string, args ...any) *Error {
	e := New(TagSyntax, format, args...)
	e.Syntax = js
	e.HasSyntax = true
	return e
}

// WithSyntax makes an error of any tag that carries the offending JSON.
func WithSyntax(tag string, js any, format string, args ...any) *Error {
	e := New(tag, format, args...)
	e.Syntax = js
	e.HasSyntax = true
	return e
}

// Wrap makes an error with a tag whose details are the cause's text.
func Wrap(tag string, cause error) *Error {
	return &Error{Tag: tag, Details: cause.Error(), Cause: cause}
}

// As returns the *Error in err's chain, or an "internal error" wrapping err.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Tag: TagInternal, Details: err.Error(), Cause: err}
}

// ToJSON renders err as the JSON object C sends: {"error": tag,
// "details": text, "syntax": json-text, "io-error": strerror text}. This is the single translation point
// from Go errors to the wire.
func ToJSON(err error) map[string]any {
	e := As(err)
	m := map[string]any{"error": e.Tag}
	if e.Details != "" {
		m["details"] = e.Details
	}
	if e.HasSyntax {
		m["syntax"] = cjson.String(e.Syntax)
	}
	if e.IOError != "" {
		m["io-error"] = e.IOError
	}
	return m
}

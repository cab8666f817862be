package ovsdberr

import (
	"errors"
	"fmt"

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
	// Cause is an optional wrapped error (not sent to clients).
	Cause error
}

func (e *Error) Error() string {
	if e.Details == "" {
		return e.Tag
	}
	return e.Tag + ": " + e.Details
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
// "details": text, "syntax": json-text}. This is the single translation point
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
	return m
}

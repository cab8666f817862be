// Package cjson serialises JSON values exactly as Open vSwitch's C library
// does: compact, object members sorted by name, strings escaped only where
// JSON requires (no HTML escaping, UTF-8 passed through), integers in decimal
// and reals in "%.15g" form. Replies, file records and the "syntax" member of
// errors all go through it, so bytes match the C server's.
package cjson

// Package cjson serialises JSON values exactly as Open vSwitch's C library
// does: compact, strings escaped only where JSON requires (no HTML escaping,
// UTF-8 passed through), integers in decimal, reals in "%.15g" form and
// numbers re-serialised as C prints them after parsing. Go maps are written
// with members sorted by name (C's JSSF_SORT); an *Object is written in its
// own member order, which is how C's hash-table order is reproduced where
// clients can see it (see internal/chash). Replies, file records and the "syntax" member of
// errors all go through it, so bytes match the C server's.
package cjson

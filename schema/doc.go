// Package schema holds the OVSDB type system: UUIDs, atoms, datums, column
// and table types, and database schemas, with their RFC 7047 JSON forms.
//
// It imports nothing else of this project except the error vocabulary and
// the C-compatible JSON serialiser, so every other layer can build on it.
//
// Atoms are plain Go values: int64, float64, bool, string or UUID. A Datum
// keeps its keys sorted and unique, as C does, so that output order and
// comparisons match the C server.
package schema

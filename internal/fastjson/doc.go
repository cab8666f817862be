// Package fastjson decodes JSON into the values encoding/json produces with
// UseNumber (map[string]any, []any, string, bool, nil, json.Number), but
// accepting exactly what C's JSON parser (lib/json.c) accepts: strings keep
// their bytes (invalid UTF-8 is checked only where C checks it, in string
// atoms), "\u0000" and unpaired escaped leading surrogates are errors, a
// lone escaped trailing surrogate becomes its three bytes, numbers are read
// as C reads them and at most 1000 arrays and objects may be nested. Strings
// of printable ASCII without escapes (most of OVSDB traffic) take a fast
// path that allocates nothing for cached names. Used for client requests
// (jsonrpc), replicated entries (raft) and anything through
// schema.DecodeJSON.
package fastjson

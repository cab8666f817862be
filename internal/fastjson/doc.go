// Package fastjson decodes JSON into the values encoding/json produces with
// UseNumber (map[string]any, []any, string, bool, nil, json.Number), with a
// fast path for the common subset of OVSDB traffic (strings of printable
// ASCII without escapes) and encoding/json for everything else, so accepted
// input and errors are exactly encoding/json's. Used for client requests
// (jsonrpc), replicated entries (raft) and anything through
// schema.DecodeJSON.
package fastjson

package jsonrpc

import "github.com/ovsdb-go/ovsdb-server/internal/fastjson"

// fastDecoder is the per-connection JSON decoder (internal/fastjson: a
// fast path for the common subset, encoding/json for the rest).
type fastDecoder = fastjson.Decoder

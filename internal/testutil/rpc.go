package testutil

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
)

// RPCOnce sends one JSON-RPC request on a fresh unix-socket connection and
// returns its result (an error member becomes an error), skipping
// notifications. No params sends [].
func RPCOnce(ctx context.Context, sock, method string, params ...any) (any, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if params == nil {
		params = []any{}
	}
	req, err := json.Marshal(map[string]any{"method": method, "params": params, "id": 1})
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bufio.NewReader(conn))
	dec.UseNumber()
	for {
		var msg map[string]any
		if err := dec.Decode(&msg); err != nil {
			return nil, err
		}
		if msg["id"] == nil {
			continue // notification
		}
		if e := msg["error"]; e != nil {
			return nil, fmt.Errorf("%v", e)
		}
		return msg["result"], nil
	}
}

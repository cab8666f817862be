package jsonrpc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The SetBeforeReply hook runs before every reply (results, errors, the
// immediate queue's echo), so what it writes precedes the reply.
func TestBeforeReplyHookPrecedesEveryReply(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.SetBeforeReply(func(ss *Session) { _ = ss.Notify("flushed", []any{}) })
	c := f.raw(t)
	tests := []struct{ req, reply string }{
		{`{"method":"echo","params":["x"],"id":1}`, `{"id":1,"result":["x"],"error":null}`},
		{`{"method":"transact","params":["OVN_Northbound",{"op":"log","v":"a"}],"id":2}`, `{"id":2,"result":[{}],"error":null}`},
		{`{"method":"nosuch","params":[],"id":3}`, `{"id":3,"error":"unknown method"}`},
	}
	for _, tc := range tests {
		c.send(tc.req)
		require.Equal(t, `{"id":null,"method":"flushed","params":[]}`, c.next(), tc.req)
		require.Equal(t, tc.reply, c.next(), tc.req)
	}
	f.srv.SetBeforeReply(nil)
	require.Equal(t, `{"id":4,"result":[],"error":null}`, c.roundTrip(`{"method":"echo","params":[],"id":4}`))
}

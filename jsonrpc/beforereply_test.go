package jsonrpc

import (
	"net"
	"strings"
	"sync"
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

// writeCounter records each Write on the server side of a connection.
type writeCounter struct {
	net.Conn
	mu     sync.Mutex
	writes []string
}

func (w *writeCounter) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.writes = append(w.writes, string(b))
	w.mu.Unlock()
	return w.Conn.Write(b)
}

// Notifications sent by the before-reply hook go out in the same write as
// the reply; big ones are not held back.
func TestBeforeReplyNotificationsShareTheReplyWrite(t *testing.T) {
	big := strings.Repeat("x", maxCollect)
	tests := []struct {
		name   string
		hook   func(ss *Session)
		writes []string
	}{
		{"two small", func(ss *Session) {
			_ = ss.Notify("a", []any{})
			_ = ss.Notify("b", []any{})
		}, []string{
			`{"id":null,"method":"a","params":[]}` + `{"id":null,"method":"b","params":[]}` + `{"id":1,"result":["x"],"error":null}`,
		}},
		{"none", func(*Session) {}, []string{`{"id":1,"result":["x"],"error":null}`}},
		{"big", func(ss *Session) {
			_ = ss.Notify("a", []any{})
			_ = ss.Notify("b", []any{big})
		}, []string{
			`{"id":null,"method":"a","params":[]}`,
			`{"id":null,"method":"b","params":["` + big + `"]}`,
			`{"id":1,"result":["x"],"error":null}`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := NewServer(&fakeBackend{dbs: map[string]*fakeDB{"OVN_Northbound": newFakeDB("OVN_Northbound")}}, Options{})
			t.Cleanup(func() { srv.Close() })
			srv.SetBeforeReply(tc.hook)
			client, server := net.Pipe()
			defer client.Close()
			wc := &writeCounter{Conn: server}
			_, err := srv.ServeConn(wc, 0)
			require.NoError(t, err)
			go func() { _, _ = client.Write([]byte(`{"method":"echo","params":["x"],"id":1}`)) }()
			r := newReader(client, 1<<20, nil)
			var got string
			for !strings.HasSuffix(got, `{"id":1,"result":["x"],"error":null}`) {
				b, _, err := r.next()
				require.NoError(t, err)
				got += string(b)
			}
			require.Equal(t, strings.Join(tc.writes, ""), got)
			wc.mu.Lock()
			defer wc.mu.Unlock()
			require.Equal(t, tc.writes, wc.writes)
		})
	}
}

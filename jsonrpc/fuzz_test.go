package jsonrpc

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzSession feeds arbitrary bytes as a whole client session through the
// real server handlers over net.Pipe, with small input limits, then checks
// the server survives, returned every input charge and still serves
// another client.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		`{"method":"list_dbs","params":[],"id":0}`,
		`{"method":"echo","params":[1,"a",1e2],"id":"echo"}{"method":"get_server_id","params":[],"id":1}`,
		`{"method":"transact","params":["OVN_Northbound",{"op":"log","v":1}],"id":1}{"method":"cancel","params":[1],"id":null}`,
		`{"method":"transact","params":["OVN_Northbound",{"op":"block","key":"f"}],"id":9}{"method":"transact","params":["OVN_Northbound"],"id":9}{"method":"cancel","params":[9],"id":null}`,
		`{"method":"get_schema","params":["X"],"id":[1,{"a":null}]}`,
		`{"method":"echo","params":[],"id":1}}`,
		`{"result":[],"id":"echo"}{"method":"foo","params":[],"id":null}`,
		`[1]`, `"x"`, `{"method":"echo","params":["\ud800"],"id":1e400}`,
		`{"method":"echo","params":["a\udc00\u00e9ÿ"],"id":"À"}{"method":"echo","params":["\ud800x"],"id":2}`,
		`{"method":"echo","params":[` + strings.Repeat("[", 999) + strings.Repeat("]", 999) + `],"id":1}` + strings.Repeat("[", 1001),
		`{"method":"echo","params":["` + strings.Repeat("q", 5000) + `"],"id":1}`,
	} {
		f.Add([]byte(s))
	}
	db := newFakeDB("OVN_Northbound")
	srv := NewServer(&fakeBackend{dbs: map[string]*fakeDB{"OVN_Northbound": db}}, Options{MaxMessageSize: 4096, InputBudget: 3 << 10})
	f.Cleanup(func() { srv.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		// "block" ops of fuzz input would wait forever; the session is
		// closed at the end, which cancels them.
		client, server := net.Pipe()
		ss, err := srv.ServeConn(server, 0)
		require.NoError(t, err)
		go io.Copy(io.Discard, client)
		client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		client.Write(data)
		client.Close()
		ss.Close()
		select {
		case <-ss.Done():
		case <-time.After(waitLimit):
			t.Fatal("session did not end")
		}
		require.Zero(t, srv.InputBuffered(), "input charges returned")

		// Another client is still served correctly.
		c2, s2 := net.Pipe()
		defer c2.Close()
		_, err = srv.ServeConn(s2, 0)
		require.NoError(t, err)
		cl := NewClient(c2)
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		res, err := cl.Call(ctx, "echo", []any{"alive"})
		require.NoError(t, err)
		require.True(t, bytes.Equal([]byte(`["alive"]`), res), string(res))
	})
}

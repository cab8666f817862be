package jsonrpc

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
)

func TestRepliesMatchCBytes(t *testing.T) {
	f := newFixture(t, Options{})
	tests := []struct {
		name, req, want string
	}{
		{"list_dbs", `{"method":"list_dbs","params":[],"id":0}`,
			`{"id":0,"result":["OVN_Northbound","_Server"],"error":null}`},
		{"list_dbs ignores params", `{"method":"list_dbs","params":[1,2],"id":"x"}`,
			`{"id":"x","result":["OVN_Northbound","_Server"],"error":null}`},
		{"get_schema", `{"method":"get_schema","params":["OVN_Northbound"],"id":1}`,
			`{"id":1,"result":{"name":"OVN_Northbound","tables":{},"version":"1.0.0"},"error":null}`},
		{"get_schema unknown db", `{"method":"get_schema","params":["X"],"id":1}`,
			`{"id":1,"error":{"syntax":"[\"X\"]","details":"get_schema request specifies unknown database X","error":"unknown database"}}`},
		{"get_schema no params", `{"method":"get_schema","params":[],"id":2}`,
			`{"id":2,"error":{"syntax":"[]","details":"get_schema request params must begin with <db-name>","error":"syntax error"}}`},
		{"get_schema number", `{"method":"get_schema","params":[3],"id":2.5}`,
			`{"id":2.5,"error":{"syntax":"[3]","details":"get_schema request params must begin with <db-name>","error":"syntax error"}}`},
		{"transact unknown db", `{"method":"transact","params":["X",{"op":"comment","comment":"x"}],"id":[1,2]}`,
			`{"id":[1,2],"error":{"syntax":"[\"X\",{\"comment\":\"x\",\"op\":\"comment\"}]","details":"transact request specifies unknown database X","error":"unknown database"}}`},
		{"transact no db", `{"method":"transact","params":[],"id":{"a":1}}`,
			`{"id":{"a":1},"error":{"syntax":"[]","details":"transact request params must begin with <db-name>","error":"syntax error"}}`},
		{"transact", `{"method":"transact","params":["OVN_Northbound",{"op":"log","v":1}],"id":7}`,
			`{"id":7,"result":[{}],"error":null}`},
		{"unknown method", `{"method":"foo","params":[],"id":3}`, `{"id":3,"error":"unknown method"}`},
		{"echo", `{"method":"echo","params":[1,"a"],"id":"echo"}`, `{"id":"echo","result":[1,"a"],"error":null}`},
		{"echo escapes", `{"method":"echo","params":["\u00e9\u0001/<>"],"id":1}`, "{\"id\":1,\"result\":[\"\u00e9\\u0001/<>\"],\"error\":null}"},
		{"id 1.0", `{"method":"echo","params":[],"id":1.0}`, `{"id":1,"result":[],"error":null}`},
		{"id 1e2", `{"method":"echo","params":[1.50],"id":1e2}`, `{"id":100,"result":[1.5],"error":null}`},
		{"get_server_id", `{"method":"get_server_id","params":[1],"id":5}`,
			`{"id":5,"result":"8a7c3c52-3d8f-4a2f-9a4f-2a3b1e6d4c10","error":null}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := f.raw(t)
			require.Equal(t, tc.want, c.roundTrip(tc.req))
		})
	}
}

func TestBackToBackMessagesAndIgnoredInput(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.raw(t)
	// Unknown notifications and replies to our probe are ignored; values
	// may be separated by whitespace or nothing.
	c.send(`{"method":"foo","params":[],"id":null}{"result":[],"id":"echo"}` +
		`{"method":"echo","params":[],"id":1}` + "\n\t " + `{"method":"echo","params":[],"id":2}{"method":"echo","params":[],"id":3}`)
	for i := 1; i <= 3; i++ {
		require.Equal(t, fmt.Sprintf(`{"id":%d,"result":[],"error":null}`, i), c.next())
	}
}

func TestMalformedInputClosesOnlyThatConnection(t *testing.T) {
	f := newFixture(t, Options{MaxMessageSize: 1024})
	other := f.raw(t)
	require.Equal(t, `{"id":0,"result":[],"error":null}`, other.roundTrip(`{"method":"echo","params":[],"id":0}`))
	tests := []struct {
		name, in  string
		wantFirst string // reply expected before the close, if any
	}{
		{"no params", `{"method":"echo","id":5}`, ""},
		{"null params", `{"method":"echo","params":null,"id":5}`, ""},
		{"object params", `{"method":"echo","params":{},"id":5}`, ""},
		{"extra member", `{"method":"echo","params":[],"id":5,"x":1}`, ""},
		{"unexpected reply", `{"result":[],"id":7}`, ""},
		{"unexpected error", `{"result":null,"error":"x","id":7}`, ""},
		{"array", `[1]`, ""},
		{"string", `"abc"`, ""},
		{"number", `12`, ""},
		{"method not string", `{"method":1,"params":[],"id":1}`, ""},
		{"reply with method", `{"method":"echo","params":[],"result":1,"id":1}`, ""},
		{"bad json", `{"method":"echo",,}`, ""},
		{"bad literal", `{"method":"echo","params":[tru],"id":1}`, ""},
		{"stray close", `{"method":"echo","params":[],"id":1}}`, `{"id":1,"result":[],"error":null}`},
		{"oversized", `{"method":"echo","params":["` + strings.Repeat("x", 2000) + `"],"id":1}`, ""},
		{"truncated", `{"method":"echo","params":[`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := f.raw(t)
			c.send(tc.in)
			if tc.name == "truncated" {
				// Half-close: the server sees EOF in the middle of a value.
				require.NoError(t, c.conn.(*net.UnixConn).CloseWrite())
			}
			if tc.wantFirst != "" {
				require.Equal(t, tc.wantFirst, c.next())
			}
			c.closed()
			require.Equal(t, `{"id":"a","result":[],"error":null}`, other.roundTrip(`{"method":"echo","params":[],"id":"a"}`))
		})
	}
}

func TestRequestsOfOneSessionRunInOrder(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.raw(t)
	var b strings.Builder
	// The first transact blocks; the others must wait for it although
	// rpc2 dispatches each request on its own goroutine.
	b.WriteString(`{"method":"transact","params":["OVN_Northbound",{"op":"block","key":"first"},{"op":"log","v":0}],"id":0}`)
	const n = 50
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, `{"method":"transact","params":["OVN_Northbound",{"op":"log","v":%d}],"id":%d}`, i, i)
	}
	c.send(b.String())
	f.db.waitStarted(t, "first")
	require.Empty(t, f.db.Log(), "later transactions overtook a pending one")
	f.db.release("first")
	require.Equal(t, `{"id":0,"result":[{},{}],"error":null}`, c.next())
	for i := 1; i < n; i++ {
		require.Equal(t, fmt.Sprintf(`{"id":%d,"result":[{}],"error":null}`, i), c.next())
	}
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprint(i)
	}
	require.Equal(t, want, f.db.Log())
}

func TestSessionsRunInParallel(t *testing.T) {
	f := newFixture(t, Options{})
	a, b := f.raw(t), f.raw(t)
	a.send(`{"method":"transact","params":["OVN_Northbound",{"op":"block","key":"a"}],"id":1}`)
	f.db.waitStarted(t, "a")
	// While a's transaction is blocked, b is served.
	require.Equal(t, `{"id":2,"result":[{}],"error":null}`,
		b.roundTrip(`{"method":"transact","params":["OVN_Northbound",{"op":"log","v":"b"}],"id":2}`))
	f.db.release("a")
	require.Equal(t, `{"id":1,"result":[{}],"error":null}`, a.next())
}

// TestEchoIsAnsweredWhileTransactPending: echo is answered while an
// earlier transact is blocked in a wait (a C trigger), but after an
// earlier slow one, as C answers in order.
func TestEchoIsAnsweredWhileTransactPending(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.raw(t)
	c.send(`{"method":"transact","params":["OVN_Northbound",{"op":"wait","key":"k"}],"id":1}`)
	f.db.waitStarted(t, "k")
	require.Equal(t, `{"id":2,"result":["x"],"error":null}`, c.roundTrip(`{"method":"echo","params":["x"],"id":2}`))
	f.db.release("k")
	require.Equal(t, `{"id":1,"result":[{}],"error":null}`, c.next())

	// A slow transact (not blocked in a wait) is answered first.
	c.send(`{"method":"transact","params":["OVN_Northbound",{"op":"block","key":"s"}],"id":3}`)
	f.db.waitStarted(t, "s")
	c.send(`{"method":"echo","params":["y"],"id":4}`)
	f.db.release("s")
	require.Equal(t, `{"id":3,"result":[{}],"error":null}`, c.next())
	require.Equal(t, `{"id":4,"result":["y"],"error":null}`, c.next())
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name  string
		reply bool // Options.ReplyOnCancel
		aware bool // Session.SetDBChangeAware(true)
		want  string
	}{
		// C 3.1 (execute_cancel, ovsdb_jsonrpc_trigger_complete): no reply
		// unless the session is db-change-aware.
		{"C behaviour: no reply", false, false, ""},
		{"C behaviour: db-change-aware session", false, true, `{"id":[9],"error":"canceled"}`},
		{"RFC 7047 reply", true, false, `{"id":[9],"error":"canceled"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{ReplyOnCancel: tc.reply})
			if tc.aware {
				f.srv.OnSession(func(ss *Session) { ss.SetDBChangeAware(true) })
			}
			c := f.raw(t)
			c.send(`{"method":"transact","params":["OVN_Northbound",{"op":"wait","key":"k"}],"id":[9]}`)
			f.db.waitStarted(t, "k")
			// Cancel of an unknown id and a malformed cancel are ignored.
			c.send(`{"method":"cancel","params":[8],"id":null}{"method":"cancel","params":[],"id":null}`)
			c.send(`{"method":"cancel","params":[[9]],"id":null}{"method":"echo","params":[],"id":3}`)
			// The "canceled" reply is sent when the cancel is read, before
			// the echo that follows it is answered.
			if tc.want != "" {
				require.Equal(t, tc.want, c.next())
			}
			require.Equal(t, `{"id":3,"result":[],"error":null}`, c.next())
			// list_dbs is ordered after the transact, so if the canceled
			// transact were answered (again) its reply would come first.
			require.Equal(t, `{"id":4,"result":["OVN_Northbound","_Server"],"error":null}`,
				c.roundTrip(`{"method":"list_dbs","params":[],"id":4}`))
			waitCanceled(t, f, "k")
			// The id is free again.
			require.Equal(t, `{"id":[9],"result":[{}],"error":null}`,
				c.roundTrip(`{"method":"transact","params":["OVN_Northbound",{"op":"log","v":1}],"id":[9]}`))
		})
	}
}

// TestCancelTransacts checks the cancellation of a session's pending
// transacts on one database (online conversion of a db-change-aware
// session's database): each is answered "canceled", others keep running.
func TestCancelTransacts(t *testing.T) {
	f := newFixture(t, Options{})
	sessions := make(chan *Session, 1)
	f.srv.OnSession(func(ss *Session) { sessions <- ss })
	c := f.raw(t)
	c.send(`{"method":"transact","params":["OVN_Northbound",{"op":"wait","key":"k"}],"id":"w"}`)
	f.db.waitStarted(t, "k")
	ss := <-sessions
	ss.CancelTransacts("Other")
	require.Equal(t, `{"id":1,"result":[],"error":null}`, c.roundTrip(`{"method":"echo","params":[],"id":1}`))
	ss.CancelTransacts("OVN_Northbound")
	require.Equal(t, `{"id":"w","error":"canceled"}`, c.next())
	require.Equal(t, `{"id":2,"result":["OVN_Northbound","_Server"],"error":null}`,
		c.roundTrip(`{"method":"list_dbs","params":[],"id":2}`))
	waitCanceled(t, f, "k")
}

// TestCancelBeforeBlock: a cancel for a transact that has not blocked
// (here: queued behind a slow one) does not stop it. C runs a session's
// requests one after another, so when it reads the cancel the transaction
// has run to its end (and is answered) or to its block (and is canceled
// then, answered "canceled" only in a db-change-aware session).
func TestCancelBeforeBlock(t *testing.T) {
	f := newFixture(t, Options{})
	sessions := make(chan *Session, 1)
	f.srv.OnSession(func(ss *Session) { sessions <- ss })
	c := f.raw(t)
	c.send(`{"method":"transact","params":["OVN_Northbound",{"op":"block","key":"k"}],"id":1}`)
	f.db.waitStarted(t, "k")
	ss := <-sessions
	c.send(`{"method":"transact","params":["OVN_Northbound",{"op":"log","v":"runs"}],"id":2}`)
	c.send(`{"method":"cancel","params":[2],"id":null}`)
	c.send(`{"method":"transact","params":["OVN_Northbound",{"op":"wait","key":"w"}],"id":3}`)
	c.send(`{"method":"cancel","params":[3],"id":null}`)
	// Both cancels are read (and remembered) before k is released.
	require.Eventually(t, func() bool {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		p2, p3 := ss.pending[cjson.String(json.Number("2"))], ss.pending[cjson.String(json.Number("3"))]
		return p2 != nil && p3 != nil && p2.cancelOnBlock && p3.cancelOnBlock
	}, waitLimit, time.Millisecond)
	f.db.release("k")
	require.Equal(t, `{"id":1,"result":[{}],"error":null}`, c.next())
	require.Equal(t, `{"id":2,"result":[{}],"error":null}`, c.next())
	// 3 blocks, is canceled at once, and is not answered (C: not
	// db-change-aware); 5 is answered next.
	require.Equal(t, `{"id":5,"result":[{}],"error":null}`,
		c.roundTrip(`{"method":"transact","params":["OVN_Northbound",{"op":"log","v":"after"}],"id":5}`))
	require.Equal(t, []string{`"runs"`, `"after"`}, f.db.Log())
	waitCanceled(t, f, "w")
}

func TestDuplicateRequestID(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.raw(t)
	c.send(`{"method":"transact","params":["OVN_Northbound",{"op":"wait","key":"k"}],"id":9}`)
	f.db.waitStarted(t, "k")
	require.Equal(t,
		`{"id":9,"error":{"syntax":"[\"OVN_Northbound\",{\"op\":\"log\",\"v\":1}]","details":"transact: duplicate request ID","error":"syntax error"}}`,
		c.roundTrip(`{"method":"transact","params":["OVN_Northbound",{"op":"log","v":1.0}],"id":9}`))
	f.db.release("k")
	require.Equal(t, `{"id":9,"result":[{}],"error":null}`, c.next())
	// The id is free again once answered.
	require.Equal(t, `{"id":9,"result":[{}],"error":null}`,
		c.roundTrip(`{"method":"transact","params":["OVN_Northbound",{"op":"log","v":2}],"id":9}`))
}

func TestSessionClosePendingTransactIsCanceled(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.raw(t)
	c.send(`{"method":"transact","params":["OVN_Northbound",{"op":"block","key":"k"}],"id":1}`)
	f.db.waitStarted(t, "k")
	ss := f.srv.Sessions()
	require.Len(t, ss, 1)
	closed := make(chan struct{})
	ss[0].OnClose(func() { close(closed) })
	require.NoError(t, c.conn.Close())
	select {
	case <-ss[0].Done():
	case <-time.After(waitLimit):
		t.Fatal("session did not end")
	}
	<-closed
	waitCanceled(t, f, "k")
}

func TestRegisteredMethodNotifiesBeforeReply(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.Register("subscribe", Method{Handler: func(ctx context.Context, s *Session, params []any) (any, error) {
		s.Set("sub", params)
		if err := s.Notify("update", []any{params[0], map[string]any{"b": 1, "a": 2}}); err != nil {
			return nil, err
		}
		return map[string]any{}, nil
	}})
	f.srv.Register("whoami", Method{Handler: func(ctx context.Context, s *Session, params []any) (any, error) {
		v, ok := s.Get("sub")
		return []any{ok, v}, nil
	}})
	c := f.raw(t)
	c.send(`{"method":"subscribe","params":["m1"],"id":1}{"method":"whoami","params":[],"id":2}`)
	require.Equal(t, `{"id":null,"method":"update","params":["m1",{"a":2,"b":1}]}`, c.next())
	require.Equal(t, `{"id":1,"result":{},"error":null}`, c.next())
	require.Equal(t, `{"id":2,"result":[true,["m1"]],"error":null}`, c.next())
}

func TestHandlerPanicBecomesError(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.Register("boom", Method{Handler: func(context.Context, *Session, []any) (any, error) { panic("kaput") }})
	c := f.raw(t)
	require.Equal(t, `{"id":1,"error":{"details":"kaput","error":"internal error"}}`, c.roundTrip(`{"method":"boom","params":[],"id":1}`))
	require.Equal(t, `{"id":2,"result":[],"error":null}`, c.roundTrip(`{"method":"echo","params":[],"id":2}`))
}

func TestTransactGetsSessionLockState(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.OnSession(func(s *Session) { s.SetHasLock(func(name string) bool { return name == "x" }) })
	c := f.raw(t)
	require.Equal(t, `{"id":1,"result":[{"haslock":true}],"error":null}`,
		c.roundTrip(`{"method":"transact","params":["OVN_Northbound",{"op":"opts"}],"id":1}`))
}

func TestManyConcurrentClients(t *testing.T) {
	f := newFixture(t, Options{})
	const clients, calls = 20, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cl, err := Dial("unix:" + f.sock)
			if err != nil {
				errs <- err
				return
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			for j := 0; j < calls; j++ {
				res, err := cl.Call(ctx, "echo", []any{i, j})
				if err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprintf("[%d,%d]", i, j); string(res) != want {
					errs <- fmt.Errorf("got %s want %s", res, want)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestProbeClosesSilentTCPClient(t *testing.T) {
	f := newFixture(t, Options{ProbeInterval: 20 * time.Millisecond})
	l, err := serve(t, f.srv, "ptcp:0:127.0.0.1")
	require.NoError(t, err)
	c := dialRaw(t, "tcp", l.Addr().String())
	require.Equal(t, `{"id":"echo","method":"echo","params":[]}`, c.next())
	c.closed()
}

func TestProbeKeepsAnsweringTCPClient(t *testing.T) {
	f := newFixture(t, Options{ProbeInterval: 200 * time.Millisecond})
	l, err := serve(t, f.srv, "ptcp:0:127.0.0.1")
	require.NoError(t, err)
	c := dialRaw(t, "tcp", l.Addr().String())
	for i := 0; i < 4; i++ {
		require.Equal(t, `{"id":"echo","method":"echo","params":[]}`, c.next())
		c.send(`{"id":"echo","result":[],"error":null}`)
	}
	require.Equal(t, `{"id":1,"result":[],"error":null}`, c.roundTrip(`{"method":"echo","params":[],"id":1}`))
}

func TestClient(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.Register("poke", Method{Handler: func(ctx context.Context, s *Session, params []any) (any, error) {
		return "ok", s.Notify("poked", params)
	}})
	l, err := serve(t, f.srv, "ptcp:0:127.0.0.1")
	require.NoError(t, err)
	got := make(chan string, 10)
	cl, err := Dial("tcp:"+l.Addr().String(), WithNotify(func(method string, params []any) {
		got <- method + " " + string(mustJSON(t, params))
	}))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()

	res, err := cl.Call(ctx, "list_dbs", []any{})
	require.NoError(t, err)
	require.JSONEq(t, `["OVN_Northbound","_Server"]`, string(res))

	_, err = cl.Call(ctx, "get_schema", []any{"nope"})
	var ce *CallError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, `{"details":"get_schema request specifies unknown database nope","error":"unknown database","syntax":"[\"nope\"]"}`, string(ce.Raw))
	require.Equal(t, "unknown database", ce.Value().(map[string]any)["error"])

	_, err = cl.Call(ctx, "nosuch", []any{})
	require.ErrorAs(t, err, &ce)
	require.Equal(t, `"unknown method"`, string(ce.Raw))

	res, err = cl.Call(ctx, "poke", []any{1})
	require.NoError(t, err)
	require.Equal(t, `"ok"`, string(res))
	require.Equal(t, "poked [1]", <-got)

	require.NoError(t, cl.Notify("cancel", []any{1}))
	res, err = cl.Call(ctx, "echo", []any{"still"})
	require.NoError(t, err)
	require.Equal(t, `["still"]`, string(res))
}

func TestServerCloseStopsListenersAndSessions(t *testing.T) {
	db := newFakeDB("OVN_Northbound")
	srv := NewServer(&fakeBackend{dbs: map[string]*fakeDB{"OVN_Northbound": db}}, Options{})
	sock := t.TempDir() + "/s.sock"
	_, err := serve(t, srv, "punix:"+sock)
	require.NoError(t, err)
	cl, err := Dial("unix:" + sock)
	require.NoError(t, err)
	defer cl.Close()
	c := dialRaw(t, "unix", sock)
	c.send(`{"method":"transact","params":["OVN_Northbound",{"op":"block","key":"k"}],"id":1}`)
	db.waitStarted(t, "k")

	require.NoError(t, srv.Close())
	select {
	case <-cl.Done():
	case <-time.After(waitLimit):
		t.Fatal("client session not closed")
	}
	c.closed()
	_, err = net.Dial("unix", sock)
	require.Error(t, err)
	ln, err := Listen("punix:"+sock, nil)
	require.NoError(t, err)
	require.ErrorIs(t, srv.Serve(ln, ServeOptions{}), ErrServerClosed)
	_, err = os.Stat(sock)
	require.True(t, os.IsNotExist(err), "a refused listener is closed")
	require.Equal(t, []string{"k"}, db.Canceled())
}

func TestParseRemote(t *testing.T) {
	tests := []struct {
		in   string
		want Remote
		err  bool
	}{
		{"punix:/run/x.sock", Remote{Passive: true, Network: "unix", Address: "/run/x.sock"}, false},
		{"unix:/run/x.sock", Remote{Network: "unix", Address: "/run/x.sock"}, false},
		{"ptcp:6641", Remote{Passive: true, Network: "tcp", Address: ":6641"}, false},
		{"ptcp:6641:127.0.0.1", Remote{Passive: true, Network: "tcp", Address: "127.0.0.1:6641"}, false},
		{"ptcp::[::1]", Remote{Passive: true, Network: "tcp", Address: "[::1]:6640"}, false},
		{"ptcp:0:[::1]", Remote{Passive: true, Network: "tcp", Address: "[::1]:0"}, false},
		{"tcp:10.0.0.1:6642", Remote{Network: "tcp", Address: "10.0.0.1:6642"}, false},
		{"tcp:10.0.0.1", Remote{Network: "tcp", Address: "10.0.0.1:6640"}, false},
		{"tcp:[fe80::1]:6641", Remote{Network: "tcp", Address: "[fe80::1]:6641"}, false},
		{"tcp:[fe80::1]", Remote{Network: "tcp", Address: "[fe80::1]:6640"}, false},
		{"ptcp:notaport", Remote{}, true},
		{"ptcp:70000", Remote{}, true},
		{"tcp:", Remote{}, true},
		{"punix:", Remote{}, true},
		{"ssl:1.2.3.4:6641", Remote{Network: "tcp", Address: "1.2.3.4:6641", TLS: true}, false},
		{"pssl:6641:127.0.0.1", Remote{Passive: true, Network: "tcp", Address: "127.0.0.1:6641", TLS: true}, false},
		{"ssl:", Remote{}, true},
		{"nocolon", Remote{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRemote(tc.in)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestListenRejectsActiveRemote(t *testing.T) {
	f := newFixture(t, Options{})
	_, err := serve(t, f.srv, "unix:"+f.sock+"2")
	require.Error(t, err)
	_, err = Dial("punix:" + f.sock)
	require.Error(t, err)
}

// probeCounter counts the server's echo probes seen by a client.
type probeCounter struct {
	net.Conn
	seen chan struct{}
}

func (p *probeCounter) Read(b []byte) (int, error) {
	n, err := p.Conn.Read(b)
	if n > 0 && strings.Contains(string(b[:n]), `"id":"echo","method":"echo"`) {
		select {
		case p.seen <- struct{}{}:
		default:
		}
	}
	return n, err
}

func TestClientAnswersProbes(t *testing.T) {
	f := newFixture(t, Options{})
	// A socket, not net.Pipe: with unbuffered pipes the client answering
	// a probe and the server writing a reply can wait for each other.
	cconn, sconn := socketPair(t)
	_, err := f.srv.ServeConn(sconn, 200*time.Millisecond)
	require.NoError(t, err)
	pc := &probeCounter{Conn: cconn, seen: make(chan struct{}, 1)}
	cl := NewClient(pc)
	defer cl.Close()
	for i := 0; i < 3; i++ {
		select {
		case <-pc.seen:
		case <-time.After(waitLimit):
			t.Fatal("no probe received")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	res, err := cl.Call(ctx, "echo", []any{"alive"})
	require.NoError(t, err)
	require.Equal(t, `["alive"]`, string(res))
}

// TestCloseAfterReply checks that a session closed after a reply writes
// nothing after it, even for requests read meanwhile.
func TestCloseAfterReply(t *testing.T) {
	for range 20 {
		f := newFixture(t, Options{})
		f.srv.Register("bye", Method{Handler: func(_ context.Context, ss *Session, _ []any) (any, error) {
			ss.CloseAfterReply()
			return "bye", nil
		}})
		c := f.raw(t)
		require.Equal(t, `{"id":1,"result":"bye","error":null}`, c.roundTrip(`{"method":"bye","params":[],"id":1}`))
		_, _ = c.conn.Write([]byte(`{"method":"echo","params":[],"id":2}`))
		require.NoError(t, c.conn.SetReadDeadline(time.Now().Add(waitLimit)))
		n, err := c.conn.Read(make([]byte, 100))
		require.Error(t, err)
		require.Zero(t, n, "nothing may follow the reply")
	}
}

// waitCanceled waits (bounded) until the fake database's canceled "block"
// and "wait" ops are exactly keys: a canceled op notices its context in
// its own goroutine, after the cancel was read.
func waitCanceled(t *testing.T, f *fixture, keys ...string) {
	t.Helper()
	require.Eventually(t, func() bool { return slices.Equal(f.db.Canceled(), keys) }, waitLimit, time.Millisecond,
		"canceled ops %v, want %v", f.db.Canceled(), keys)
}

package monitor

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

const testSchema = `{"name":"T","version":"1.0.0","tables":{"R":{"columns":{
 "name":{"type":"string"},"n":{"type":"integer"},
 "s":{"type":{"key":"string","min":0,"max":"unlimited"}},
 "m":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}}}}}}`

type fakeSession struct {
	mu      sync.Mutex
	notes   []string
	after   func()
	closed  bool
	onClose []func()
	block   chan struct{}
}

func (f *fakeSession) Notify(method string, params any) error {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notes = append(f.notes, method+" "+string(cjson.Marshal(params)))
	return nil
}
func (f *fakeSession) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}
func (f *fakeSession) OnClose(fn func())    { f.onClose = append(f.onClose, fn) }
func (f *fakeSession) AfterReply(fn func()) { f.after = fn }

// reply simulates the JSON-RPC layer writing the reply.
func (f *fakeSession) reply() {
	if f.after != nil {
		f.after()
		f.after = nil
	}
}

func (f *fakeSession) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.notes
	f.notes = nil
	return n
}

func setup(t *testing.T) (*Manager, *ovsdb.Database) {
	s, err := schema.ParseSchemaBytes([]byte(testSchema))
	require.NoError(t, err)
	db := ovsdb.NewDatabase(s, nil)
	mg := NewManager(Options{})
	t.Cleanup(mg.Close)
	return mg, db
}

func decode(t *testing.T, s string) any {
	v, err := schema.DecodeJSON([]byte(s))
	require.NoError(t, err)
	return v
}

func transact(t *testing.T, mg *Manager, ss *fakeSession, db *ovsdb.Database, ops string) string {
	res := db.Transact(context.Background(), decode(t, ops).([]any), ovsdb.TransactOptions{})
	mg.Sync(ss, db)
	return string(cjson.Marshal(res))
}

func uuidOf(t *testing.T, res string) string {
	var v []map[string][]string
	require.NoError(t, json.Unmarshal([]byte(res), &v))
	return v[0]["uuid"][1]
}

func TestShapes(t *testing.T) {
	mg, db := setup(t)
	ss := &fakeSession{}
	res := transact(t, mg, ss, db, `[{"op":"insert","table":"R","row":{"name":"a","n":1,"s":["set",["x"]]}}]`)
	u := uuidOf(t, res)

	r1, err := mg.Create(ss, db, V1, decode(t, `["T","m1",{"R":{"columns":["n","name","s"]}}]`).([]any))
	require.NoError(t, err)
	require.JSONEq(t, `{"R":{"`+u+`":{"new":{"n":1,"name":"a","s":"x"}}}}`, string(cjson.Marshal(r1)))
	ss.reply()
	r2, err := mg.Create(ss, db, V2, decode(t, `["T","m2",{"R":[{"columns":["n","s","m"],"where":[["n",">",0]]}]}]`).([]any))
	require.NoError(t, err)
	require.JSONEq(t, `{"R":{"`+u+`":{"initial":{"n":1,"s":"x"}}}}`, string(cjson.Marshal(r2)))
	ss.reply()
	require.Equal(t, 2, mg.Count())

	_, err = mg.Create(ss, db, V1, decode(t, `["T","m1",{"R":{}}]`).([]any))
	require.EqualError(t, err, "syntax error: duplicate monitor ID")

	tests := []struct{ ops, v1, v2 string }{
		{`[{"op":"update","table":"R","where":[],"row":{"s":["set",["y"]],"m":["map",[["k","v"]]]}}]`,
			`["m1",{"R":{"` + u + `":{"new":{"n":1,"name":"a","s":"y"},"old":{"s":"x"}}}}]`,
			`["m2",{"R":{"` + u + `":{"modify":{"m":["map",[["k","v"]]],"s":["set",["x","y"]]}}}}]`},
		{`[{"op":"update","table":"R","where":[],"row":{"m":["map",[["k","w"]]]}}]`, ``,
			`["m2",{"R":{"` + u + `":{"modify":{"m":["map",[["k","w"]]]}}}}]`},
		{`[{"op":"update","table":"R","where":[],"row":{"n":0}}]`,
			`["m1",{"R":{"` + u + `":{"new":{"n":0,"name":"a","s":"y"},"old":{"n":1}}}}]`,
			`["m2",{"R":{"` + u + `":{"delete":null}}}]`},
		{`[{"op":"delete","table":"R","where":[]}]`,
			`["m1",{"R":{"` + u + `":{"old":{"n":0,"name":"a","s":"y"}}}}]`, ``},
	}
	for _, tc := range tests {
		transact(t, mg, ss, db, tc.ops)
		var want []string
		if tc.v1 != "" {
			want = append(want, "update "+tc.v1)
		}
		if tc.v2 != "" {
			want = append(want, "update2 "+tc.v2)
		}
		got := ss.take()
		require.ElementsMatch(t, want, got, tc.ops)
	}
	_, err = mg.Cancel(ss, []any{"m1"})
	require.NoError(t, err)
	_, err = mg.Cancel(ss, []any{"m1"})
	require.Equal(t, errUnknownMonitor, err)
	require.Equal(t, 1, mg.Count())
}

func TestCondChangeAndSince(t *testing.T) {
	mg, db := setup(t)
	ss := &fakeSession{}
	ua := uuidOf(t, transact(t, mg, ss, db, `[{"op":"insert","table":"R","row":{"name":"a","n":1}}]`))
	ub := uuidOf(t, transact(t, mg, ss, db, `[{"op":"insert","table":"R","row":{"name":"b","n":5}}]`))
	r, err := mg.Create(ss, db, V3, decode(t, `["T","c",{"R":[{"columns":["name"],"where":[["n","<",3]]}]},"00000000-0000-0000-0000-000000000000"]`).([]any))
	require.NoError(t, err)
	ss.reply()
	arr := r.([]any)
	require.Equal(t, false, arr[0])
	last := arr[1].(string)
	require.JSONEq(t, `{"R":{"`+ua+`":{"initial":{"name":"a"}}}}`, string(cjson.Marshal(arr[2])))

	_, err = mg.CondChange(ss, decode(t, `["c","c2",{"R":[{"where":[["n",">",3]]}]}]`).([]any))
	require.NoError(t, err)
	got := ss.take()
	require.Len(t, got, 1)
	var p []any
	require.NoError(t, json.Unmarshal([]byte(got[0][len("update3 "):]), &p))
	require.Equal(t, "c2", p[0])
	require.JSONEq(t, `{"R":{"`+ua+`":{"delete":null},"`+ub+`":{"insert":{"name":"b"}}}}`, string(cjson.Marshal(p[2])))

	_, err = mg.CondChange(ss, decode(t, `["c2","c2",{"R":[{"columns":["n"]}]}]`).([]any))
	require.ErrorContains(t, err, "changing columns is unsupported")

	// A second client reconnecting with the known id gets only the missed change.
	transact(t, mg, ss, db, `[{"op":"update","table":"R","where":[["name","==","b"]],"row":{"n":7}}]`)
	transact(t, mg, ss, db, `[{"op":"update","table":"R","where":[["name","==","a"]],"row":{"name":"a2"}}]`)
	ss2 := &fakeSession{}
	r, err = mg.Create(ss2, db, V3, decode(t, `["T","x",{"R":[{"columns":["name"]}]},"`+last+`"]`).([]any))
	require.NoError(t, err)
	arr = r.([]any)
	require.Equal(t, true, arr[0])
	require.Equal(t, db.LastTxnID().String(), arr[1])
	require.JSONEq(t, `{"R":{"`+ua+`":{"modify":{"name":"a2"}}}}`, string(cjson.Marshal(arr[2])))
}

// slowAndFast returns a manager with two clients monitoring all of R in
// a fresh database: one whose writes block until its block channel is
// closed, one that takes everything at once.
func slowAndFast(t *testing.T, opts Options) (mg *Manager, db *ovsdb.Database, slow, fast *fakeSession) {
	s, err := schema.ParseSchemaBytes([]byte(testSchema))
	require.NoError(t, err)
	db = ovsdb.NewDatabase(s, nil)
	mg = NewManager(opts)
	t.Cleanup(mg.Close)
	slow = &fakeSession{block: make(chan struct{})}
	fast = &fakeSession{}
	for _, ss := range []*fakeSession{slow, fast} {
		_, err := mg.Create(ss, db, V2, decode(t, `["T","m",{"R":[{}]}]`).([]any))
		require.NoError(t, err)
		ss.reply()
	}
	return mg, db, slow, fast
}

func TestSlowConsumerDisconnected(t *testing.T) {
	mg, db, slow, fast := slowAndFast(t, Options{MaxBacklogMsgs: 3})
	for i := 0; i < 6; i++ {
		transact(t, mg, fast, db, `[{"op":"insert","table":"R","row":{"n":1}}]`)
	}
	require.Len(t, fast.take(), 6)
	deadline := time.Now().Add(10 * time.Second)
	for {
		slow.mu.Lock()
		c := slow.closed
		slow.mu.Unlock()
		if c || time.Now().After(deadline) {
			require.True(t, c, "slow client must be disconnected")
			break
		}
		mg.Sync(fast, db)
	}
	close(slow.block)
	require.Equal(t, 1, mg.Count())
}

// TestBigUpdateNotDisconnected: an update larger than the byte limit
// is delivered to a client that is busy, not taken for a backlog (it
// was: ovn-northd was disconnected from a large Southbound database
// after each of its own big transactions and fetched everything again);
// more updates queued behind it are.
func TestBigUpdateNotDisconnected(t *testing.T) {
	mg, db, busy, fast := slowAndFast(t, Options{MaxBacklogBytes: 10})
	closed := func() bool {
		busy.mu.Lock()
		defer busy.mu.Unlock()
		return busy.closed
	}
	// The first update is being written (blocked), the second waits
	// alone in the queue: both over the limit, neither a backlog.
	writing := func() bool {
		mg.mu.Lock()
		c := mg.clients[busy]
		mg.mu.Unlock()
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sending
	}
	for i := 0; i < 2; i++ {
		transact(t, mg, fast, db, `[{"op":"insert","table":"R","row":{"n":1}}]`)
		mg.Sync(fast, db)
		for deadline := time.Now().Add(10 * time.Second); !writing(); {
			require.True(t, time.Now().Before(deadline), "the first update never reached the busy client")
			time.Sleep(time.Millisecond)
		}
	}
	require.Len(t, fast.take(), 2)
	require.False(t, closed(), "a client with one update queued was disconnected")
	// A third makes two queued: a backlog over the byte limit.
	transact(t, mg, fast, db, `[{"op":"insert","table":"R","row":{"n":1}}]`)
	mg.Sync(fast, db)
	require.True(t, closed(), "two queued updates over the byte limit")
	close(busy.block)
}

func TestDatumDiff(t *testing.T) {
	str := schema.BaseType{Type: schema.TypeString}
	integer := schema.BaseType{Type: schema.TypeInteger}
	set := func(a ...schema.Atom) schema.Datum {
		if a == nil {
			a = []schema.Atom{}
		}
		return schema.Datum{Keys: a}
	}
	pairs := func(kv ...schema.Atom) schema.Datum {
		d := schema.Datum{Keys: []schema.Atom{}, Values: []schema.Atom{}}
		for i := 0; i < len(kv); i += 2 {
			d.Keys = append(d.Keys, kv[i])
			d.Values = append(d.Values, kv[i+1])
		}
		return d
	}
	// Expected values checked against C ovsdb-server 3.1 update2 output:
	// every column of at most one element (max 1) gets its new value.
	tests := []struct {
		name          string
		typ           schema.Type
		old, new, out schema.Datum
	}{
		{"scalar", schema.Type{Key: str, Min: 1, Max: 1}, set("x"), set("y"), set("y")},
		{"optional to empty", schema.Type{Key: str, Min: 0, Max: 1}, set("x"), set(), set()},
		{"optional changed", schema.Type{Key: integer, Min: 0, Max: 1}, set(int64(4)), set(int64(5)), set(int64(5))},
		{"optional from empty", schema.Type{Key: str, Min: 0, Max: 1}, set(), set("x"), set("x")},
		{"map max 1", schema.Type{Key: str, Value: &str, Min: 0, Max: 1}, pairs("a", "x"), pairs("b", "y"), pairs("b", "y")},
		{"map max 1 to empty", schema.Type{Key: str, Value: &str, Min: 0, Max: 1}, pairs("a", "x"), pairs(), pairs()},
		{"set max 2", schema.Type{Key: integer, Min: 0, Max: 2}, set(int64(1), int64(2)), set(int64(2), int64(3)), set(int64(1), int64(3))},
		{"set unlimited", schema.Type{Key: str, Min: 0, Max: schema.Unlimited}, set("a", "b"), set("b", "c"), set("a", "c")},
		{"set unlimited no change", schema.Type{Key: str, Min: 0, Max: schema.Unlimited}, set("a"), set("a"), set()},
		{"map max 2", schema.Type{Key: str, Value: &integer, Min: 0, Max: 2}, pairs("a", int64(1)), pairs("a", int64(2), "b", int64(1)), pairs("a", int64(2), "b", int64(1))},
		{"map removed keeps old value", schema.Type{Key: str, Value: &str, Min: 0, Max: schema.Unlimited}, pairs("k", "v", "z", "w"), pairs("z", "w"), pairs("k", "v")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := schema.DatumDiff(&tc.typ, tc.old, tc.new)
			require.Equal(t, schema.DatumToJSON(&tc.typ, tc.out), schema.DatumToJSON(&tc.typ, got))
		})
	}
}

// Each monitored column carries the select flags of the request that named
// it (C semantics): contents include only the columns whose select allows
// the event, rows appear if some column allows it.
func TestPerColumnSelect(t *testing.T) {
	mg, db := setup(t)
	ss := &fakeSession{}
	u := uuidOf(t, transact(t, mg, ss, db, `[{"op":"insert","table":"R","row":{"name":"a","n":1}}]`))
	req := `{"R":[{"columns":["name"],"select":{"initial":false}},{"columns":["n"],"select":{"insert":false,"modify":false}}]}`
	r1, err := mg.Create(ss, db, V1, decode(t, `["T","v1",`+req+`]`).([]any))
	require.NoError(t, err)
	require.JSONEq(t, `{"R":{"`+u+`":{"new":{"n":1}}}}`, string(cjson.Marshal(r1)))
	ss.reply()
	r2, err := mg.Create(ss, db, V2, decode(t, `["T","v2",`+req+`]`).([]any))
	require.NoError(t, err)
	require.JSONEq(t, `{"R":{"`+u+`":{"initial":{"n":1}}}}`, string(cjson.Marshal(r2)))
	ss.reply()
	// Only "n" selects initial: a monitor whose columns all refuse it
	// gets no rows.
	r3, err := mg.Create(ss, db, V1, decode(t, `["T","none",{"R":[{"columns":["name"],"select":{"initial":false}}]}]`).([]any))
	require.NoError(t, err)
	require.Equal(t, `{}`, string(cjson.Marshal(r3)))
	ss.reply()

	res := transact(t, mg, ss, db, `[{"op":"insert","table":"R","row":{"name":"b","n":2}}]`)
	u2 := uuidOf(t, res)
	tests := []struct {
		name, ops string
		want      []string
	}{
		{"insert: name only", ``, []string{
			`update ["v1",{"R":{"` + u2 + `":{"new":{"name":"b"}}}}]`,
			`update2 ["v2",{"R":{"` + u2 + `":{"insert":{"name":"b"}}}}]`,
			`update ["none",{"R":{"` + u2 + `":{"new":{"name":"b"}}}}]`}},
		{"modify of a column without modify", `[{"op":"update","table":"R","where":[["name","==","a"]],"row":{"n":10}}]`, []string{
			`update ["v1",{"R":{"` + u + `":{"new":{"name":"a"},"old":{}}}}]`,
			`update2 ["v2",{"R":{"` + u + `":{"modify":{}}}}]`}},
		{"modify of a column with modify", `[{"op":"update","table":"R","where":[["name","==","a"]],"row":{"name":"aa"}}]`, []string{
			`update ["v1",{"R":{"` + u + `":{"new":{"name":"aa"},"old":{"name":"a"}}}}]`,
			`update2 ["v2",{"R":{"` + u + `":{"modify":{"name":"aa"}}}}]`,
			`update ["none",{"R":{"` + u + `":{"new":{"name":"aa"},"old":{"name":"a"}}}}]`}},
		{"delete: both columns", `[{"op":"delete","table":"R","where":[["name","==","aa"]]}]`, []string{
			`update ["v1",{"R":{"` + u + `":{"old":{"n":10,"name":"aa"}}}}]`,
			`update2 ["v2",{"R":{"` + u + `":{"delete":null}}}]`,
			`update ["none",{"R":{"` + u + `":{"old":{"name":"aa"}}}}]`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ops != "" {
				transact(t, mg, ss, db, tc.ops)
			}
			require.ElementsMatch(t, tc.want, ss.take())
		})
	}
}

// Flush writes the updates of commits made so far before returning, even
// with no background processing, and costs nothing without monitors.
func TestFlushBeforeReply(t *testing.T) {
	s, err := schema.ParseSchemaBytes([]byte(testSchema))
	require.NoError(t, err)
	db := ovsdb.NewDatabase(s, nil)
	mg := NewManager(Options{})
	mg.noLoop = true
	t.Cleanup(mg.Close)
	watcher, other := &fakeSession{}, &fakeSession{}
	commit := func(ops string) string {
		res := db.Transact(context.Background(), decode(t, ops).([]any), ovsdb.TransactOptions{})
		return string(cjson.Marshal(res))
	}

	mg.Flush(other) // no monitors: returns at once
	_, err = mg.Create(watcher, db, V2, decode(t, `["T","m",{"R":[{"columns":["n"]}]}]`).([]any))
	require.NoError(t, err)
	// Held until the monitor reply is written: Flush must not wait.
	u := uuidOf(t, commit(`[{"op":"insert","table":"R","row":{"n":1}}]`))
	mg.Flush(watcher)
	require.Empty(t, watcher.take())
	watcher.reply()
	mg.Flush(watcher)
	require.Equal(t, []string{`update2 ["m",{"R":{"` + u + `":{"insert":{"n":1}}}}]`}, watcher.take())

	// Another session's commit reaches the watcher at its next reply.
	commit(`[{"op":"update","table":"R","where":[],"row":{"n":2}}]`)
	require.Empty(t, watcher.take())
	mg.Flush(other)
	require.Empty(t, watcher.take(), "flushing a session without monitors processes nothing")
	mg.Flush(watcher)
	require.Equal(t, []string{`update2 ["m",{"R":{"` + u + `":{"modify":{"n":2}}}}]`}, watcher.take())

	// A new monitor's reply is preceded by the updates already due to the
	// session's other monitors.
	commit(`[{"op":"update","table":"R","where":[],"row":{"n":3}}]`)
	_, err = mg.Create(watcher, db, V1, decode(t, `["T","m2",{"R":{"columns":["n"]}}]`).([]any))
	require.NoError(t, err)
	require.Equal(t, []string{`update2 ["m",{"R":{"` + u + `":{"modify":{"n":3}}}}]`}, watcher.take())
	watcher.reply()
}

package jsonrpc

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
)

// waitLimit bounds every wait in the tests; it is a safety net, not an
// assertion about speed.
const waitLimit = 10 * time.Second

// fakeDB interprets a tiny operation language:
//
//	{"op":"log","v":X}      appends X to the database's log, result {}
//	{"op":"block","key":K}  waits until release(K) or ctx is canceled (a slow transaction, such as a clustered commit)
//	{"op":"wait","key":K}   the same, as a transaction blocked in "wait" (a C trigger)
//	{"op":"opts"}           result {"haslock": HasLock("x")}
type fakeDB struct {
	name string

	mu       sync.Mutex
	log      []string
	gates    map[string]chan struct{}
	started  map[string]chan struct{}
	canceled []string
}

func newFakeDB(name string) *fakeDB {
	return &fakeDB{name: name, gates: map[string]chan struct{}{}, started: map[string]chan struct{}{}}
}

func (d *fakeDB) Name() string { return d.name }

// Engine implements Database: the fake has no engine.
func (d *fakeDB) Engine() *ovsdb.Database { return nil }
func (d *fakeDB) SchemaJSON() any {
	return map[string]any{"name": d.name, "version": "1.0.0", "tables": map[string]any{}}
}

func (d *fakeDB) gate(key string) (gate, started chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gates[key] == nil {
		d.gates[key] = make(chan struct{})
		d.started[key] = make(chan struct{})
	}
	return d.gates[key], d.started[key]
}

func (d *fakeDB) release(key string) {
	g, _ := d.gate(key)
	close(g)
}

// waitStarted waits until a "block" op with key is executing.
func (d *fakeDB) waitStarted(t *testing.T, key string) {
	t.Helper()
	_, st := d.gate(key)
	select {
	case <-st:
	case <-time.After(waitLimit):
		t.Fatalf("block %q never started", key)
	}
}

func (d *fakeDB) Log() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.log...)
}

func (d *fakeDB) Canceled() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.canceled...)
}

func (d *fakeDB) Transact(ctx context.Context, ops []any, opts ovsdb.TransactOptions) []any {
	var out []any
	for _, op := range ops {
		m, _ := op.(map[string]any)
		switch m["op"] {
		case "log":
			d.mu.Lock()
			d.log = append(d.log, cjson.String(m["v"]))
			d.mu.Unlock()
			out = append(out, map[string]any{})
		case "block", "wait":
			key, _ := m["key"].(string)
			if m["op"] == "wait" {
				// A "wait" op blocked as the engine's are: the
				// session lets the next requests run.
				ovsdb.NotifyBlocked(ctx)
			} else {
				// A slow transaction waits as a clustered commit
				// does: the session reads on meanwhile.
				ovsdb.NotifyWaiting(ctx)
			}
			g, st := d.gate(key)
			d.mu.Lock()
			select {
			case <-st:
			default:
				close(st)
			}
			d.mu.Unlock()
			select {
			case <-g:
				if m["op"] == "wait" {
					ovsdb.NotifyRetry(ctx) // released: runs again in its turn
				}
				out = append(out, map[string]any{})
			case <-ctx.Done():
				d.mu.Lock()
				d.canceled = append(d.canceled, key)
				d.mu.Unlock()
				return append(out, map[string]any{"error": "canceled"})
			}
		case "opts":
			has := opts.HasLock != nil && opts.HasLock("x")
			out = append(out, map[string]any{"haslock": has})
		default:
			out = append(out, map[string]any{"error": "bad op"})
		}
	}
	return out
}

type fakeBackend struct{ dbs map[string]*fakeDB }

func (b *fakeBackend) ListDBs() []string { return []string{"OVN_Northbound", "_Server"} }
func (b *fakeBackend) Database(name string) Database {
	if d, ok := b.dbs[name]; ok {
		return d
	}
	return nil
}
func (b *fakeBackend) ServerID() string { return "8a7c3c52-3d8f-4a2f-9a4f-2a3b1e6d4c10" }

type fixture struct {
	srv  *Server
	db   *fakeDB
	sock string // unix socket path
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	db := newFakeDB("OVN_Northbound")
	srv := NewServer(&fakeBackend{dbs: map[string]*fakeDB{"OVN_Northbound": db, "_Server": newFakeDB("_Server")}}, opts)
	sock := filepath.Join(t.TempDir(), "db.sock")
	_, err := serve(t, srv, "punix:"+sock)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return &fixture{srv: srv, db: db, sock: sock}
}

// serve opens the passive remote (Listen) and serves it on srv (Serve)
// until the test ends.
func serve(t *testing.T, srv *Server, remote string) (net.Listener, error) {
	t.Helper()
	ln, err := Listen(remote, nil)
	if err != nil {
		return nil, err
	}
	go func() { _ = srv.Serve(ln, ServeOptions{Name: remote}) }()
	t.Cleanup(func() { _ = ln.Close() })
	return ln, nil
}

// socketPair returns the two ends of a unix socket connection.
func socketPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "pair"))
	require.NoError(t, err)
	defer ln.Close()
	client, err = net.Dial("unix", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	require.NoError(t, err)
	return client, server
}

// rawConn is a client speaking raw bytes.
type rawConn struct {
	t    *testing.T
	conn net.Conn
	r    *reader
}

func dialRaw(t *testing.T, network, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial(network, addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, conn: c, r: newReader(c, 0, nil)}
}

func (f *fixture) raw(t *testing.T) *rawConn { return dialRaw(t, "unix", f.sock) }

func (c *rawConn) send(s string) {
	c.t.Helper()
	_, err := c.conn.Write([]byte(s))
	require.NoError(c.t, err)
}

// next returns the next message as text.
func (c *rawConn) next() string {
	c.t.Helper()
	require.NoError(c.t, c.conn.SetReadDeadline(time.Now().Add(waitLimit)))
	b, _, err := c.r.next()
	require.NoError(c.t, err)
	return string(b)
}

// closed asserts the server closes the connection (after any replies).
func (c *rawConn) closed() {
	c.t.Helper()
	require.NoError(c.t, c.conn.SetReadDeadline(time.Now().Add(waitLimit)))
	buf := make([]byte, 4096)
	for {
		_, err := c.conn.Read(buf)
		if err != nil {
			var ne net.Error
			require.False(c.t, errors.As(err, &ne) && ne.Timeout(), "server did not close the connection")
			return
		}
	}
}

func (c *rawConn) roundTrip(s string) string {
	c.t.Helper()
	c.send(s)
	return c.next()
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	v, err := decodeValue([]byte(s))
	require.NoError(t, err)
	m, ok := v.(map[string]any)
	require.True(t, ok, s)
	return m
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

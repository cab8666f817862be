package server

import (
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// fakeLockSession records the notifications it gets.
type fakeLockSession struct {
	name string
	log  *[]string
}

func (f *fakeLockSession) Notify(method string, params any) error {
	*f.log = append(*f.log, fmt.Sprintf("%s<-%s%v", f.name, method, params))
	return nil
}

func TestLocksUnit(t *testing.T) {
	var log []string
	a := &fakeLockSession{"a", &log}
	b := &fakeLockSession{"b", &log}
	c := &fakeLockSession{"c", &log}
	l := NewLocks()
	lock := func(s LockSession, mode LockMode) bool {
		got, err := l.Lock(s, "x", mode, "lock", []any{"x"})
		require.NoError(t, err)
		return got
	}
	type step struct {
		do      func() bool
		want    bool
		notes   []string
		owner   LockSession
		comment string
	}
	steps := []step{
		{do: func() bool { return lock(a, LockWait) }, want: true, owner: a, comment: "a locks free lock"},
		{do: func() bool { return lock(b, LockWait) }, want: false, owner: a, comment: "b waits"},
		{do: func() bool { return lock(c, LockSteal) }, want: true, notes: []string{"a<-stolen[x]"}, owner: c, comment: "c steals; a keeps waiting (it used lock)"},
		{do: func() bool { require.NoError(t, l.Unlock(c, "x", nil)); return true }, want: true, notes: []string{"a<-locked[x]"}, owner: a, comment: "c unlocks: a owns again"},
		{do: func() bool { require.NoError(t, l.Unlock(b, "x", nil)); return true }, want: true, notes: []string{"a<-locked[x]"}, owner: a, comment: "a waiter leaving re-notifies the owner, as C"},
		{do: func() bool { return lock(b, LockSteal) }, want: true, notes: []string{"a<-stolen[x]"}, owner: b, comment: "b steals from a"},
		{do: func() bool { return lock(c, LockSteal) }, want: true, notes: []string{"b<-stolen[x]"}, owner: c, comment: "c steals from stealer b: b drops out"},
		{do: func() bool { l.ReleaseAll(c); return true }, want: true, notes: []string{"a<-locked[x]"}, owner: a, comment: "c closes: a (waiting since its lock) owns"},
	}
	for _, st := range steps {
		log = nil
		require.Equal(t, st.want, st.do(), st.comment)
		require.Equal(t, st.notes, log, st.comment)
		for _, s := range []LockSession{a, b, c} {
			require.Equal(t, s == st.owner, l.Owns(s, "x"), st.comment)
		}
	}
	held, waiting, lost := l.Status(b)
	require.Equal(t, []string(nil), held)
	require.Equal(t, []string(nil), waiting)
	require.Equal(t, []string{"x"}, lost)

	_, err := l.Lock(b, "x", LockWait, "lock", []any{"x"})
	require.EqualError(t, err, `syntax error: must issue "unlock" before new "lock"`)
	require.NoError(t, l.Unlock(b, "x", nil))
	require.Error(t, l.Unlock(b, "x", nil))
	l.ReleaseAll(a)
	require.Empty(t, l.locks)
	require.Empty(t, l.sessions)
}

// rawConn is a raw JSON-RPC connection for differential tests.
type rawConn struct {
	c   net.Conn
	dec *json.Decoder
}

func dialRaw(t *testing.T, sock string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &rawConn{c: c, dec: json.NewDecoder(c)}
}

func (r *rawConn) send(t *testing.T, id int, method string, params ...any) {
	t.Helper()
	if params == nil {
		params = []any{}
	}
	b, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	require.NoError(t, err)
	_, err = r.c.Write(b)
	require.NoError(t, err)
}

// until reads messages until the reply with id arrives (bounded wait) and
// returns them, normalised: uuids replaced.
func (r *rawConn) until(t *testing.T, id int) []string {
	t.Helper()
	require.NoError(t, r.c.SetReadDeadline(time.Now().Add(5*time.Second)))
	var out []string
	for {
		var m map[string]any
		require.NoError(t, r.dec.Decode(&m))
		delete(m, "error")
		if m["id"] == nil {
			delete(m, "result")
		}
		b, _ := json.Marshal(m)
		out = append(out, string(b))
		if v, ok := m["id"].(float64); ok && int(v) == id {
			return out
		}
	}
}

// startC starts the C ovsdb-server on a fresh copy of schemaPath and
// returns its socket.
func startC(t *testing.T, schemaPath string) string {
	t.Helper()
	testutil.RequireTool(t, "ovsdb-server")
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	out, err := exec.Command("ovsdb-tool", "create", db, schemaPath).CombinedOutput()
	require.NoError(t, err, string(out))
	sock := filepath.Join(dir, "c.sock")
	cmd := exec.Command("ovsdb-server", "--remote=punix:"+sock, "--no-chdir",
		"--unixctl="+filepath.Join(dir, "ctl"), "--log-file="+filepath.Join(dir, "log"), db)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 500; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("C ovsdb-server did not start")
	return ""
}

// startOurs serves a fresh standalone file of schemaPath with our server.
func startOurs(t *testing.T, schemaPath string) (*Server, string) {
	t.Helper()
	testutil.RequireTool(t, "ovsdb-tool")
	dir := t.TempDir()
	db := filepath.Join(dir, "o.db")
	out, err := exec.Command("ovsdb-tool", "create", db, schemaPath).CombinedOutput()
	require.NoError(t, err, string(out))
	s := New(Options{})
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.AddDatabase(db))
	sock := filepath.Join(dir, "o.sock")
	require.NoError(t, s.AddRemote("punix:"+sock))
	return s, sock
}

func lockScript(t *testing.T, sock string) []string {
	conns := []*rawConn{dialRaw(t, sock), dialRaw(t, sock), dialRaw(t, sock)}
	type req struct {
		conn   int
		method string
		params []any
	}
	assert := func(l string) []any {
		return []any{"T", map[string]any{"op": "assert", "lock": l}}
	}
	script := []req{
		{0, "lock", []any{"x"}}, {1, "lock", []any{"x"}}, {2, "steal", []any{"x"}},
		{0, "transact", assert("x")}, {2, "transact", assert("x")},
		{0, "lock", []any{"x"}}, {1, "unlock", []any{"x"}}, {1, "unlock", []any{"x"}},
		{2, "unlock", []any{"x"}}, {0, "transact", assert("x")},
		{1, "steal", []any{"x"}}, {2, "steal", []any{"x"}}, {1, "transact", assert("x")},
		{1, "lock", []any{"y"}}, {0, "lock", []any{"y"}}, {1, "lock", []any{"bad name"}},
		{0, "steal", []any{}}, {2, "unlock", []any{1}},
	}
	var out []string
	for i, r := range script {
		conns[r.conn].send(t, 100+i, r.method, r.params...)
		// Once the reply is in, read every connection up to an echo so that
		// the notifications this request caused are collected in order.
		for _, m := range conns[r.conn].until(t, 100+i) {
			out = append(out, strconv.Itoa(r.conn)+": "+m)
		}
		for j, c := range conns {
			id := 1000*(j+1) + i
			c.send(t, id, "echo")
			for _, m := range c.until(t, id) {
				if !strings.Contains(m, `"id":`+strconv.Itoa(id)) {
					out = append(out, strconv.Itoa(j)+": "+m)
				}
			}
		}
	}
	// Closing the owner hands the lock to the next waiter.
	conns[1].c.Close()
	c := conns[0]
	require.NoError(t, c.c.SetReadDeadline(time.Now().Add(5*time.Second)))
	var m map[string]any
	require.NoError(t, c.dec.Decode(&m))
	b, _ := json.Marshal(m)
	return append(out, "0: "+string(b))
}

func TestLocksDifferential(t *testing.T) {
	testutil.RequireTool(t, "ovsdb-server")
	dir := t.TempDir()
	schemaPath := writeSchema(t, dir, "T")
	cSock := startC(t, schemaPath)
	_, oSock := startOurs(t, schemaPath)
	want := lockScript(t, cSock)
	got := lockScript(t, oSock)
	require.Equal(t, want, got)
	require.Contains(t, strings.Join(want, "\n"), "stolen")
	require.Contains(t, strings.Join(want, "\n"), `"method":"locked"`)
}

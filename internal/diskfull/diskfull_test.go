package diskfull

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/stretchr/testify/require"
)

// The database: one root table whose rows carry a large string, so that a
// few dozen rows fill the tmpfs.
const schemaJSON = `{"name":"T","version":"1.0.0","tables":{"A":{"columns":{
 "name":{"type":"string"},"pad":{"type":"string"}},"isRoot":true}}}`

const (
	tmpfsSize  = 1 << 20   // the tmpfs holding the database
	fillerSize = 320 << 10 // a file taking part of it, removed to free space
	padSize    = 12 << 10  // bytes of "pad" per inserted row
	// A cluster member needs room for all rows once space is freed.
	clusterTmpfsSize = 4 << 20

	callLimit = 60 * time.Second
	waitLimit = 30 * time.Second
)

var pad = strings.Repeat("x", padSize)

// kind is a server implementation: its ovsdb-server and ovsdb-tool.
type kind struct {
	name         string
	server, tool string
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// kinds returns C's tools and ours (built once; DISKFULL_OURS_SERVER and
// DISKFULL_OURS_TOOL name prebuilt binaries instead, e.g. an older build).
func kinds(t *testing.T) []kind {
	t.Helper()
	c := kind{name: "c", server: testutil.RequireTool(t, "ovsdb-server"), tool: testutil.RequireTool(t, "ovsdb-tool")}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "diskfull-bin-")
		if buildErr != nil {
			return
		}
		for _, p := range []string{"ovsdb-server", "ovsdb-tool"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, p),
				"github.com/ovsdb-go/ovsdb-server/cmd/"+p).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", p, err, out)
				return
			}
		}
	})
	require.NoError(t, buildErr)
	ours := kind{name: "ours", server: filepath.Join(buildDir, "ovsdb-server"), tool: filepath.Join(buildDir, "ovsdb-tool")}
	if p := os.Getenv("DISKFULL_OURS_SERVER"); p != "" {
		ours.server = p
	}
	if p := os.Getenv("DISKFULL_OURS_TOOL"); p != "" {
		ours.tool = p
	}
	return []kind{c, ours}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// mountTmpfs mounts a tmpfs of size bytes on dir (created) and unmounts it
// at cleanup. Where mounting is impossible (not root) the test is skipped,
// or failed when CI=true.
func mountTmpfs(t *testing.T, dir string, size int) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		testutil.MissingPrerequisite(t, "cannot mount a %d-byte tmpfs on %s (%v): the disk-full tests need root", size, dir, err)
	}
	t.Cleanup(func() {
		// Servers are stopped by cleanups registered later (run first).
		for i := 0; ; i++ {
			err := syscall.Unmount(dir, 0)
			if err == nil || errors.Is(err, syscall.EINVAL) {
				return
			}
			if i == 50 {
				t.Errorf("unmount %s: %v", dir, err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// fill writes a file of n bytes (tmpfs allocates it) and returns its name.
func fill(t *testing.T, dir string, n int) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	require.NoError(t, os.WriteFile(p, make([]byte, n), 0o644))
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), out)
	return string(out)
}

// server is one ovsdb-server process, run in the foreground.
type server struct {
	t              *testing.T
	bin, db        string
	sock, ctl, log string
	cmd            *exec.Cmd
	exited         chan struct{}
}

func newServer(t *testing.T, bin, dir, name, db string) *server {
	s := &server{t: t, bin: bin, db: db, sock: filepath.Join(dir, name+".sock"),
		ctl: filepath.Join(dir, name+".ctl"), log: filepath.Join(dir, name+".log")}
	t.Cleanup(s.kill)
	s.start()
	return s
}

func (s *server) start() {
	t := s.t
	t.Helper()
	_ = os.Remove(s.sock)
	s.cmd = exec.Command(s.bin, "--remote=punix:"+s.sock, "--unixctl="+s.ctl, "--log-file="+s.log, s.db)
	require.NoError(t, s.cmd.Start())
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, ch chan struct{}) { _ = cmd.Wait(); close(ch) }(s.cmd, s.exited)
	deadline := time.Now().Add(waitLimit)
	for {
		if c, err := net.Dial("unix", s.sock); err == nil {
			c.Close()
			return
		}
		select {
		case <-s.exited:
			t.Fatalf("%s exited at start-up; log:\n%s", s.bin, s.logTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s; log:\n%s", s.bin, s.sock, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops the server with SIGKILL (no clean shutdown).
func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

func (s *server) logTail() string { return testutil.LogTail(s.log, 30) }

// client is a JSON-RPC connection that records the names of the rows its
// monitor reports inserted.
type client struct {
	t    *testing.T
	conn net.Conn
	wmu  sync.Mutex

	mu      sync.Mutex
	next    int
	waiting map[int]chan map[string]any
	added   map[string]bool
	err     error
}

func dial(t *testing.T, sock string) *client {
	t.Helper()
	conn, err := net.Dial("unix", sock)
	require.NoError(t, err)
	c := &client{t: t, conn: conn, waiting: map[int]chan map[string]any{}, added: map[string]bool{}}
	t.Cleanup(func() { conn.Close() })
	go c.read()
	return c
}

func (c *client) read() {
	dec := json.NewDecoder(bufio.NewReader(c.conn))
	dec.UseNumber()
	for {
		var msg map[string]any
		if err := dec.Decode(&msg); err != nil {
			c.mu.Lock()
			c.err = err
			for _, ch := range c.waiting {
				close(ch)
			}
			c.waiting = map[int]chan map[string]any{}
			c.mu.Unlock()
			return
		}
		switch msg["method"] {
		case "echo":
			c.send(map[string]any{"id": msg["id"], "result": msg["params"], "error": nil})
			continue
		case "update":
			p, _ := msg["params"].([]any)
			if len(p) == 2 {
				upd, _ := p[1].(map[string]any)
				rows, _ := upd["A"].(map[string]any)
				c.mu.Lock()
				for _, r := range rows {
					if nw, ok := r.(map[string]any)["new"].(map[string]any); ok {
						c.added[nw["name"].(string)] = true
					}
				}
				c.mu.Unlock()
			}
			continue
		}
		n, ok := msg["id"].(json.Number)
		if !ok {
			continue
		}
		id, _ := n.Int64()
		c.mu.Lock()
		ch := c.waiting[int(id)]
		delete(c.waiting, int(id))
		c.mu.Unlock()
		if ch != nil {
			ch <- msg
		}
	}
}

func (c *client) send(msg map[string]any) {
	b, _ := json.Marshal(msg)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, _ = c.conn.Write(b)
}

// call sends a request and waits at most limit for its answer.
func (c *client) call(limit time.Duration, method string, params ...any) (any, error) {
	ch := make(chan map[string]any, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.next++
	id := c.next
	c.waiting[id] = ch
	c.mu.Unlock()
	c.send(map[string]any{"id": id, "method": method, "params": params})
	select {
	case msg, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("connection closed: %v", c.err)
		}
		if e := msg["error"]; e != nil {
			return nil, fmt.Errorf("%s error: %v", method, e)
		}
		return msg["result"], nil
	case <-time.After(limit):
		return nil, fmt.Errorf("%s: no answer in %v", method, limit)
	}
}

func (c *client) monitored() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]bool, len(c.added))
	for k := range c.added {
		out[k] = true
	}
	return out
}

func insertOp(name string) map[string]any {
	return map[string]any{"op": "insert", "table": "A", "row": map[string]any{"name": name, "pad": pad}}
}

// insert inserts one row and returns the transaction's error object (nil
// when it succeeded).
func (c *client) insert(name string) (map[string]any, error) {
	r, err := c.call(callLimit, "transact", "T", insertOp(name))
	if err != nil {
		return nil, err
	}
	res, _ := r.([]any)
	if len(res) == 0 {
		return nil, fmt.Errorf("insert %s: bad reply %v", name, r)
	}
	if e, ok := res[len(res)-1].(map[string]any); ok && e["error"] != nil {
		if len(res) != 2 || res[0].(map[string]any)["uuid"] == nil {
			return nil, fmt.Errorf("insert %s: unexpected failed reply %v", name, r)
		}
		return e, nil
	}
	if len(res) != 1 || res[0].(map[string]any)["uuid"] == nil {
		return nil, fmt.Errorf("insert %s: unexpected reply %v", name, r)
	}
	return nil, nil
}

func (c *client) names(limit time.Duration) (map[string]bool, error) {
	r, err := c.call(limit, "transact", "T", map[string]any{"op": "select", "table": "A", "where": []any{},
		"columns": []any{"name"}})
	if err != nil {
		return nil, err
	}
	res, _ := r.([]any)
	if len(res) != 1 {
		return nil, fmt.Errorf("select: bad reply %v", r)
	}
	rows, ok := res[0].(map[string]any)["rows"].([]any)
	if !ok {
		return nil, fmt.Errorf("select: bad reply %v", r)
	}
	out := map[string]bool{}
	for _, row := range rows {
		out[row.(map[string]any)["name"].(string)] = true
	}
	return out, nil
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// subset reports the names of a that b lacks.
func missing(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// queryNames reads the names in the database file with "ovsdb-tool
// query" (C's fails on a torn or corrupt record).
func queryNames(t *testing.T, tool, db string) map[string]bool {
	t.Helper()
	out := run(t, tool, "query", db, `["T",{"op":"select","table":"A","where":[],"columns":["name"]}]`)
	var res []struct {
		Rows []struct{ Name string } `json:"rows"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Len(t, res, 1, out)
	names := map[string]bool{}
	for _, r := range res[0].Rows {
		names[r.Name] = true
	}
	return names
}

func writeSchema(t *testing.T, dir string) string {
	p := filepath.Join(dir, "schema.ovsschema")
	require.NoError(t, os.WriteFile(p, []byte(schemaJSON), 0o644))
	return p
}

// ledger is what the clients were told.
type ledger struct {
	mu            sync.Mutex
	acked         map[string]bool
	failed        map[string]bool
	readBySomeone map[string]bool
}

func newLedger() *ledger {
	return &ledger{acked: map[string]bool{}, failed: map[string]bool{}, readBySomeone: map[string]bool{}}
}

func (l *ledger) get() (acked, failed, read map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cp := func(m map[string]bool) map[string]bool {
		o := make(map[string]bool, len(m))
		for k, v := range m {
			o[k] = v
		}
		return o
	}
	return cp(l.acked), cp(l.failed), cp(l.readBySomeone)
}

// TestDiskFullStandalone fills the tmpfs holding a standalone database
// with concurrent writers, a reader and a monitor, then frees space and
// restarts the server. Both servers must:
//   - answer a write that found no space with C's I/O error (the insert's
//     result, then {"error":"I/O error","details":"<db>: write failed",
//     "io-error":"No space left on device"}) and never show its row, to the
//     writer, to other readers or to monitors;
//   - write again as soon as space is freed, without a restart (also on
//     new connections, after many failures);
//   - after a kill -9 and a restart hold exactly the acknowledged rows,
//     in a file that C's ovsdb-tool reads to the end (it refuses a torn
//     tail).
func TestDiskFullStandalone(t *testing.T) {
	for _, k := range kinds(t) {
		t.Run(k.name, func(t *testing.T) { diskFullStandalone(t, k) })
	}
}

func diskFullStandalone(t *testing.T, k kind) {
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	mountTmpfs(t, mnt, tmpfsSize)
	filler := fill(t, mnt, fillerSize)
	db := filepath.Join(mnt, "db")
	run(t, k.tool, "create", db, writeSchema(t, dir))
	srv := newServer(t, k.server, dir, "s", db)

	mon := dial(t, srv.sock)
	_, err := mon.call(callLimit, "monitor", "T", "m", map[string]any{"A": map[string]any{"columns": []any{"name"}}})
	require.NoError(t, err)

	led := newLedger()
	stop := make(chan struct{})
	readerDone := make(chan error, 1)
	go func() { // another reader, selecting all along
		rc := dial(t, srv.sock)
		for {
			select {
			case <-stop:
				readerDone <- nil
				return
			default:
			}
			names, err := rc.names(callLimit)
			if err != nil {
				readerDone <- err
				return
			}
			led.mu.Lock()
			for n := range names {
				led.readBySomeone[n] = true
			}
			led.mu.Unlock()
		}
	}()

	// Four writers insert until each has seen three failures.
	wantErr := map[string]any{"error": "I/O error", "details": db + ": write failed", "io-error": "No space left on device"}
	const writers, failuresEach, attemptsEach = 4, 3, 150
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, srv.sock)
			fails := 0
			for i := 0; i < attemptsEach && fails < failuresEach; i++ {
				name := fmt.Sprintf("w%d-%d", w, i)
				e, err := c.insert(name)
				if err != nil {
					errs <- err
					return
				}
				led.mu.Lock()
				if e == nil {
					led.acked[name] = true
				} else {
					led.failed[name] = true
				}
				led.mu.Unlock()
				if e != nil {
					fails++
					if fmt.Sprint(e) != fmt.Sprint(wantErr) {
						errs <- fmt.Errorf("insert %s failed with %v, want %v", name, e, wantErr)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	close(errs)
	for err := range errs {
		require.NoError(t, err, "server log:\n%s", srv.logTail())
	}
	require.NoError(t, <-readerDone)
	acked, failed, read := led.get()
	require.NotEmpty(t, failed, "the disk never filled")
	require.NotEmpty(t, acked)
	t.Logf("%s: %d writes acknowledged, %d failed with the I/O error", k.name, len(acked), len(failed))

	// check asserts that every client sees exactly the acknowledged rows.
	check := func(stage string, acked, failed map[string]bool) {
		t.Helper()
		c := dial(t, srv.sock)
		names, err := c.names(callLimit)
		require.NoError(t, err)
		require.Equal(t, sorted(acked), sorted(names), "%s: a new reader's rows", stage)
		_, _, read := led.get()
		require.Empty(t, missing(read, acked), "%s: rows a reader saw that were never acknowledged", stage)
		deadline := time.Now().Add(waitLimit)
		for {
			got := mon.monitored()
			require.Empty(t, missing(got, acked), "%s: rows a monitor was told of that were never acknowledged", stage)
			if len(got) == len(acked) {
				break
			}
			require.True(t, time.Now().Before(deadline), "%s: monitor lacks %v", stage, missing(acked, got))
			time.Sleep(10 * time.Millisecond)
		}
	}
	check("disk full", acked, failed)
	require.Empty(t, missing(read, acked))

	// Free space: writes succeed again, on new connections, no restart.
	require.NoError(t, os.Remove(filler))
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("after-%d", i)
		e, err := dial(t, srv.sock).insert(name)
		require.NoError(t, err)
		require.Nil(t, e, "insert %s after space was freed; server log:\n%s", name, srv.logTail())
		acked[name] = true
	}
	check("space freed", acked, failed)

	// Restart after kill -9: exactly the acknowledged rows, from a file
	// without a torn or failed record.
	srv.kill()
	for _, tool := range []string{k.tool, testutil.RequireTool(t, "ovsdb-tool")} {
		require.Equal(t, sorted(acked), sorted(queryNames(t, tool, db)), "%s query", tool)
	}
	srv.start()
	names, err := dial(t, srv.sock).names(callLimit)
	require.NoError(t, err)
	require.Equal(t, sorted(acked), sorted(names), "rows after restart")
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// connected returns the _Server "connected" column of database T.
func connected(c *client) (bool, error) {
	r, err := c.call(callLimit, "transact", "_Server", map[string]any{"op": "select", "table": "Database",
		"where": []any{[]any{"name", "==", "T"}}, "columns": []any{"connected"}})
	if err != nil {
		return false, err
	}
	res, _ := r.([]any)
	if len(res) == 1 {
		if rows, _ := res[0].(map[string]any)["rows"].([]any); len(rows) == 1 {
			b, ok := rows[0].(map[string]any)["connected"].(bool)
			if ok {
				return b, nil
			}
		}
	}
	return false, fmt.Errorf("bad _Server reply %v", r)
}

// waitFor polls cond until it holds, failing after waitLimit with what.
func waitFor(t *testing.T, what string, cond func() bool, diag func() string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s\n%s", what, diag())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDiskFullClusterMember runs a three-member cluster whose first member
// (the leader at first) keeps its database on the tmpfs, and writes
// through the second member until the first member's disk is full, then
// frees space and restarts the first member. Both servers keep accepting
// writes through the healthy majority and end with exactly the
// acknowledged rows on every member. They differ in how the full member
// behaves:
//   - C: at the first failed log write the member logs "entering failure
//     mode due to I/O error", reports itself disconnected in _Server and
//     stops taking part (even read transactions get no answer); freeing
//     space does not bring it back, a restart does;
//   - ours: the member goes on serving what it has stored and applied
//     (never more: a kill -9 and restart while the disk is still full
//     serves at once at least what it served before, and nothing
//     unacknowledged), and catches up by itself once space is freed.
func TestDiskFullClusterMember(t *testing.T) {
	for _, k := range kinds(t) {
		t.Run(k.name, func(t *testing.T) { diskFullCluster(t, k) })
	}
}

func diskFullCluster(t *testing.T, k kind) {
	dir := t.TempDir()
	schema := writeSchema(t, dir)
	// 640 KiB free at first; freeing the filler leaves room for every row.
	m1 := filepath.Join(dir, "m1")
	mountTmpfs(t, m1, clusterTmpfsSize)
	filler := fill(t, m1, clusterTmpfsSize-640<<10)
	dbs := []string{filepath.Join(m1, "db"), filepath.Join(dir, "m2.db"), filepath.Join(dir, "m3.db")}
	var addrs []string
	for range dbs {
		addrs = append(addrs, fmt.Sprintf("tcp:127.0.0.1:%d", freeTCPPort(t)))
	}
	run(t, k.tool, "create-cluster", dbs[0], schema, addrs[0])
	for i := 1; i < 3; i++ {
		run(t, k.tool, "join-cluster", dbs[i], "T", addrs[i], addrs[0])
	}
	var srvs []*server
	for i, db := range dbs {
		srvs = append(srvs, newServer(t, k.server, dir, fmt.Sprintf("m%d", i+1), db))
	}
	diag := func() string {
		var b strings.Builder
		for i, s := range srvs {
			fmt.Fprintf(&b, "--- m%d log:\n%s\n", i+1, s.logTail())
		}
		return b.String()
	}
	for i, s := range srvs {
		// A fresh connection each time: C disconnects the clients of a
		// database when it connects to its cluster.
		waitFor(t, fmt.Sprintf("m%d is connected", i+1), func() bool {
			ok, err := connected(dial(t, s.sock))
			return err == nil && ok
		}, diag)
	}

	// Write through m2 until m1's disk is surely full: every write is
	// acknowledged (the majority has space).
	acked := map[string]bool{}
	w := dial(t, srvs[1].sock)
	start := time.Now()
	const rows = 90 // 90 x 12 KiB > the 640 KiB left on m1's tmpfs
	for i := 0; i < rows; i++ {
		name := fmt.Sprintf("r%d", i)
		e, err := w.insert(name)
		require.NoError(t, err, diag())
		require.Nil(t, e, "insert %s through m2\n%s", name, diag())
		acked[name] = true
	}
	t.Logf("%d rows written through m2 in %v", rows, time.Since(start).Round(time.Millisecond))

	m1c := dial(t, srvs[0].sock)
	if k.name == "c" {
		waitFor(t, "C's m1 reports itself disconnected", func() bool { ok, err := connected(m1c); return err == nil && !ok }, diag)
		b, err := os.ReadFile(srvs[0].log)
		require.NoError(t, err)
		require.Contains(t, string(b), "entering failure mode due to I/O error")
	} else {
		s1, err := m1c.names(callLimit)
		require.NoError(t, err)
		require.Empty(t, missing(s1, acked), "m1 serves rows never acknowledged")
		require.Less(t, len(s1), len(acked), "m1's disk never filled")
		// The member never applied more than its log holds: restarted
		// while the disk is still full, it serves at once what it served.
		srvs[0].kill()
		srvs[0].start()
		s2, err := dial(t, srvs[0].sock).names(callLimit)
		require.NoError(t, err)
		require.Empty(t, missing(s1, s2), "rows m1 served before its restart and lost after\n%s", diag())
		require.Empty(t, missing(s2, acked), "m1 serves rows never acknowledged")
		t.Logf("m1 held %d of %d rows while its disk was full", len(s2), len(acked))
	}

	require.NoError(t, os.Remove(filler))
	if k.name == "c" {
		// Freed space does not bring C's member back (observed for a few
		// election timers), a restart does.
		end := time.Now().Add(3 * time.Second)
		for time.Now().Before(end) {
			ok, err := connected(m1c)
			require.NoError(t, err)
			require.False(t, ok, "C's failed member reconnected without a restart")
			time.Sleep(100 * time.Millisecond)
		}
		srvs[0].kill()
		srvs[0].start()
	} else {
		c := dial(t, srvs[0].sock)
		waitFor(t, "m1 catches up without a restart", func() bool {
			names, err := c.names(callLimit)
			return err == nil && len(missing(acked, names)) == 0
		}, diag)
	}
	// The member that was full takes writes again.
	e, err := dial(t, srvs[0].sock).insert("via-m1")
	require.NoError(t, err, diag())
	require.Nil(t, e, diag())
	acked["via-m1"] = true
	for i, s := range srvs {
		c := dial(t, s.sock)
		var last map[string]bool
		waitFor(t, fmt.Sprintf("m%d holds exactly the acknowledged rows", i+1), func() bool {
			names, err := c.names(callLimit)
			last = names
			return err == nil && len(names) == len(acked) && len(missing(acked, names)) == 0
		}, func() string {
			return fmt.Sprintf("missing %v, extra %v\n%s", missing(acked, last), missing(last, acked), diag())
		})
	}
}

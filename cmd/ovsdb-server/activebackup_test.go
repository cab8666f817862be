package main

// Active-backup replication between processes, in the three pairings
// (C's active with our backup, our active with C's backup, ours with
// ours), and our control commands against C's.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/stretchr/testify/require"
)

const (
	abNBSchema = "/usr/share/ovn/ovn-nb.ovsschema"
	abNB       = "OVN_Northbound"
	// abTxns is the number of mixed transactions each pairing commits on
	// its active server while the backup follows (stopped and restarted
	// in the middle).
	abTxns = 5000
)

// abServer is one ovsdb-server process (C's or ours) serving an NB
// database file on a unix socket in its own directory.
type abServer struct {
	t    *testing.T
	bin  string
	dir  string
	db   string
	sock string
	ctl  string
	cmd  *exec.Cmd
	done <-chan struct{}
}

// newABServer creates the database file (an empty NB database) and
// starts the server with extra options.
func newABServer(t *testing.T, bin, dir string, extra ...string) *abServer {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	s := &abServer{t: t, bin: bin, dir: dir, db: filepath.Join(dir, "nb.db"),
		sock: filepath.Join(dir, "nb.sock"), ctl: filepath.Join(dir, "ctl")}
	r := runCmd(t, testutil.RequireTool(t, "ovsdb-tool"), "create", s.db, abNBSchema)
	require.Equal(t, 0, r.status, r.stderr)
	s.start(extra...)
	return s
}

// start runs the server on its files and waits until it serves.
func (s *abServer) start(extra ...string) {
	t := s.t
	t.Helper()
	args := append([]string{"--remote=punix:" + s.sock, "--unixctl=" + s.ctl,
		"--log-file=" + filepath.Join(s.dir, "log"), "-vconsole:off", "--no-chdir"}, extra...)
	cmd := exec.Command(s.bin, append(args, s.db)...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+s.dir, "OVS_DBDIR="+s.dir, "OVS_LOGDIR="+s.dir)
	// stderr is kept: a binary built with GOFLAGS=-race reports there.
	errf, err := os.OpenFile(filepath.Join(s.dir, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	defer errf.Close()
	cmd.Stderr = errf
	s.cmd, s.done = cmd, startStopped(t, cmd)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if st, err := os.Stat(s.ctl); err == nil && st.Mode()&os.ModeSocket != 0 {
			if c, err := jsonrpc.Dial("unix:" + s.sock); err == nil {
				_ = c.Close()
				return
			}
		}
		require.True(t, time.Now().Before(deadline), "%s did not start: %s", s.bin, testutil.LogTail(filepath.Join(s.dir, "log"), 20))
		select {
		case <-s.done:
			t.Fatalf("%s exited early: %s", s.bin, testutil.LogTail(filepath.Join(s.dir, "log"), 20))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop ends the process: SIGTERM, or SIGKILL when kill9.
func (s *abServer) stop(kill9 bool) {
	s.t.Helper()
	sig := syscall.SIGTERM
	if kill9 {
		sig = syscall.SIGKILL
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		s.t.Fatalf("%s did not stop", s.bin)
	}
}

// noRace fails the test if the server reported a data race (binaries
// built with GOFLAGS=-race) or panicked.
func (s *abServer) noRace() {
	s.t.Helper()
	data, _ := os.ReadFile(filepath.Join(s.dir, "stderr"))
	require.NotContains(s.t, string(data), "DATA RACE", s.bin)
	require.NotContains(s.t, string(data), "panic:", s.bin)
}

func (s *abServer) appctl(args ...string) result {
	s.t.Helper()
	return appctl(s.t, s.ctl, args...)
}

// syncStatus is the server's sync-status, in C's lines only (ours adds
// lines on a backup's lag after them: they are checked and dropped).
func (s *abServer) syncStatus() string {
	s.t.Helper()
	r := s.appctl("ovsdb-server/sync-status")
	require.Equal(s.t, 0, r.status, r.stderr)
	return stripLag(s.t, r.stdout)
}

var lagRE = regexp.MustCompile(`(?m)^lag: \d+ transactions received, not yet applied\nlast update: \d+\.\d{3} seconds ago\n`)

func stripLag(t *testing.T, out string) string {
	t.Helper()
	loc := lagRE.FindStringIndex(out)
	if loc == nil {
		return out
	}
	require.Equal(t, len(out), loc[1], "the lag lines come last: %q", out)
	return out[:loc[0]]
}

func (s *abServer) waitStatus(what string, cond func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := s.syncStatus()
		if cond(st) {
			return st
		}
		require.True(s.t, time.Now().Before(deadline), "%s: waiting for %s, sync-status %q", s.bin, what, st)
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *abServer) waitReplicating() string {
	return s.waitStatus("replicating", func(st string) bool { return strings.Contains(st, "\nreplicating: ") })
}

// dump is ovsdb-client's dump of the NB database, or of the given
// tables (one dump each, concatenated).
func (s *abServer) dump(tables ...string) string {
	s.t.Helper()
	if len(tables) == 0 {
		tables = []string{""}
	}
	var b strings.Builder
	for _, tn := range tables {
		args := []string{"-t", "30", "dump", "unix:" + s.sock, abNB}
		if tn != "" {
			args = append(args, tn)
		}
		r := runCmd(s.t, testutil.RequireTool(s.t, "ovsdb-client"), args...)
		require.Equal(s.t, 0, r.status, r.stderr)
		b.WriteString(r.stdout)
	}
	return b.String()
}

func (s *abServer) dial() *jsonrpc.Client {
	s.t.Helper()
	c, err := jsonrpc.Dial("unix:" + s.sock)
	require.NoError(s.t, err)
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// abTransact runs one NB transaction and returns its result array.
func abTransact(c *jsonrpc.Client, ops ...any) ([]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw, err := c.Call(ctx, "transact", append([]any{abNB}, ops...))
	if err != nil {
		return nil, err
	}
	v, err := schema.DecodeJSON(raw)
	if err != nil {
		return nil, err
	}
	res, _ := v.([]any)
	return res, nil
}

// abTxnError is the first error of a result array ("" if none).
func abTxnError(res []any) string {
	for _, r := range res {
		if m, ok := r.(map[string]any); ok && m["error"] != nil {
			return fmt.Sprint(m["error"], ": ", m["details"])
		}
	}
	return ""
}

// hasSwitch reports whether the server has a Logical_Switch named name.
func (s *abServer) hasSwitch(c *jsonrpc.Client, name string) bool {
	res, err := abTransact(c, map[string]any{"op": "select", "table": "Logical_Switch",
		"where": []any{[]any{"name", "==", name}}, "columns": []any{"name"}})
	if err != nil || len(res) != 1 {
		return false
	}
	rows, _ := res[0].(map[string]any)["rows"].([]any)
	return len(rows) > 0
}

// marker commits a switch named name on the active server and waits
// until the backup has it: everything committed before is there too.
func marker(t *testing.T, active, backup *abServer, name string) {
	t.Helper()
	ac, bc := active.dial(), backup.dial()
	res, err := abTransact(ac, map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": name}})
	require.NoError(t, err)
	require.Empty(t, abTxnError(res))
	deadline := time.Now().Add(30 * time.Second)
	for !backup.hasSwitch(bc, name) {
		require.True(t, time.Now().Before(deadline), "the backup (%s) did not get %s: %s", backup.bin, name,
			testutil.LogTail(filepath.Join(backup.dir, "log"), 20))
		time.Sleep(10 * time.Millisecond)
	}
}

// nbMixed is transaction i of a mix on the NB database: switches with
// ports and ACLs added, changed and deleted (ports and ACLs garbage
// collected), address sets replaced and mutated, NB_Global's
// external_ids rewritten.
func nbMixed(rng *rand.Rand, i int) []any {
	sw := fmt.Sprintf("sw%d", rng.Intn(40))
	where := []any{[]any{"name", "==", sw}}
	as := fmt.Sprintf("as%d", rng.Intn(20))
	asWhere := []any{[]any{"name", "==", as}}
	ip := func() string { return fmt.Sprintf("10.%d.%d.%d", rng.Intn(4), rng.Intn(256), rng.Intn(256)) }
	switch rng.Intn(10) {
	case 0, 1:
		return []any{
			map[string]any{"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p", "row": map[string]any{
				"name": fmt.Sprintf("p%d", i), "addresses": []any{"set", []any{fmt.Sprintf("00:00:00:%02x:%02x:%02x %s", i>>16&255, i>>8&255, i&255, ip())}},
				"options": []any{"map", []any{[]any{"k", fmt.Sprint(i)}}}}},
			map[string]any{"op": "mutate", "table": "Logical_Switch", "where": where,
				"mutations": []any{[]any{"ports", "insert", []any{"set", []any{[]any{"named-uuid", "p"}}}}}},
		}
	case 2:
		return []any{map[string]any{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": sw,
			"other_config": []any{"map", []any{[]any{"subnet", ip() + "/24"}}}}}}
	case 3:
		return []any{map[string]any{"op": "update", "table": "Logical_Switch", "where": where, "row": map[string]any{
			"external_ids": []any{"map", []any{[]any{"a", fmt.Sprint(i)}, []any{"b", fmt.Sprint(i % 7)}}}}}}
	case 4:
		return []any{map[string]any{"op": "delete", "table": "Logical_Switch", "where": where}}
	case 5:
		return []any{
			map[string]any{"op": "delete", "table": "Address_Set", "where": asWhere},
			map[string]any{"op": "insert", "table": "Address_Set", "row": map[string]any{"name": as,
				"addresses": []any{"set", []any{ip(), ip()}}}},
		}
	case 6:
		return []any{map[string]any{"op": "mutate", "table": "Address_Set", "where": asWhere, "mutations": []any{
			[]any{"addresses", "insert", ip()}, []any{"external_ids", "insert", []any{"map", []any{[]any{fmt.Sprint("k", i%5), fmt.Sprint(i)}}}}}}}
	case 7:
		return []any{map[string]any{"op": "update", "table": "NB_Global", "where": []any{}, "row": map[string]any{
			"external_ids": []any{"map", []any{[]any{"counter", fmt.Sprint(i)}}}, "nb_cfg": i}}}
	case 8:
		return []any{
			map[string]any{"op": "insert", "table": "ACL", "uuid-name": "a", "row": map[string]any{"priority": rng.Intn(1000),
				"direction": "to-lport", "match": fmt.Sprintf("ip4.src == %s", ip()), "action": "drop"}},
			map[string]any{"op": "mutate", "table": "Logical_Switch", "where": where,
				"mutations": []any{[]any{"acls", "insert", []any{"set", []any{[]any{"named-uuid", "a"}}}}}},
		}
	default:
		return []any{map[string]any{"op": "update", "table": "Logical_Switch_Port",
			"where": []any{[]any{"name", "==", fmt.Sprintf("p%d", rng.Intn(i+1))}},
			"row":   map[string]any{"options": []any{"map", []any{}}, "enabled": i%2 == 0}}}
	}
}

// abPairing names the binaries of one pairing.
type abPairing struct {
	name           string
	active, backup string
}

func abPairings(t *testing.T) []abPairing {
	cbin := testutil.RequireTool(t, "ovsdb-server")
	testutil.RequireTool(t, "ovsdb-tool")
	testutil.RequireTool(t, "ovsdb-client")
	testutil.RequireTool(t, "ovs-appctl")
	testutil.RequireTool(t, "ovn-nbctl")
	if _, err := os.Stat(abNBSchema); err != nil {
		testutil.MissingPrerequisite(t, "%s: %v", abNBSchema, err)
	}
	ours := buildBinary(t)
	return []abPairing{
		{"C-active/our-backup", cbin, ours},
		{"our-active/C-backup", ours, cbin},
		{"ours/ours", ours, ours},
	}
}

const (
	abWriteError = `[{"details":"insert operation not allowed when database server is in read only mode","error":"not allowed"}]`
	abLockError  = `"lock and unlock methods not allowed, DB server is read only."`
)

// TestActiveBackup runs, for each pairing, a backup following an active
// NB server: equal dumps after the initial sync, after abTxns mixed
// transactions during which the backup was stopped and restarted, and
// after a restart with --sync-exclude-tables left a table out; C's
// errors for a write and a lock on the backup; promotion of the backup
// while a writer commits on the active server (the acknowledged
// transactions it has are a prefix: none lost in between, and they
// survive a kill -9), then demotion of the old active server to a
// backup of the new one.
func TestActiveBackup(t *testing.T) {
	for _, p := range abPairings(t) {
		t.Run(p.name, func(t *testing.T) { testActiveBackup(t, p) })
	}
}

func testActiveBackup(t *testing.T, p abPairing) {
	dir := t.TempDir()
	nbctl := testutil.RequireTool(t, "ovn-nbctl")
	a := newABServer(t, p.active, filepath.Join(dir, "a"))
	for _, args := range [][]string{{"init"}, {"ls-add", "sw0"}, {"lsp-add", "sw0", "p-init"},
		{"lsp-set-addresses", "p-init", "00:00:00:00:00:01 10.0.0.1"}, {"acl-add", "sw0", "to-lport", "100", "ip4", "allow"}} {
		r := runCmd(t, nbctl, append([]string{"--db=unix:" + a.sock}, args...)...)
		require.Equal(t, 0, r.status, r.stderr)
	}
	from := "--sync-from=unix:" + a.sock
	b := newABServer(t, p.backup, filepath.Join(dir, "b"), from)

	// Initial sync.
	st := b.waitReplicating()
	require.Equal(t, "state: backup\nreplicating: unix:"+a.sock+"\ndatabase: "+abNB+"\n", st)
	require.Equal(t, "state: active\n", a.syncStatus())
	require.Equal(t, a.dump(), b.dump())

	// The backup refuses writes and locks with C's errors, and serves
	// reads.
	r := runCmd(t, testutil.RequireTool(t, "ovsdb-client"), "transact", "unix:"+b.sock,
		`["OVN_Northbound",{"op":"insert","table":"Address_Set","row":{"name":"x"}}]`)
	require.Equal(t, 0, r.status, r.stderr)
	require.Equal(t, abWriteError+"\n", r.stdout)
	bc := b.dial()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err := bc.Call(ctx, "lock", []any{"l"})
	cancel()
	var ce *jsonrpc.CallError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, abLockError, string(ce.Raw))
	require.True(t, b.hasSwitch(bc, "sw0"))

	// Mixed transactions; the backup stopped and restarted in the
	// middle.
	rng := rand.New(rand.NewSource(12))
	ac := a.dial()
	failed := 0
	for i := 0; i < abTxns; i++ {
		switch i {
		case abTxns * 2 / 5:
			b.stop(false)
		case abTxns * 3 / 5:
			b.start(from)
		}
		res, err := abTransact(ac, nbMixed(rng, i)...)
		require.NoError(t, err)
		if abTxnError(res) != "" {
			failed++
		}
	}
	require.Less(t, failed, abTxns/10, "most transactions of the mix commit")
	marker(t, a, b, "marker-1")
	require.Equal(t, a.dump(), b.dump())

	// Restarted with Address_Set excluded: the backup keeps its own
	// Address_Set and follows the rest.
	frozen := b.dump("Address_Set")
	b.stop(false)
	b.start(from, "--sync-exclude-tables="+abNB+":Address_Set")
	require.Equal(t, "state: backup\nreplicating: unix:"+a.sock+"\ndatabase: "+abNB+"\nexclude: "+abNB+":Address_Set\n",
		b.waitReplicating())
	for i := abTxns; i < abTxns+300; i++ {
		res, err := abTransact(ac, nbMixed(rng, i)...)
		require.NoError(t, err)
		_ = res
	}
	marker(t, a, b, "marker-2")
	others := abTablesBut(t, "Address_Set")
	require.Equal(t, a.dump(others...), b.dump(others...))
	require.Equal(t, frozen, b.dump("Address_Set"))
	require.NotEqual(t, a.dump("Address_Set"), frozen, "the mix changed Address_Set on the active server")

	// Promotion while a writer commits on the active server.
	acked := make(chan int, 1)
	stopWriter := make(chan struct{})
	go func() {
		wc, err := jsonrpc.Dial("unix:" + a.sock)
		if err != nil {
			acked <- 0
			return
		}
		defer wc.Close()
		n := 0
		for {
			select {
			case <-stopWriter:
				acked <- n
				return
			default:
			}
			res, err := abTransact(wc, map[string]any{"op": "insert", "table": "Logical_Switch",
				"row": map[string]any{"name": fmt.Sprintf("w%d", n)}})
			if err != nil || abTxnError(res) != "" {
				acked <- n
				return
			}
			n++
		}
	}()
	bc = b.dial() // the backup was restarted
	deadline := time.Now().Add(30 * time.Second)
	for !b.hasSwitch(bc, "w50") {
		require.True(t, time.Now().Before(deadline), "the backup did not follow the writer")
		time.Sleep(5 * time.Millisecond)
	}
	r = b.appctl("ovsdb-server/disconnect-active-ovsdb-server")
	require.Equal(t, result{"", "", 0}, r)
	require.Equal(t, "state: active\n", b.syncStatus())
	time.Sleep(50 * time.Millisecond) // let the writer go on past the promotion
	close(stopWriter)
	n := <-acked
	have := writerRows(t, b, bc)
	require.NotEmpty(t, have)
	require.LessOrEqual(t, len(have), n)
	t.Logf("promotion: the new active server has %d of the writer's %d acknowledged transactions (the others were committed on the old active server after the promotion)", len(have), n)
	for i := range have {
		require.Equal(t, fmt.Sprintf("w%d", i), have[i], "the backup's acknowledged transactions are a prefix")
	}
	// The new active server takes writes; everything is durable.
	r = runCmd(t, nbctl, "--db=unix:"+b.sock, "ls-add", "after-promotion")
	require.Equal(t, 0, r.status, r.stderr)
	before := b.dump()
	b.stop(true)
	b.start()
	require.Equal(t, before, b.dump())
	require.Equal(t, "state: active\n", b.syncStatus())

	// Demotion of the old active server to a backup of the new one.
	for _, cmd := range [][]string{
		{"ovsdb-server/set-active-ovsdb-server", "unix:" + b.sock},
		{"ovsdb-server/connect-active-ovsdb-server"},
		{"ovsdb-server/set-active-ovsdb-server-probe-interval", "5000"},
	} {
		require.Equal(t, result{"", "", 0}, a.appctl(cmd...))
	}
	require.Equal(t, "state: backup\nreplicating: unix:"+b.sock+"\ndatabase: "+abNB+"\n", a.waitReplicating())
	marker(t, b, a, "marker-3")
	require.Equal(t, b.dump(), a.dump())
	res, err := abTransact(a.dial(), map[string]any{"op": "insert", "table": "Address_Set", "row": map[string]any{"name": "x"}})
	require.NoError(t, err)
	require.Equal(t, abWriteError, string(mustJSON(t, res)))
	for i := 0; i < 200; i++ {
		_, err := abTransact(b.dial(), nbMixed(rng, abTxns+300+i)...)
		require.NoError(t, err)
	}
	marker(t, b, a, "marker-4")
	require.Equal(t, b.dump(), a.dump())
	a.noRace()
	b.noRace()
}

// writerRows returns the names of the writer's switches the server has,
// in the writer's order.
func writerRows(t *testing.T, s *abServer, c *jsonrpc.Client) []string {
	t.Helper()
	res, err := abTransact(c, map[string]any{"op": "select", "table": "Logical_Switch", "where": []any{}, "columns": []any{"name"}})
	require.NoError(t, err)
	var nums []int
	for _, row := range res[0].(map[string]any)["rows"].([]any) {
		var n int
		if _, err := fmt.Sscanf(row.(map[string]any)["name"].(string), "w%d", &n); err == nil {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	out := make([]string, len(nums))
	for i, n := range nums {
		out[i] = fmt.Sprintf("w%d", n)
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// abTablesBut returns the NB tables but skip, sorted.
func abTablesBut(t *testing.T, skip string) []string {
	t.Helper()
	data, err := os.ReadFile(abNBSchema)
	require.NoError(t, err)
	sch, err := schema.ParseSchemaBytes(data)
	require.NoError(t, err)
	var out []string
	for _, n := range sch.TableNames {
		if n != skip {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// TestActiveBackupCommandsDifferential runs the same sequence of
// active-backup control commands on a C server and on ours, both
// following one C active server, and compares replies, errors and exit
// statuses (paths normalised; our lag lines checked and dropped).
func TestActiveBackupCommandsDifferential(t *testing.T) {
	cbin := testutil.RequireTool(t, "ovsdb-server")
	testutil.RequireTool(t, "ovs-appctl")
	ours := buildBinary(t)
	dir := t.TempDir()
	a := newABServer(t, cbin, filepath.Join(dir, "active"))
	cs := newABServer(t, cbin, filepath.Join(dir, "c"))
	gs := newABServer(t, ours, filepath.Join(dir, "g"))
	active := "unix:" + a.sock
	nowhere := "unix:" + filepath.Join(dir, "nowhere.sock")
	const wait = "WAIT-REPLICATING"
	// serverRows compares the _Server rows (C's columns of a backup:
	// standalone, connected, leader, no cid, index or sid).
	const serverRows = "SERVER-ROWS"
	steps := [][]string{
		{"ovsdb-server/sync-status"},
		{"ovsdb-server/get-active-ovsdb-server"},
		{"ovsdb-server/connect-active-ovsdb-server"},
		{"ovsdb-server/get-sync-exclude-tables"},
		{"ovsdb-server/set-active-ovsdb-server"},
		{"ovsdb-server/set-active-ovsdb-server", "a", "b"},
		{"ovsdb-server/set-active-ovsdb-server", active},
		{"ovsdb-server/get-active-ovsdb-server"},
		{"ovsdb-server/sync-status"},
		{"ovsdb-server/connect-active-ovsdb-server"},
		{wait},
		{serverRows},
		{"ovsdb-server/sync-status"},
		{"ovsdb-server/set-sync-exclude-tables", "OVN_Northbound:ACL,foo x:y:z ::a:b,OVN_Northbound:ACL"},
		{"ovsdb-server/get-sync-exclude-tables"},
		{wait},
		{"ovsdb-server/sync-status"},
		{"ovsdb-server/set-sync-exclude-tables", "a", "b"},
		{"ovsdb-server/set-active-ovsdb-server-probe-interval"},
		{"ovsdb-server/set-active-ovsdb-server-probe-interval", "abc"},
		{"ovsdb-server/set-active-ovsdb-server-probe-interval", "1e3"},
		{"ovsdb-server/set-active-ovsdb-server-probe-interval", ""},
		{"ovsdb-server/set-active-ovsdb-server-probe-interval", "99999999999"},
		{"ovsdb-server/set-active-ovsdb-server-probe-interval", " +2000"},
		{"ovsdb-server/set-active-ovsdb-server-probe-interval", "-5"},
		{"ovsdb-server/set-active-ovsdb-server-probe-interval", "60000"},
		{"ovsdb-server/get-active-ovsdb-server", "x"},
		{"ovsdb-server/disconnect-active-ovsdb-server"},
		{"ovsdb-server/sync-status"},
		{"ovsdb-server/get-active-ovsdb-server"},
		{"ovsdb-server/get-sync-exclude-tables"},
		{"ovsdb-server/set-sync-exclude-tables", ""},
		{"ovsdb-server/get-sync-exclude-tables"},
		{"ovsdb-server/connect-active-ovsdb-server"},
		{wait},
		{"ovsdb-server/sync-status"},
		{"ovsdb-server/set-active-ovsdb-server", nowhere},
		{"ovsdb-server/sync-status"},
		{"ovsdb-server/connect-active-ovsdb-server"},
		{"ovsdb-server/sync-status"},
		{"ovsdb-server/disconnect-active-ovsdb-server"},
		{"ovsdb-server/sync-status"},
		{"ovsdb-server/disconnect-active-ovsdb-server"},
	}
	run := func(s *abServer, step []string) result {
		switch step[0] {
		case wait:
			s.waitReplicating()
			return result{}
		case serverRows:
			return runCmd(t, testutil.RequireTool(t, "ovsdb-client"), "dump", "unix:"+s.sock, "_Server", "Database",
				"name", "model", "connected", "leader", "cid", "index", "sid")
		}
		r := s.appctl(step...)
		if step[0] == "ovsdb-server/sync-status" && r.status == 0 {
			r.stdout = stripLag(t, r.stdout)
		}
		r.stdout = strings.ReplaceAll(r.stdout, s.dir, "DIR")
		r.stderr = strings.ReplaceAll(r.stderr, s.dir, "DIR")
		return r
	}
	for i, step := range steps {
		c, g := run(cs, step), run(gs, step)
		require.Equal(t, c, g, "step %d: %s", i, strings.Join(step, " "))
	}
	// The lag lines: on a backup that has replicated, after C's lines.
	gs.appctl("ovsdb-server/set-active-ovsdb-server", active)
	gs.appctl("ovsdb-server/connect-active-ovsdb-server")
	gs.waitReplicating()
	r := gs.appctl("ovsdb-server/sync-status")
	require.Regexp(t, `^state: backup\nreplicating: unix:.*\ndatabase: OVN_Northbound\n`+lagRE.String()+`$`, r.stdout)

	// list-commands shows the commands as C does.
	cc, gc := cs.appctl("list-commands"), gs.appctl("list-commands")
	compareListCommands(t, cc.stdout, gc.stdout)
	gs.noRace()
}

// syncRestartScript runs bin with --detach --monitor as a plain server,
// makes it a backup of active with ovs-appctl (excluding a table),
// crashes the daemon, and returns what the restarted daemon reports; then
// promotes it, crashes it again and reports again. Paths read "DIR".
func syncRestartScript(t *testing.T, bin, dir, active string) []string {
	tool := testutil.RequireTool(t, "ovsdb-tool")
	db := filepath.Join(dir, "nb.db")
	r := runCmd(t, tool, "create", db, abNBSchema)
	require.Equal(t, 0, r.status, r.stderr)
	pidfile := filepath.Join(dir, "pid")
	ctl := filepath.Join(dir, "ctl")
	cmd := exec.Command(bin, "--detach", "--monitor", "--no-chdir", "--pidfile="+pidfile, "--unixctl="+ctl,
		"--log-file="+filepath.Join(dir, "log"), "--remote=punix:"+filepath.Join(dir, "db.sock"), db)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	var pids []int
	t.Cleanup(func() {
		for i := len(pids) - 1; i >= 0; i-- {
			if testutil.ProcAlive(pids[i]) {
				_ = syscall.Kill(pids[i], syscall.SIGTERM)
			}
		}
		time.Sleep(200 * time.Millisecond)
		for _, pid := range pids {
			if testutil.ProcAlive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	daemon := testutil.WaitPidfile(t, pidfile, 0)
	pids = append(pids, testutil.ProcParent(t, daemon), daemon)
	var res []string
	do := func(args ...string) {
		r := appctl(t, ctl, args...)
		out := r.stdout
		if args[0] == "ovsdb-server/sync-status" {
			out = stripLag(t, out)
		}
		res = append(res, strings.ReplaceAll(strings.Join(args, " ")+" => "+out+"|"+r.stderr, dir, "DIR"))
	}
	restart := func() {
		require.NoError(t, syscall.Kill(daemon, syscall.SIGSEGV))
		next := testutil.WaitPidfile(t, pidfile, daemon)
		pids = append(pids, next)
		daemon = next
		for deadline := time.Now().Add(20 * time.Second); appctl(t, ctl, "version").status != 0; time.Sleep(50 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "%s: restarted daemon does not answer", bin)
		}
	}
	waitFor := func(want string) {
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			r := appctl(t, ctl, "ovsdb-server/sync-status")
			if strings.Contains(r.stdout, want) {
				return
			}
			require.True(t, time.Now().Before(deadline), "%s: sync-status %q, waiting for %q", bin, r.stdout, want)
		}
	}
	do("ovsdb-server/set-active-ovsdb-server", active)
	do("ovsdb-server/set-sync-exclude-tables", abNB+":ACL")
	do("ovsdb-server/connect-active-ovsdb-server")
	waitFor("replicating")
	restart()
	waitFor("replicating")
	do("ovsdb-server/sync-status")
	do("ovsdb-server/get-active-ovsdb-server")
	do("ovsdb-server/get-sync-exclude-tables")
	do("ovsdb-server/disconnect-active-ovsdb-server")
	restart()
	do("ovsdb-server/sync-status")
	do("ovsdb-server/get-active-ovsdb-server")
	return res
}

// TestMonitorRestartKeepsSyncConfig: as C, the active server, the
// excluded tables and the role set at run time survive the restart of a
// crashed daemon by --monitor.
func TestMonitorRestartKeepsSyncConfig(t *testing.T) {
	cbin := testutil.RequireTool(t, "ovsdb-server")
	testutil.RequireTool(t, "ovs-appctl")
	ours := buildBinary(t)
	a := newABServer(t, cbin, filepath.Join(t.TempDir(), "active"))
	want := syncRestartScript(t, cbin, t.TempDir(), "unix:"+a.sock)
	got := syncRestartScript(t, ours, t.TempDir(), "unix:"+a.sock)
	require.Equal(t, want, got)
	require.Contains(t, got, "ovsdb-server/sync-status => state: active\n|")
}

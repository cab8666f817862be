package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/stretchr/testify/require"
)

const clusterTestSchema = `{"name":"C","version":"1.0.0","tables":{"T":{"columns":{"k":{"type":"string"}},"indexes":[["k"]]}}}`

// member is one ovsdb-server process of a test cluster.
type member struct {
	db, sock, ctl, log string
	addr               string // cluster address (tcp:127.0.0.1:PORT)
	cmd                *exec.Cmd
	done               chan struct{}
}

type testCluster struct {
	t       *testing.T
	dir     string
	server  string
	tool    string
	dbName  string // the clustered database (diagnose asks its cluster/status)
	members []*member
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return "tcp:" + l.Addr().String()
}

func buildTool(t *testing.T, pkg, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// newTestCluster builds our binaries and an n-member cluster with our
// ovsdb-tool (create-cluster + join-cluster), then starts every member.
func newTestCluster(t *testing.T, n int) *testCluster {
	return newTestClusterSchema(t, n, "C", clusterTestSchema)
}

// newTestClusterSchema is newTestCluster for database dbName with the
// given schema text.
func newTestClusterSchema(t *testing.T, n int, dbName, schemaText string) *testCluster {
	dir := t.TempDir()
	tc := &testCluster{t: t, dir: dir, server: buildBinary(t)}
	tool := buildTool(t, "../ovsdb-tool", "ovsdb-tool")
	tc.tool = tool
	schemaPath := filepath.Join(dir, "c.ovsschema")
	require.NoError(t, os.WriteFile(schemaPath, []byte(schemaText), 0o644))
	tc.createMembers(n, "m", schemaPath, dbName)
	return tc
}

// createMembers creates n member databases in tc.dir named PREFIXi.db
// (with sockets, unixctl sockets and logs named alike) with tc.tool:
// create-cluster for member 0, join-cluster for the others. It then starts
// every member and stops them (by PID) when the test ends.
func (tc *testCluster) createMembers(n int, prefix, schemaPath, dbName string) {
	tc.createMembersArb(n, 0, prefix, schemaPath, dbName)
}

// createMembersArb is createMembers whose last nArb members are arbiters
// (join-cluster --arbiter).
func (tc *testCluster) createMembersArb(n, nArb int, prefix, schemaPath, dbName string) {
	t := tc.t
	tc.dbName = dbName
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = freeAddr(t)
	}
	name := func(i int, ext string) string { return filepath.Join(tc.dir, fmt.Sprintf("%s%d.%s", prefix, i, ext)) }
	for i := 0; i < n; i++ {
		m := &member{addr: addrs[i], db: name(i, "db"), sock: name(i, "sock"), ctl: name(i, "ctl"), log: name(i, "log")}
		args := []string{"create-cluster", m.db, schemaPath, addrs[0]}
		if i > 0 {
			args = []string{"join-cluster", m.db, dbName, addrs[i], addrs[0]}
		}
		if i >= n-nArb {
			args = append([]string{"join-cluster", "--arbiter"}, args[1:]...)
		}
		out, err := exec.Command(tc.tool, args...).CombinedOutput()
		require.NoError(t, err, string(out))
		tc.members = append(tc.members, m)
	}
	t.Cleanup(func() {
		for _, m := range tc.members {
			tc.kill(m)
		}
	})
	tc.watchdog()
	for _, m := range tc.members {
		tc.start(m)
	}
}

func (tc *testCluster) start(m *member) {
	logf, err := os.OpenFile(m.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(tc.t, err)
	m.cmd = exec.Command(tc.server, "--remote=punix:"+m.sock, "--unixctl="+m.ctl, m.db)
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	require.NoError(tc.t, m.cmd.Start())
	m.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}, f *os.File) {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}(m.cmd, m.done, logf)
}

// kill sends SIGKILL to the member's process (ours, by PID) and waits.
func (tc *testCluster) kill(m *member) {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		tc.t.Errorf("member %s did not exit", m.db)
	}
	m.cmd = nil
}

// call is testutil.RPCOnce.
var call = testutil.RPCOnce

func (tc *testCluster) appctl(m *member, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	params := make([]any, len(args)-1)
	for i, a := range args[1:] {
		params[i] = a
	}
	r, err := call(ctx, m.ctl, args[0], params...)
	if err != nil {
		// unixctl ends error texts with a newline, as C does.
		return "", fmt.Errorf("%s", strings.TrimSuffix(err.Error(), "\n"))
	}
	s, _ := r.(string)
	return s, nil
}

// insert adds key k through member m; it reports whether the insert was
// acknowledged without error.
func insert(m *member, k string) bool { return insertErr(m, k) == nil }

// insertErr adds key k through member m; it fails with the member's
// answer (or the connection's error) unless the insert was acknowledged.
func insertErr(m *member, k string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := call(ctx, m.sock, "transact", "C", map[string]any{"op": "insert", "table": "T", "row": map[string]any{"k": k}})
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(m.db), err)
	}
	res, _ := r.([]any)
	if len(res) == 1 {
		if obj, _ := res[0].(map[string]any); obj["uuid"] != nil && obj["error"] == nil {
			return nil
		}
	}
	return fmt.Errorf("%s: reply %v", filepath.Base(m.db), r)
}

// keys returns the count of each key in member m's table T.
func keys(m *member) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := call(ctx, m.sock, "transact", "C", map[string]any{"op": "select", "table": "T", "where": []any{}, "columns": []any{"k"}})
	if err != nil {
		return nil, err
	}
	res, _ := r.([]any)
	if len(res) != 1 {
		return nil, fmt.Errorf("bad reply %v", r)
	}
	rows, _ := res[0].(map[string]any)["rows"].([]any)
	out := map[string]int{}
	for _, row := range rows {
		k, _ := row.(map[string]any)["k"].(string)
		out[k]++
	}
	return out, nil
}

// waitFor polls cond (bounded) until it holds; on time out it fails the
// test naming what it waited for, with the outputs of diag (testCluster's
// waitFor gives the members' states).
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool, diag ...func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, d := range diag {
				b.WriteString("\n")
				b.WriteString(d())
			}
			t.Fatalf("timed out after %v waiting for %s%s", limit, what, b.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var roleRE = regexp.MustCompile(`(?m)^Role: (\w+)$`)

func (tc *testCluster) role(m *member) string {
	s, err := tc.appctl(m, "cluster/status", "C")
	if err != nil {
		return ""
	}
	if r := roleRE.FindStringSubmatch(s); r != nil {
		return r[1]
	}
	return ""
}

func (tc *testCluster) leader(live []*member) *member {
	for _, m := range live {
		if tc.role(m) == "leader" {
			return m
		}
	}
	return nil
}

// writeKeys inserts n keys named prefix-i through the members in turn,
// retrying each (with the same key) on another member until acknowledged,
// at most 20 times; it fails naming the key and the last answers.
func writeKeys(via []*member, prefix string, n int, acked *sync.Map) error {
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("%s-%d", prefix, i)
		var errs []string
		ok := false
		for try := 0; try < 20 && !ok; try++ {
			err := insertErr(via[(i+try)%len(via)], k)
			if ok = err == nil; !ok {
				errs = append(errs, err.Error())
			}
		}
		if !ok {
			return fmt.Errorf("insert %s never acknowledged in 20 tries; last answers: %s", k, strings.Join(errs[max(0, len(errs)-3):], " | "))
		}
		acked.Store(k, true)
	}
	return nil
}

// writeAll is writeKeys failing the test with the members' states.
func (tc *testCluster) writeAll(via []*member, prefix string, n int, acked *sync.Map) {
	tc.t.Helper()
	if err := writeKeys(via, prefix, n, acked); err != nil {
		tc.t.Fatalf("writing %s keys: %v\n%s", prefix, err, tc.diagnose())
	}
}

func TestProcessCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	tc := newTestCluster(t, 3)
	all := tc.members
	tc.waitFor("3 members joined", 30*time.Second, func() bool {
		for _, m := range all {
			s, err := tc.appctl(m, "cluster/status", "C")
			if err != nil || !strings.Contains(s, "Status: cluster member") || strings.Count(s, " at tcp:") != 3 {
				return false
			}
		}
		return true
	})
	var acked sync.Map

	// Transactions through every member, concurrently.
	var wg sync.WaitGroup
	errs := make(chan error, len(all))
	for i, m := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := writeKeys([]*member{m}, fmt.Sprintf("w%d", i), 20, &acked); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait() // bounded: each insert times out after 15 s, at most 20 tries per key
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent writes: %v\n%s", err, tc.diagnose())
	}

	// Leader kill -9, writes through the others, restart.
	ldr := tc.waitLeader(all)
	tc.kill(ldr)
	var rest []*member
	for _, m := range all {
		if m != ldr {
			rest = append(rest, m)
		}
	}
	tc.writeAll(rest, "after-leader-kill", 20, &acked)
	tc.start(ldr)
	tc.writeAll(all, "after-leader-restart", 10, &acked)

	// Follower kill, writes, restart.
	ldr = nil
	tc.waitFor("a leader", 20*time.Second, func() bool { ldr = tc.leader(all); return ldr != nil })
	var fol *member
	for _, m := range all {
		if m != ldr {
			fol = m
			break
		}
	}
	tc.kill(fol)
	tc.writeAll([]*member{ldr}, "after-follower-kill", 10, &acked)
	tc.start(fol)
	tc.writeAll(all, "after-follower-restart", 10, &acked)

	// Every acknowledged key on every member exactly once.
	var want []string
	acked.Range(func(k, _ any) bool { want = append(want, k.(string)); return true })
	require.Len(t, want, 3*20+20+10+10+10)
	for _, m := range all {
		tc.waitFor("member "+m.db+" caught up", 30*time.Second, func() bool {
			got, err := keys(m)
			if err != nil {
				return false
			}
			for _, k := range want {
				if got[k] != 1 {
					return false
				}
			}
			return true
		})
		got, err := keys(m)
		require.NoError(t, err, "keys on %s\n%s", m.db, tc.diagnose())
		for k, n := range got {
			require.Equal(t, 1, n, "key %s on %s", k, m.db)
		}
	}

	// cluster/status in C's layout, on the leader and a follower.
	tc.waitFor("a leader", 20*time.Second, func() bool { ldr = tc.leader(all); return ldr != nil })
	for _, m := range all {
		s, err := tc.appctl(m, "cluster/status", "C")
		require.NoError(t, err)
		checkStatusLayout(t, s, tc.role(m))
	}

	// _Server.Database rows: clustered, connected, one leader, same cid.
	tc.waitFor("_Server rows settled", 20*time.Second, func() bool {
		leaders, cids := 0, map[string]bool{}
		for _, m := range all {
			row := serverRow(t, m)
			if row == nil || row["model"] != "clustered" || row["connected"] != true {
				return false
			}
			if row["leader"] == true {
				leaders++
			}
			cid, _ := row["cid"].([]any)
			if len(cid) != 2 || cid[0] != "uuid" {
				return false
			}
			cids[cid[1].(string)] = true
			sid, _ := row["sid"].([]any)
			want, err := tc.appctl(m, "cluster/sid", "C")
			if err != nil || len(sid) != 2 || sid[1] != strings.TrimSpace(want) {
				return false
			}
			if idx, _ := row["index"].(json.Number); idx == "" || idx == "0" {
				return false
			}
		}
		return leaders == 1 && len(cids) == 1
	})

	// The other cluster commands.
	sid, err := tc.appctl(ldr, "cluster/sid", "C")
	require.NoError(t, err)
	require.Regexp(t, `^[0-9a-f-]{36}\n$`, sid)
	_, err = tc.appctl(ldr, "cluster/cid", "nope")
	require.EqualError(t, err, "unknown cluster")
	for _, tt := range []struct{ arg, reply, err string }{
		{"99", "", "election timer must be between 100 and 600000, in msec."},
		{"5000", "", "election timer increase should not exceed the current value x 2."},
		{"1000", "change election timer to current value.\n", ""},
		{"2000", "change of election timer initiated.\n", ""},
	} {
		r, err := tc.appctl(ldr, "cluster/change-election-timer", "C", tt.arg)
		if tt.err != "" {
			require.EqualError(t, err, tt.err)
		} else {
			require.NoError(t, err)
			require.Equal(t, tt.reply, r)
		}
	}
	for _, m := range all {
		if m != ldr {
			_, err := tc.appctl(m, "cluster/change-election-timer", "C", "2000")
			require.EqualError(t, err, "election timer must be changed through leader.")
		}
	}
	mem, err := tc.appctl(ldr, "memory/show")
	require.NoError(t, err)
	// C omits zero figures (raft-backlog-kB is always 0 here).
	require.Regexp(t, `raft-connections:2 raft-log:\d+`, mem)
	require.NotContains(t, mem, "raft-backlog-kB:0")

	// cluster/kick of a follower by its sid from the leader; the two
	// remaining members keep accepting writes.
	var victim *member
	for _, m := range all {
		if m != ldr {
			victim = m
			break
		}
	}
	vsid, err := tc.appctl(victim, "cluster/sid", "C")
	require.NoError(t, err)
	_, err = tc.appctl(ldr, "cluster/kick", "C", "zzzz")
	require.EqualError(t, err, "unknown server")
	r, err := tc.appctl(ldr, "cluster/kick", "C", strings.TrimSpace(vsid))
	require.NoError(t, err)
	require.Equal(t, "started removal\n", r)
	tc.waitFor("two servers left", 20*time.Second, func() bool {
		s, err := tc.appctl(ldr, "cluster/status", "C")
		return err == nil && strings.Count(s, " at tcp:") == 2
	})
	var remaining []*member
	for _, m := range all {
		if m != victim {
			remaining = append(remaining, m)
		}
	}
	tc.writeAll(remaining, "after-kick", 5, &acked)

	// The kicked member knows it left, before and after a restart with
	// its old file: "left cluster", _Server row disconnected, no writes.
	checkLeft := func() {
		tc.waitFor("kicked member reports left", 20*time.Second, func() bool {
			s, err := tc.appctl(victim, "cluster/status", "C")
			return err == nil && strings.Contains(s, "Status: left cluster\n")
		})
		tc.waitFor("kicked member's _Server row disconnected", 10*time.Second, func() bool {
			row := serverRow(t, victim)
			return row != nil && row["connected"] == false && row["leader"] == false
		})
		require.False(t, insert(victim, "on-kicked"), "a member that left must refuse writes")
	}
	checkLeft()
	tc.kill(victim)
	tc.start(victim)
	checkLeft()
	tc.writeAll(remaining, "after-kick-restart", 5, &acked)
	s, err := tc.appctl(ldr, "cluster/status", "C")
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(s, " at tcp:"), "kicked member must not be re-added")
}

// checkStatusLayout parses cluster/status against C's lines and fields.
func checkStatusLayout(t *testing.T, s, role string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	sidNick := `[0-9a-f]{4}`
	uuid := `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
	head := []string{
		`^` + sidNick + `$`,
		`^Name: C$`,
		`^Cluster ID: ` + sidNick + ` \(` + uuid + `\)$`,
		`^Server ID: ` + sidNick + ` \(` + uuid + `\)$`,
		`^Address: tcp:127\.0\.0\.1:\d+$`,
		`^Status: cluster member$`,
		`^Role: ` + role + `$`,
		`^Term: \d+$`,
		`^Leader: (self|unknown|` + sidNick + `)$`,
		`^Vote: (self|unknown|` + sidNick + `)$`,
		`^$`,
	}
	require.Greater(t, len(lines), len(head)+8, s)
	for i, re := range head {
		require.Regexp(t, re, lines[i], s)
	}
	rest := lines[len(head):]
	for len(rest) > 0 && strings.HasPrefix(rest[0], "Last Election") {
		require.Regexp(t, `^Last Election (started \d+ ms ago, reason: (timeout|leadership_transfer)|won: \d+ ms ago)$`, rest[0])
		rest = rest[1:]
	}
	tail := []string{
		`^Election timer: \d+$`,
		`^Log: \[\d+, \d+\]$`,
		`^Entries not yet committed: \d+$`,
		`^Entries not yet applied: \d+$`,
		`^Connections:( \(?(<-|->)` + sidNick + `\)?)*$`,
		`^Disconnections: \d+$`,
		`^Servers:$`,
	}
	for i, re := range tail {
		require.Regexp(t, re, rest[i], s)
	}
	servers := rest[len(tail):]
	require.Len(t, servers, 3, s)
	self := 0
	for _, l := range servers {
		require.Regexp(t, `^    `+sidNick+` \(`+sidNick+` at tcp:127\.0\.0\.1:\d+\)( \(self\))?( next_index=\d+ match_index=\d+)?( last msg \d+ ms ago)?$`, l)
		if strings.Contains(l, "(self)") {
			self++
		}
	}
	require.Equal(t, 1, self)
}

// serverRow returns member m's _Server.Database row for database C.
func serverRow(t *testing.T, m *member) map[string]any {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := call(ctx, m.sock, "transact", "_Server", map[string]any{"op": "select", "table": "Database",
		"where": []any{[]any{"name", "==", "C"}}})
	if err != nil {
		return nil
	}
	res, _ := r.([]any)
	if len(res) != 1 {
		return nil
	}
	rows, _ := res[0].(map[string]any)["rows"].([]any)
	if len(rows) != 1 {
		return nil
	}
	row, _ := rows[0].(map[string]any)
	return row
}

package main

// Online conversion of a clustered database across processes (issue 11,
// item 4): OVN's upgrade path (ovs-lib's upgrade_cluster) on a 3-member
// cluster, what monitors see on every member, a conversion requested on a
// follower while a member is down, the requester killed right after, and
// the member that was down catching up. And compact's error on a cluster
// member with nothing new to snapshot, compared with C's.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

// nbSchemaPath (the installed OVN NB schema) is status_cluster_test.go's.
const (
	ovsLibPath = "/usr/share/openvswitch/scripts/ovs-lib"
	nbName     = "OVN_Northbound"
)

// nbSchemas writes into dir the installed OVN NB schema made older (major
// version lowered, table Chassis_Template_Var and column
// Logical_Switch.copp removed) and one newer than the installed one
// (patch version raised, column Logical_Switch.test_extra added). It
// returns their paths and the three versions (old, installed, newer).
func nbSchemas(t *testing.T, dir string) (oldPath, newerPath string, versions [3]string) {
	b, err := os.ReadFile(nbSchemaPath)
	require.NoError(t, err)
	load := func() map[string]any {
		var s map[string]any
		require.NoError(t, json.Unmarshal(b, &s))
		delete(s, "cksum")
		return s
	}
	version := func(s map[string]any, f func(v []int)) string {
		parts := strings.Split(s["version"].(string), ".")
		require.Len(t, parts, 3)
		v := make([]int, 3)
		for i, p := range parts {
			v[i], err = strconv.Atoi(p)
			require.NoError(t, err)
		}
		f(v)
		s["version"] = fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
		return s["version"].(string)
	}
	write := func(name string, s map[string]any) string {
		p := filepath.Join(dir, name)
		out, err := json.MarshalIndent(s, "", " ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, out, 0o644))
		return p
	}
	installed := load()
	versions[1] = installed["version"].(string)

	old := load()
	versions[0] = version(old, func(v []int) {
		require.Greater(t, v[0], 0)
		v[0]--
	})
	tables := old["tables"].(map[string]any)
	require.Contains(t, tables, "Chassis_Template_Var", "the installed NB schema has the table the old one lacks")
	delete(tables, "Chassis_Template_Var")
	lsCols := tables["Logical_Switch"].(map[string]any)["columns"].(map[string]any)
	require.Contains(t, lsCols, "copp")
	delete(lsCols, "copp")
	oldPath = write("nb-old.ovsschema", old)

	newer := load()
	versions[2] = version(newer, func(v []int) { v[2]++ })
	newer["tables"].(map[string]any)["Logical_Switch"].(map[string]any)["columns"].(map[string]any)["test_extra"] =
		map[string]any{"type": map[string]any{"key": "string", "min": 0, "max": 1}}
	newerPath = write("nb-newer.ovsschema", newer)
	return oldPath, newerPath, versions
}

// clusterRole is member m's Role in cluster/status of tc's database ("" if
// it does not answer).
func (tc *testCluster) clusterRole(m *member) string {
	s, err := tc.appctl(m, "cluster/status", tc.dbName)
	if err != nil {
		return ""
	}
	if r := roleRE.FindStringSubmatch(s); r != nil {
		return r[1]
	}
	return ""
}

// waitJoined waits until every member of ms serves its client socket and
// is a cluster member (a one-member cluster elects itself at once, so a
// leader exists before the others have joined).
func (tc *testCluster) waitJoined(ms []*member) {
	tc.waitFor("every member to join", time.Minute, func() bool {
		for _, m := range ms {
			if _, err := os.Stat(m.sock); err != nil {
				return false
			}
			s, err := tc.appctl(m, "cluster/status", tc.dbName)
			if err != nil || !strings.Contains(s, "Status: cluster member") {
				return false
			}
		}
		return true
	})
}

// nbLeader waits for a leader among live (of tc's database) and returns
// it.
func (tc *testCluster) nbLeader(live []*member) *member {
	var l *member
	tc.waitFor("a leader", time.Minute, func() bool {
		for _, m := range live {
			if tc.clusterRole(m) == "leader" {
				l = m
				return true
			}
		}
		return false
	})
	return l
}

// nbctl runs C's ovn-nbctl on member m alone (--no-leader-only: writes
// through a follower are forwarded to the leader).
func nbctl(t *testing.T, m *member, args ...string) result {
	t.Helper()
	return runCmd(t, testutil.RequireTool(t, "ovn-nbctl"),
		append([]string{"--no-leader-only", "--timeout=30", "--db=unix:" + m.sock}, args...)...)
}

// ovsdbClient runs C's ovsdb-client with args.
func ovsdbClient(t *testing.T, args ...string) result {
	t.Helper()
	return runCmd(t, testutil.RequireTool(t, "ovsdb-client"), args...)
}

// schemaVersion is the version of the NB schema member m serves ("" if
// it does not answer).
func schemaVersion(t *testing.T, m *member) string {
	r := ovsdbClient(t, "--no-leader-only", "-t", "10", "get-schema-version", "unix:"+m.sock, nbName)
	if r.status != 0 {
		return ""
	}
	return strings.TrimSpace(r.stdout)
}

// dbServerSchema is the schema text in member m's _Server.Database row of
// the NB database.
func dbServerSchema(t *testing.T, m *member) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := call(ctx, m.sock, "transact", "_Server", map[string]any{"op": "select", "table": "Database",
		"where": []any{[]any{"name", "==", nbName}}, "columns": []any{"schema"}})
	if err != nil {
		return ""
	}
	res, _ := r.([]any)
	if len(res) != 1 {
		return ""
	}
	rows, _ := res[0].(map[string]any)["rows"].([]any)
	if len(rows) != 1 {
		return ""
	}
	s, _ := rows[0].(map[string]any)["schema"].(string)
	return s
}

// nbDump is ovsdb-client's dump of member m's NB database (every table,
// _uuid included), for comparing members.
func nbDump(t *testing.T, m *member) string {
	r := ovsdbClient(t, "--no-leader-only", "-t", "10", "dump", "unix:"+m.sock, nbName)
	if r.status != 0 {
		return "error: " + r.stderr
	}
	return r.stdout
}

// watcher is one JSON-RPC session on a member monitoring
// Logical_Switch names, db-change-aware or not.
type watcher struct {
	name  string
	aware bool
	c     *client
	seen  []string
}

func newWatcher(t *testing.T, m *member, name string, aware bool) *watcher {
	w := &watcher{name: name, aware: aware, c: dialClient(t, m.sock)}
	if aware {
		r := w.c.call("set_db_change_aware", true)
		require.Contains(t, r[len(r)-1], `"result":{}`, "%s: %v", name, r)
	}
	r := w.c.call("monitor_cond", nbName, "ls", map[string]any{"Logical_Switch": []any{map[string]any{"columns": []any{"name"}}}})
	require.Contains(t, strings.Join(r, "\n"), `"<sw0>"`, "%s: initial rows: %v", name, r)
	return w
}

// await collects what arrives until a message contains want (bounded).
func (w *watcher) await(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		w.seen = append(w.seen, w.c.drain(200*time.Millisecond)...)
		for _, m := range w.seen {
			if strings.Contains(m, want) {
				return
			}
		}
		if len(w.seen) > 0 && w.seen[len(w.seen)-1] == "EOF" {
			break
		}
	}
	t.Fatalf("%s: waited for %q, got %v", w.name, want, w.seen)
}

// TestConvertClusterOVNUpgrade is the acceptance test: a 3-member
// cluster created on an older OVN NB schema, with data, is upgraded online
// by ovs-lib's upgrade_cluster (ovsdb-client needs-conversion/convert) to
// the installed schema. On every member: the converted schema is served
// (get-schema-version, the _Server row), ovn-nbctl reads the old data and
// writes, new tables included, a db-change-aware monitor got
// "monitor_canceled" and kept its connection, an unaware one was
// disconnected (as C, checked against C 3.1 by hand: the same on every
// member). Then a conversion requested on a follower while a member is
// down: the requester killed and restarted at once serves it, the member
// that was down catches up (after a compaction), all members hold the same
// data, and every file's metadata records the new schema.
func TestConvertClusterOVNUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	for _, tool := range []string{"ovn-nbctl", "ovsdb-client", "bash"} {
		testutil.RequireTool(t, tool)
	}
	if _, err := os.Stat(ovsLibPath); err != nil {
		testutil.MissingPrerequisite(t, "%s not installed", ovsLibPath)
	}
	if _, err := os.Stat(nbSchemaPath); err != nil {
		testutil.MissingPrerequisite(t, "%s not installed", nbSchemaPath)
	}
	schemaDir := t.TempDir()
	oldPath, newerPath, versions := nbSchemas(t, schemaDir)
	oldText, err := os.ReadFile(oldPath)
	require.NoError(t, err)
	tc := newTestClusterSchema(t, 3, nbName, string(oldText))
	all := tc.members
	tc.waitFor("every member serving the old schema", time.Minute, func() bool {
		for _, m := range all {
			if schemaVersion(t, m) != versions[0] {
				return false
			}
		}
		return true
	})
	leader := tc.nbLeader(all)
	// As ovs-lib does before it converts: every member connected.
	for _, m := range all {
		r := ovsdbClient(t, "-t", "30", "wait", "unix:"+m.sock, nbName, "connected")
		require.Equal(t, 0, r.status, r.stderr)
	}

	// Data on the old schema, through the leader (as ovn-ctl's init does
	// on the member that created the cluster).
	for _, args := range [][]string{
		{"init"},
		{"ls-add", "sw0"},
		{"lsp-add", "sw0", "sw0-p1", "--", "lsp-set-addresses", "sw0-p1", "00:00:00:00:00:01 10.0.0.1"},
		{"lr-add", "lr0"},
		{"lrp-add", "lr0", "lr0-sw0", "00:00:00:00:ff:01", "10.0.0.254/24"},
		{"acl-add", "sw0", "to-lport", "1000", "ip4.src == 10.0.0.1", "allow"},
	} {
		r := nbctl(t, leader, args...)
		require.Equal(t, 0, r.status, "ovn-nbctl %v: %s", args, r.stderr)
	}
	tc.waitFor("the data on every member", time.Minute, func() bool {
		for _, m := range all {
			if r := nbctl(t, m, "show"); !strings.Contains(r.stdout, "sw0-p1") {
				return false
			}
		}
		return true
	})

	var watchers []*watcher
	for i, m := range all {
		watchers = append(watchers, newWatcher(t, m, fmt.Sprintf("member %d aware", i), true),
			newWatcher(t, m, fmt.Sprintf("member %d unaware", i), false))
	}

	// OVN's upgrade path, unchanged: ovs-lib's upgrade_cluster with our
	// ovsdb-tool and ovsdb-server first on PATH, on the local socket of
	// the member that leads (ovn-ctl runs it on the member that created
	// the cluster, which leads after its first start).
	binDir := t.TempDir()
	require.NoError(t, os.Symlink(tc.server, filepath.Join(binDir, "ovsdb-server")))
	require.NoError(t, os.Symlink(tc.tool, filepath.Join(binDir, "ovsdb-tool")))
	leader = tc.nbLeader(all)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	up := exec.CommandContext(ctx, "bash", "-c", `. "$1" && upgrade_cluster "$2" "$3"`, "upgrade",
		ovsLibPath, nbSchemaPath, "unix:"+leader.sock)
	up.Env = append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"))
	out, err := up.CombinedOutput()
	require.NoError(t, err, "upgrade_cluster: %s\n%s", out, tc.diagnose())
	require.Contains(t, string(out), "Upgrading database "+nbName+" from schema version "+versions[0]+" to "+versions[1])

	for i, m := range all {
		tc.waitFor(fmt.Sprintf("member %d serving schema %s", i, versions[1]), time.Minute, func() bool {
			return schemaVersion(t, m) == versions[1] &&
				strings.Contains(dbServerSchema(t, m), `"version":"`+versions[1]+`"`)
		})
	}
	for _, w := range watchers {
		if w.aware {
			w.await(t, `"method":"monitor_canceled","params":["ls"]`)
			require.NotContains(t, w.seen, "EOF", w.name)
			// Still connected, and monitors the converted database.
			r := w.c.call("monitor_cond", nbName, "ls2", map[string]any{
				"Chassis_Template_Var": []any{map[string]any{"columns": []any{"chassis"}}}})
			require.Contains(t, r[len(r)-1], `"result":{}`, "%s: %v", w.name, r)
		} else {
			w.await(t, "EOF")
			for _, m := range w.seen {
				require.NotContains(t, m, "monitor_canceled", w.name)
			}
		}
	}
	for i, m := range all {
		r := nbctl(t, m, "show")
		require.Equal(t, 0, r.status, r.stderr)
		for _, want := range []string{"sw0", "sw0-p1", "10.0.0.1", "lr0", "lr0-sw0"} {
			require.Contains(t, r.stdout, want, "member %d", i)
		}
		r = nbctl(t, m, "acl-list", "sw0")
		require.Contains(t, r.stdout, "ip4.src == 10.0.0.1", "member %d: %s", i, r.stderr)
		// Writes through every member, to the table the old schema lacked
		// and the column it lacked.
		r = nbctl(t, m, "ls-add", fmt.Sprintf("sw-m%d", i), "--", "create", "Chassis_Template_Var", fmt.Sprintf("chassis=hv%d", i))
		require.Equal(t, 0, r.status, "member %d: %s", i, r.stderr)
		r = ovsdbClient(t, "--no-leader-only", "needs-conversion", "unix:"+m.sock, nbSchemaPath)
		require.Equal(t, "no\n", r.stdout, "member %d: %s", i, r.stderr)
	}
	tc.waitFor("every member's writes on every member", time.Minute, func() bool {
		for _, m := range all {
			r := nbctl(t, m, "--bare", "--columns=chassis", "list", "Chassis_Template_Var")
			if strings.Count(r.stdout, "hv") != 3 {
				return false
			}
		}
		return true
	})
	// The monitors made after the conversion see those writes.
	for _, w := range watchers {
		if w.aware {
			for i := range all {
				w.await(t, fmt.Sprintf(`"chassis":"hv%d"`, i))
			}
		}
	}

	// A member down during a conversion requested on a follower.
	leader = tc.nbLeader(all)
	var down, follower *member
	for _, m := range all {
		if m != leader {
			if down == nil {
				down = m
			} else {
				follower = m
			}
		}
	}
	tc.kill(down)
	live := []*member{leader, follower}
	aware := newWatcher(t, leader, "leader aware", true)
	r := ovsdbClient(t, "--no-leader-only", "-t", "60", "convert", "unix:"+follower.sock, newerPath)
	require.Equal(t, 0, r.status, "convert through a follower: %s\n%s", r.stderr, tc.diagnose())
	require.Equal(t, versions[2], schemaVersion(t, follower), "the requester serves the converted schema once it answered")
	aware.await(t, "monitor_canceled")
	// The requester restarted at once serves what it applied.
	tc.kill(follower)
	tc.start(follower)
	tc.waitFor("the restarted requester serving the newer schema", time.Minute, func() bool {
		return schemaVersion(t, follower) == versions[2]
	})
	leader = tc.nbLeader(live)
	r = nbctl(t, leader, "ls-add", "sw-after")
	require.Equal(t, 0, r.status, r.stderr)
	r = ovsdbClient(t, "--no-leader-only", "transact", "unix:"+leader.sock,
		`["`+nbName+`",{"op":"update","table":"Logical_Switch","where":[["name","==","sw0"]],"row":{"test_extra":"kept"}}]`)
	require.Equal(t, 0, r.status, r.stderr)
	require.Contains(t, r.stdout, `"count":1`)
	_, err = tc.appctl(leader, "ovsdb-server/compact", nbName)
	require.NoError(t, err)
	// The member that was down catches up and serves the converted
	// schema and all the data.
	tc.start(down)
	tc.waitFor("the member that was down serving the newer schema and the data", time.Minute, func() bool {
		if schemaVersion(t, down) != versions[2] {
			return false
		}
		r := nbctl(t, down, "show")
		return strings.Contains(r.stdout, "sw-after") && strings.Contains(r.stdout, "sw-m2")
	})
	r = ovsdbClient(t, "--no-leader-only", "query", "unix:"+down.sock,
		`["`+nbName+`",{"op":"select","table":"Logical_Switch","where":[["name","==","sw0"]],"columns":["test_extra"]}]`)
	require.Contains(t, r.stdout, `"test_extra":"kept"`, r.stderr)
	var dumps []string
	tc.waitFor("identical data on every member", time.Minute, func() bool {
		dumps = dumps[:0]
		for _, m := range all {
			dumps = append(dumps, nbDump(t, m))
		}
		return dumps[0] == dumps[1] && dumps[1] == dumps[2]
	})
	require.Contains(t, dumps[0], "test_extra")
	r = nbctl(t, down, "ls-add", "sw-last")
	require.Equal(t, 0, r.status, r.stderr)

	// Every file's metadata records the newer schema.
	for i, m := range all {
		tc.kill(m)
		st, err := raftstore.Open(m.db)
		require.NoError(t, err)
		meta := st.Meta()
		require.NoError(t, st.Close())
		require.Contains(t, string(meta.Schema), `"version":"`+versions[2]+`"`, "member %d", i)
		require.Contains(t, string(meta.Schema), `"test_extra"`, "member %d", i)
	}
	noRaces(t, all)
}

// noRaces fails the test if a member's log holds a race detector report
// (members built with -race: GOFLAGS=-race go test -race ...).
func noRaces(t *testing.T, ms []*member) {
	for i, m := range ms {
		b, err := os.ReadFile(m.log)
		require.NoError(t, err)
		if j := strings.Index(string(b), "WARNING: DATA RACE"); j >= 0 {
			t.Errorf("member %d: %s", i, string(b[j:min(len(b), j+6000)]))
		}
	}
}

// TestConvertClusterErrors: conversions that cannot be done fail with C's
// errors on a follower and on the leader (name mismatch, a constraint the
// data breaks: compared with C 3.1 by hand on a 3-member C cluster), and
// nothing changes; a schema with ephemeral columns sent as is (ovsdb-client
// makes them persistent first) is refused with C's check's text. Then a
// conversion that keeps the schema's version: as C (its update_schema
// disconnects only when the version changed), sessions that are not
// db-change-aware stay connected on every member, without their monitors,
// while db-change-aware ones get "monitor_canceled".
func TestConvertClusterErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	const schema1 = `{"name":"C","version":"1.0.0","tables":{"T":{"columns":{"k":{"type":"string"}}}}}`
	tc := newTestClusterSchema(t, 3, "C", schema1)
	tc.waitJoined(tc.members)
	leader := tc.nbLeader(tc.members)
	for i := 0; i < 3; i++ {
		require.NoError(t, insertErr(leader, fmt.Sprintf("k%d", i)))
	}
	parse := func(s string) any {
		var v any
		require.NoError(t, json.Unmarshal([]byte(s), &v))
		return v
	}
	for _, m := range tc.members {
		c := dialClient(t, m.sock)
		c.call("set_db_change_aware", true)
		for _, tcase := range []struct{ schema, want string }{
			{strings.Replace(schema1, `"name":"C"`, `"name":"D"`, 1),
				`"error":{"details":"new schema name (D) does not match database name (C)","error":"invalid parameters"}`},
			{strings.Replace(schema1, `"columns"`, `"maxRows":1,"columns"`, 1),
				`"error":{"details":"transaction causes \"T\" table to contain 3 rows, greater than the schema-defined limit of 1 row(s)","error":"constraint violation"}`},
			{strings.Replace(schema1, `{"type":"string"}`, `{"type":"string","ephemeral":true}`, 1),
				`"error":{"details":"Table T column k is ephemeral but clustered databases do not support ephemeral columns.","error":"syntax error"}`},
		} {
			r := c.call("convert", "C", parse(tcase.schema))
			require.Contains(t, r[len(r)-1], tcase.want)
		}
		v := c.call("get_schema", "C")
		require.Contains(t, v[len(v)-1], `"version":"1.0.0"`)
	}
	for _, m := range tc.members {
		ks, err := keys(m)
		require.NoError(t, err)
		require.Len(t, ks, 3)
	}

	mon := map[string]any{"T": []any{map[string]any{"columns": []any{"k"}}}}
	var aware, unaware []*client
	for _, m := range tc.members {
		a, u := dialClient(t, m.sock), dialClient(t, m.sock)
		a.call("set_db_change_aware", true)
		a.call("monitor_cond", "C", "t", mon)
		u.call("monitor_cond", "C", "t", mon)
		aware, unaware = append(aware, a), append(unaware, u)
	}
	same := strings.Replace(schema1, `"columns":{`, `"columns":{"extra":{"type":"integer"},`, 1)
	req := dialClient(t, tc.members[1].sock)
	req.call("set_db_change_aware", true)
	r := req.call("convert", "C", parse(same))
	require.Contains(t, r[len(r)-1], `"result":{}`)
	for i := range tc.members {
		var seen []string
		waitFor(t, fmt.Sprintf("member %d: monitor_canceled", i), 30*time.Second, func() bool {
			seen = append(seen, aware[i].drain(100*time.Millisecond)...)
			return strings.Contains(strings.Join(seen, "\n"), `"method":"monitor_canceled","params":["t"]`)
		})
		// The unaware session is still connected and its monitor is gone.
		r := unaware[i].call("monitor_cancel", "t")
		require.NotContains(t, r, "EOF", "member %d", i)
		require.Contains(t, r[len(r)-1], `"error":"unknown monitor"`, "member %d: %v", i, r)
		r = unaware[i].call("get_schema", "C")
		require.Contains(t, r[len(r)-1], `"extra"`, "member %d", i)
	}
	noRaces(t, tc.members)
}

var ctlPathRE = regexp.MustCompile(`/\S+/ctl\b`)

// TestCompactClusterDifferential: ovsdb-server/compact on a one-member
// cluster, C's and ours, in the same order: compact, compact again with
// nothing new ("ovsdb error: not storing a duplicate snapshot", ovs-appctl
// exit status 2), a write, compact, compact again. Exit statuses and texts
// are C's.
func TestCompactClusterDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	cTool := testutil.RequireTool(t, "ovsdb-tool")
	cServer := testutil.RequireTool(t, "ovsdb-server")
	appctlBin := testutil.RequireTool(t, "ovs-appctl")
	ours := buildBinary(t)
	ourTool := buildTool(t, "../ovsdb-tool", "ovsdb-tool")
	run := func(tool, server string) []string {
		dir := t.TempDir()
		schemaPath := filepath.Join(dir, "c.ovsschema")
		require.NoError(t, os.WriteFile(schemaPath, []byte(clusterTestSchema), 0o644))
		db, sock, ctl := filepath.Join(dir, "db"), filepath.Join(dir, "sock"), filepath.Join(dir, "ctl")
		r := runCmd(t, tool, "create-cluster", db, schemaPath, "unix:"+filepath.Join(dir, "raft"))
		require.Equal(t, 0, r.status, r.stderr)
		cmd := exec.Command(server, "--remote=punix:"+sock, "--unixctl="+ctl, "--log-file="+filepath.Join(dir, "log"),
			"-vconsole:off", db)
		cmd.Dir = dir
		done := startStopped(t, cmd)
		m := &member{sock: sock, ctl: ctl, db: db, log: filepath.Join(dir, "log")}
		waitFor(t, "a leader", time.Minute, func() bool {
			r, err := call(context.Background(), ctl, "cluster/status", "C")
			s, _ := r.(string)
			return err == nil && strings.Contains(s, "Role: leader")
		})
		var got []string
		compact := func() {
			r := runCmd(t, appctlBin, "-t", ctl, "ovsdb-server/compact", "C")
			got = append(got, fmt.Sprintf("status %d stdout %q stderr %q", r.status, r.stdout, ctlPathRE.ReplaceAllString(r.stderr, "CTL")))
		}
		compact()
		compact()
		require.NoError(t, insertErr(m, "a"))
		compact()
		compact()
		_ = cmd.Process.Kill()
		<-done
		return got
	}
	want := run(cTool, cServer)
	got := run(ourTool, ours)
	require.Equal(t, want, got)
	require.Contains(t, got[1], "ovsdb error: not storing a duplicate snapshot")
	require.Contains(t, got[1], "status 2")
}

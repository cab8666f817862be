package activebackup

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/server"
	"github.com/stretchr/testify/require"
)

func TestExclusions(t *testing.T) {
	// The forms C 3.1 was seen to accept and print (glibc's strtok_r).
	for _, tc := range []struct{ in, out string }{
		{"", ""},
		{"OVN_Northbound:ACL", "OVN_Northbound:ACL"},
		{"foo,OVN_Northbound:ACL,x:y:z", "OVN_Northbound:ACL,foo:,x:y:z"},
		{"OVN_Northbound:ACL, OVN_Northbound:ACL ::a:b", "::a:b,OVN_Northbound:ACL"},
		// Only colons: the database is the whole name, the table empty.
		{":::", "::::"},
		{" , ,", ""},
		{"a:", "a:"},
	} {
		require.Equal(t, tc.out, parseExclusions(tc.in).String(), tc.in)
	}
	ex := parseExclusions("D:T,D:U")
	require.True(t, ex.excluded("D", "T"))
	require.True(t, ex.excluded("D", "U"))
	require.False(t, ex.excluded("D", "V"))
	require.False(t, ex.excluded("E", "T"))
}

func TestApplyDiff(t *testing.T) {
	typ := func(js string) *schema.Type {
		v, err := schema.DecodeJSON([]byte(js))
		require.NoError(t, err)
		ty, err := schema.ParseType(v)
		require.NoError(t, err)
		return &ty
	}
	datum := func(ty *schema.Type, js string) schema.Datum {
		v, err := schema.DecodeJSON([]byte(js))
		require.NoError(t, err)
		d, err := schema.ParseDatumNoSize(ty, v, nil)
		require.NoError(t, err)
		return d
	}
	set := typ(`{"key":"string","min":0,"max":"unlimited"}`)
	mp := typ(`{"key":"string","value":"integer","min":0,"max":"unlimited"}`)
	opt := typ(`{"key":"integer","min":0,"max":1}`)
	for _, tc := range []struct {
		ty            *schema.Type
		a, diff, want string
	}{
		{set, `["set",["a","b"]]`, `["set",["b","c"]]`, `["set",["a","c"]]`},
		{set, `["set",[]]`, `"x"`, `"x"`},
		{mp, `["map",[["a",1],["b",2]]]`, `["map",[["a",1],["b",3],["c",4]]]`, `["map",[["b",3],["c",4]]]`},
		{opt, `["set",[]]`, `5`, `5`},
		{opt, `5`, `["set",[]]`, `["set",[]]`},
	} {
		got, err := applyDiff(tc.ty, datum(tc.ty, tc.a), datum(tc.ty, tc.diff))
		require.NoError(t, err)
		require.True(t, got.Equal(datum(tc.ty, tc.want)), "%s + %s = %v", tc.a, tc.diff, got)
	}
	// A diff that breaks the column's bounds is refused.
	one := typ(`{"key":"string","min":1,"max":"unlimited"}`)
	_, err := applyDiff(one, datum(one, `"a"`), datum(one, `"a"`))
	require.Error(t, err)
}

// testSchema has a root table with sets, maps, an optional integer and
// strong references to a non-root table (garbage collected) with an
// immutable column, and a table the tests exclude.
const testSchema = `{"name":"Test","version":"1.0.0","tables":{
 "Item":{"columns":{"name":{"type":"string"},
   "tags":{"type":{"key":"string","min":0,"max":"unlimited"}},
   "attrs":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},
   "opt":{"type":{"key":"integer","min":0,"max":1}},
   "kids":{"type":{"key":{"type":"uuid","refTable":"Kid"},"min":0,"max":"unlimited"}}},
  "indexes":[["name"]],"isRoot":true},
 "Kid":{"columns":{"n":{"type":"integer"},"fixed":{"type":"string","mutable":false}}},
 "Other":{"columns":{"v":{"type":"integer"}},"isRoot":true}}}`

// testSchemaNewer adds a column and a table.
const testSchemaNewer = `{"name":"Test","version":"1.1.0","tables":{
 "Item":{"columns":{"name":{"type":"string"},
   "tags":{"type":{"key":"string","min":0,"max":"unlimited"}},
   "attrs":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}},
   "opt":{"type":{"key":"integer","min":0,"max":1}},
   "color":{"type":"string"},
   "kids":{"type":{"key":{"type":"uuid","refTable":"Kid"},"min":0,"max":"unlimited"}}},
  "indexes":[["name"]],"isRoot":true},
 "Kid":{"columns":{"n":{"type":"integer"},"fixed":{"type":"string","mutable":false}}},
 "Extra":{"columns":{"w":{"type":"string"}},"isRoot":true},
 "Other":{"columns":{"v":{"type":"integer"}},"isRoot":true}}}`

// node is one in-process server: active unless its Replicator makes it a
// backup.
type node struct {
	t    testing.TB
	srv  *server.Server
	repl *Replicator
	sock string
}

func newNode(t testing.TB, schemaText string, opt server.Options) *node {
	t.Helper()
	dir := t.TempDir()
	sch, err := schema.ParseSchemaBytes([]byte(schemaText))
	require.NoError(t, err)
	path := filepath.Join(dir, "test.db")
	require.NoError(t, server.CreateStandalone(path, sch))
	n := &node{t: t, sock: filepath.Join(dir, "db.sock")}
	n.repl = New(Options{ServerID: func() string { return n.srv.ServerID() },
		SetReadOnly: func(b bool) { n.srv.SetReadOnly(b) }})
	opt.Open = n.repl.Opener(nil)
	n.srv = server.New(opt)
	require.NoError(t, n.srv.AddDatabase(path))
	require.NoError(t, n.srv.AddRemote("punix:"+n.sock))
	t.Cleanup(func() {
		n.repl.Close()
		_ = n.srv.Close()
	})
	return n
}

func (n *node) transact(ops ...any) []any {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, _ := n.srv.Transact(ctx, "Test", ops)
	return res
}

func (n *node) mustTransact(ops ...any) []any {
	n.t.Helper()
	res := n.transact(ops...)
	require.NoError(n.t, resultError(res), "%v", res)
	return res
}

// dump returns the contents of the tables (all but skip), without
// _version, as canonical JSON.
func (n *node) dump(skip ...string) string {
	n.t.Helper()
	var b strings.Builder
	sch := n.srv.Engine("Test").Schema()
	for _, tn := range sch.TableNames {
		if contains(skip, tn) {
			continue
		}
		res := n.mustTransact(map[string]any{"op": "select", "table": tn, "where": []any{}})
		rows := res[0].(map[string]any)["rows"].([]any)
		var lines []string
		for _, r := range rows {
			m := r.(map[string]any)
			delete(m, "_version")
			lines = append(lines, string(cjson.Marshal(m)))
		}
		sort.Strings(lines)
		fmt.Fprintf(&b, "%s: %s\n", tn, strings.Join(lines, "\n  "))
	}
	return b.String()
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// eventually waits (bounded) for cond.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (n *node) replicating() bool { return strings.Contains(n.repl.Status(), "\nreplicating: ") }

// caughtUp waits until b's contents equal a's (but the skipped tables).
func caughtUp(t *testing.T, a, b *node, skip ...string) {
	t.Helper()
	eventually(t, "the backup to catch up", func() bool { return a.dump(skip...) == b.dump(skip...) })
}

func insertItem(name string) map[string]any {
	return map[string]any{"op": "insert", "table": "Item", "row": map[string]any{"name": name}}
}

// mixed returns a random transaction on n's contents: inserts (with
// kids), updates of sets, maps and optional columns, mutations, deletes.
func mixed(rng *rand.Rand, i int) []any {
	name := fmt.Sprintf("item%d", rng.Intn(60))
	where := []any{[]any{"name", "==", name}}
	switch rng.Intn(6) {
	case 0:
		return []any{
			map[string]any{"op": "delete", "table": "Item", "where": where},
			map[string]any{"op": "insert", "table": "Kid", "uuid-name": "k", "row": map[string]any{"n": i, "fixed": fmt.Sprint("f", i)}},
			map[string]any{"op": "insert", "table": "Item", "row": map[string]any{"name": name,
				"tags": []any{"set", []any{"a", fmt.Sprint("t", i%7)}}, "kids": []any{"named-uuid", "k"}}},
		}
	case 1:
		return []any{map[string]any{"op": "mutate", "table": "Item", "where": where, "mutations": []any{
			[]any{"tags", "insert", []any{"set", []any{fmt.Sprint("x", i%5)}}},
			[]any{"attrs", "insert", []any{"map", []any{[]any{fmt.Sprint("k", i%3), fmt.Sprint(i)}}}}}}}
	case 2:
		return []any{map[string]any{"op": "update", "table": "Item", "where": where,
			"row": map[string]any{"opt": []any{"set", []any{}}, "attrs": []any{"map", []any{[]any{"only", fmt.Sprint(i)}}}}}}
	case 3:
		return []any{map[string]any{"op": "update", "table": "Item", "where": where, "row": map[string]any{"opt": i, "kids": []any{"set", []any{}}}}}
	case 4:
		return []any{map[string]any{"op": "delete", "table": "Item", "where": where}}
	default:
		return []any{map[string]any{"op": "insert", "table": "Other", "row": map[string]any{"v": i}},
			map[string]any{"op": "mutate", "table": "Item", "where": where, "mutations": []any{[]any{"tags", "delete", "a"}}}}
	}
}

// TestReplicate follows an active server: the initial contents replace
// the backup's (excluded table left alone), updates follow, clients'
// writes are refused with C's error, a lost connection resumes with the
// changes that followed (monitor_cond_since on our active server), then
// promotion and the demotion of the old active server to a backup of
// the new one.
func TestReplicate(t *testing.T) {
	a := newNode(t, testSchema, server.Options{})
	b := newNode(t, testSchema, server.Options{})
	rng := rand.New(rand.NewSource(1))
	// Rows the backup must lose, rows it must keep (excluded), a row
	// with the same id on both, different.
	kid := "11111111-2222-3333-4444-555555555555"
	b.mustTransact(insertItem("only-on-backup"),
		map[string]any{"op": "insert", "table": "Other", "row": map[string]any{"v": -1}},
		map[string]any{"op": "insert", "table": "Kid", "uuid": kid, "row": map[string]any{"n": 1, "fixed": "same"}},
		map[string]any{"op": "insert", "table": "Item", "row": map[string]any{"name": "holder", "kids": []any{"uuid", kid}}})
	a.mustTransact(map[string]any{"op": "insert", "table": "Kid", "uuid": kid, "row": map[string]any{"n": 2, "fixed": "same"}},
		map[string]any{"op": "insert", "table": "Item", "row": map[string]any{"name": "holder", "kids": []any{"uuid", kid}}})
	for i := 0; i < 50; i++ {
		a.transact(mixed(rng, i)...)
	}
	otherBefore := b.dump("Item", "Kid")

	require.NoError(t, b.repl.SetExcludeTables("Test:Other"))
	b.repl.SetActiveServer("unix:" + a.sock)
	require.Equal(t, "state: active\n", b.repl.Status())
	require.NoError(t, b.repl.Connect())
	require.True(t, b.repl.IsBackup())
	eventually(t, "replicating", b.replicating)
	caughtUp(t, a, b, "Other")
	require.Equal(t, otherBefore, b.dump("Item", "Kid"))
	st := b.repl.Status()
	require.True(t, strings.HasPrefix(st, "state: backup\nreplicating: unix:"+a.sock+"\ndatabase: Test\nexclude: Test:Other\nlag: "), st)

	for i := 50; i < 400; i++ {
		a.transact(mixed(rng, i)...)
	}
	caughtUp(t, a, b, "Other")
	require.Equal(t, otherBefore, b.dump("Item", "Kid"))

	// Clients' writes are refused, reads served.
	res := b.transact(insertItem("nope"))
	require.Equal(t, `[{"details":"insert operation not allowed when database server is in read only mode","error":"not allowed"}]`,
		string(cjson.Marshal(res)))
	require.True(t, b.srv.ReadOnly())

	// The connection is lost: the backup reconnects and gets what it
	// missed only (our active server keeps a history).
	rs := b.runState()
	applied := rs.appliedCount()
	require.NoError(t, a.srv.RemoveRemote("punix:"+a.sock))
	for i := 400; i < 450; i++ {
		a.transact(mixed(rng, i)...)
	}
	require.NoError(t, a.srv.AddRemote("punix:"+a.sock))
	caughtUp(t, a, b, "Other")
	require.Equal(t, rs, b.runState())
	require.Equal(t, 1, rs.resumedCount(), "resumed with monitor_cond_since")
	require.Greater(t, rs.appliedCount(), applied)

	// Promotion: the backup's databases are standalone ones again.
	b.repl.Disconnect()
	require.False(t, b.repl.IsBackup())
	require.False(t, b.srv.ReadOnly())
	require.Equal(t, "state: active\n", b.repl.Status())
	b.mustTransact(insertItem("written-on-new-active"))

	// Demotion of the old active server to a backup of the new one.
	a.repl.SetActiveServer("unix:" + b.sock)
	require.NoError(t, a.repl.Connect())
	caughtUp(t, b, a)
	require.Equal(t, `[{"details":"delete operation not allowed when database server is in read only mode","error":"not allowed"}]`,
		string(cjson.Marshal(a.transact(map[string]any{"op": "delete", "table": "Item", "where": []any{}}))))
	for i := 450; i < 500; i++ {
		b.transact(mixed(rng, i)...)
	}
	caughtUp(t, b, a)
}

func (n *node) runState() *runState {
	n.repl.mu.Lock()
	defer n.repl.mu.Unlock()
	return n.repl.run
}

func (rs *runState) appliedCount() uint64 {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.applied
}

func (rs *runState) resumedCount() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.resumed
}

// TestImmutableColumn: a row of the backup with the active server's id
// but other immutable values keeps them (logged); the rest is written.
func TestImmutableColumn(t *testing.T) {
	sch, err := schema.ParseSchemaBytes([]byte(testSchema))
	require.NoError(t, err)
	ts := sch.Tables["Kid"]
	id := schema.NewUUID()
	local := defaults(ts)
	local[schema.ColUUID] = schema.NewScalar(id)
	local[schema.ColVersion] = schema.NewScalar(schema.NewUUID())
	local[ts.ByName["fixed"].Index] = schema.NewScalar("backup")
	tables := map[string]map[schema.UUID]*ovsdb.Row{"Kid": {id: ovsdb.NewRow(local)}}
	var skipped []error
	p, err := planChanges(sch, tables, map[string]any{"Kid": map[string]any{id.String(): map[string]any{
		"modify": map[string]any{"n": 5, "fixed": "active"}}}}, true, func(e error) { skipped = append(skipped, e) })
	require.NoError(t, err)
	ops := p.ops(sch, tables, func(e error) { skipped = append(skipped, e) })
	require.Equal(t, `[{"op":"update","row":{"n":5},"table":"Kid","where":[["_uuid","==",["uuid","`+id.String()+`"]]]}]`,
		string(cjson.Marshal(ops)))
	require.Len(t, skipped, 1)
	require.Contains(t, skipped[0].Error(), "consistency violation: cannot change immutable column fixed")
	// A modification of a row the backup lacks is skipped too.
	skipped = nil
	p, err = planChanges(sch, tables, map[string]any{"Kid": map[string]any{schema.NewUUID().String(): map[string]any{
		"modify": map[string]any{"n": 5}}}}, true, func(e error) { skipped = append(skipped, e) })
	require.NoError(t, err)
	require.Empty(t, p.ops(sch, tables, nil))
	require.Len(t, skipped, 1)
}

// TestConvertToActiveSchema: a backup whose schema differs takes the
// active server's (newer or older), and the server serves the converted
// database, its _Server row showing the new schema.
func TestConvertToActiveSchema(t *testing.T) {
	for _, tc := range []struct{ active, backup, version string }{
		{testSchemaNewer, testSchema, "1.1.0"},
		{testSchema, testSchemaNewer, "1.0.0"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			a := newNode(t, tc.active, server.Options{})
			b := newNode(t, tc.backup, server.Options{})
			a.mustTransact(insertItem("x"), insertItem("y"))
			b.mustTransact(insertItem("z"))
			b.repl.SetActiveServer("unix:" + a.sock)
			require.NoError(t, b.repl.Connect())
			eventually(t, "replicating", b.replicating)
			eventually(t, "the converted engine served", func() bool {
				return b.srv.Engine("Test").Schema().Version == tc.version
			})
			caughtUp(t, a, b)
			sys := b.srv.Engine("_Server")
			var sch string
			sys.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
				cols := sys.Schema().Tables["Database"].ByName
				for _, r := range tables["Database"] {
					if r.Field(cols["name"].Index).Keys[0] == "Test" {
						sch = fmt.Sprint(r.Field(cols["schema"].Index).Keys)
					}
				}
			})
			require.Contains(t, sch, `"version":"`+tc.version+`"`)
			a.mustTransact(insertItem("after"))
			caughtUp(t, a, b)
		})
	}
}

// TestMonitorFallback: an active server without monitor_cond (C's
// ovsdb-server/disable-monitor-cond, or an old one) is followed through
// "monitor".
func TestMonitorFallback(t *testing.T) {
	a := newNode(t, testSchema, server.Options{})
	a.srv.DisableMonitorCond()
	b := newNode(t, testSchema, server.Options{})
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 30; i++ {
		a.transact(mixed(rng, i)...)
	}
	b.repl.SetActiveServer("unix:" + a.sock)
	require.NoError(t, b.repl.Connect())
	eventually(t, "replicating", b.replicating)
	caughtUp(t, a, b)
	for i := 30; i < 200; i++ {
		a.transact(mixed(rng, i)...)
	}
	caughtUp(t, a, b)
}

// TestSelfReplication: a server told to replicate from itself fails as
// C does and becomes active.
func TestSelfReplication(t *testing.T) {
	a := newNode(t, testSchema, server.Options{})
	a.repl.SetActiveServer("unix:" + a.sock)
	require.NoError(t, a.repl.Connect())
	eventually(t, "the server active again", func() bool { return !a.repl.IsBackup() })
	require.False(t, a.srv.ReadOnly())
	a.mustTransact(insertItem("ok"))
}

// TestConnectErrors: no active server set, and the probe interval.
func TestConnectErrors(t *testing.T) {
	a := newNode(t, testSchema, server.Options{})
	require.ErrorIs(t, a.repl.Connect(), ErrNoActiveServer)
	require.False(t, a.repl.IsBackup())
	require.Equal(t, "", a.repl.ActiveServer())
	require.Equal(t, time.Duration(0), probeDuration(0))
	require.Equal(t, time.Second, probeDuration(5))
	require.Equal(t, time.Second, probeDuration(-5))
	require.Equal(t, 60*time.Second, probeDuration(DefaultProbeInterval))
	// A server that cannot be reached: backup and connecting, forever.
	a.repl.SetActiveServer("unix:" + filepath.Join(t.TempDir(), "none.sock"))
	require.NoError(t, a.repl.Connect())
	require.Equal(t, "state: backup\nconnecting: "+a.repl.ActiveServer(), a.repl.Status())
}

package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/stretchr/testify/require"
)

// startWith runs bin in the foreground in dir on a fresh vswitch database
// conf.db, serving punix:dir/db.sock, with extra arguments, and waits for
// its control socket. It returns the control socket.
func startWith(t *testing.T, bin, dir string, extra ...string) string {
	t.Helper()
	tool := testutil.RequireTool(t, "ovsdb-tool")
	db := filepath.Join(dir, "conf.db")
	r := runCmd(t, tool, "create", db, "/usr/share/openvswitch/vswitch.ovsschema")
	require.Equal(t, 0, r.status, r.stderr)
	ctl := filepath.Join(dir, "ctl")
	args := append([]string{"--remote=punix:" + filepath.Join(dir, "db.sock"), "--unixctl=" + ctl,
		"--log-file=" + filepath.Join(dir, "log"), "-vconsole:off", "--no-chdir"}, extra...)
	cmd := exec.Command(bin, append(args, db)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir)
	done := startStopped(t, cmd)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("unix", filepath.Join(dir, "db.sock"))
		if err == nil {
			c.Close()
			if st, err := os.Stat(ctl); err == nil && st.Mode()&os.ModeSocket != 0 {
				return ctl
			}
		}
		require.True(t, time.Now().Before(deadline), "%s did not start", bin)
		select {
		case <-done:
			t.Fatalf("%s exited early", bin)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// client is a raw JSON-RPC connection whose messages are read in the
// background and normalised: UUIDs other than the all-zeros one are
// named by order of appearance per client, the _Server schema text is
// dropped.
type client struct {
	t    *testing.T
	c    net.Conn
	msgs chan string
	next int
	ids  map[string]string
	// lastTxn is the raw last-txn-id of the last update3 seen by call.
	lastTxn string
}

var anyUUIDRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func dialClient(t *testing.T, sock string) *client {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	cl := &client{t: t, c: c, msgs: make(chan string, 1000), ids: map[string]string{}}
	go func() {
		dec := json.NewDecoder(c)
		for {
			var m any
			if err := dec.Decode(&m); err != nil {
				cl.msgs <- "EOF"
				return
			}
			b, _ := json.Marshal(m)
			cl.msgs <- string(b)
		}
	}()
	return cl
}

func (c *client) send(method string, params ...any) {
	c.t.Helper()
	c.next++
	if params == nil {
		params = []any{}
	}
	b, err := json.Marshal(map[string]any{"id": c.next, "method": method, "params": params})
	require.NoError(c.t, err)
	_, err = c.c.Write(b)
	require.NoError(c.t, err)
}

func (c *client) norm(m string) string {
	// Rows with a name are named after it, whatever the hash order.
	var v any
	if json.Unmarshal([]byte(m), &v) == nil {
		c.nameRows(v)
	}
	m = regexp.MustCompile(`"schema":"(\\.|[^"\\])*"`).ReplaceAllString(m, `"schema":"..."`)
	m = anyUUIDRE.ReplaceAllStringFunc(m, func(u string) string {
		if u == "00000000-0000-0000-0000-000000000000" {
			return u
		}
		if n, ok := c.ids[u]; ok {
			return n
		}
		n := "<" + string(rune('A'+len(c.ids)%26)) + strings.Repeat("'", len(c.ids)/26) + ">"
		c.ids[u] = n
		return n
	})
	// Object keys in the order of their new names.
	if json.Unmarshal([]byte(m), &v) == nil {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		m = strings.TrimSuffix(b.String(), "\n")
	}
	return m
}

// nameRows names the UUIDs of table-update rows that carry a "name".
func (c *client) nameRows(v any) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			c.nameRows(e)
		}
	case map[string]any:
		for k, e := range x {
			if row, ok := e.(map[string]any); ok && anyUUIDRE.MatchString(k) {
				for _, kind := range []string{"initial", "insert", "new"} {
					if r, ok := row[kind].(map[string]any); ok {
						if n, ok := r["name"].(string); ok && c.ids[k] == "" {
							c.ids[k] = "<" + n + ">"
						}
					}
				}
			}
			c.nameRows(e)
		}
	}
}

// call sends a request and returns every message up to its reply.
func (c *client) call(method string, params ...any) []string {
	c.t.Helper()
	c.send(method, params...)
	want := c.next
	var out []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-c.msgs:
			out = append(out, c.norm(m))
			if m == "EOF" {
				return out
			}
			var v struct {
				ID     *int
				Method string
				Params []any
			}
			_ = json.Unmarshal([]byte(m), &v)
			if v.Method == "update3" && len(v.Params) == 3 {
				c.lastTxn, _ = v.Params[1].(string)
			}
			if v.ID != nil && *v.ID == want {
				return out
			}
		case <-timeout:
			c.t.Fatalf("no reply to %s", method)
		}
	}
}

// drain returns what arrives within d (stopping at EOF).
func (c *client) drain(d time.Duration) []string {
	var out []string
	timer := time.After(d)
	for {
		select {
		case m := <-c.msgs:
			out = append(out, c.norm(m))
			if m == "EOF" {
				return out
			}
		case <-timer:
			return out
		}
	}
}

func appctl(t *testing.T, ctl string, args ...string) result {
	t.Helper()
	return runCmd(t, testutil.RequireTool(t, "ovs-appctl"), append([]string{"-t", ctl}, args...)...)
}

// dbChangeScript: an unaware and a db-change-aware session monitor
// _Server.Database and Open_vSwitch; ovs-appctl adds a database, fails to
// add a second one with the same name, removes Open_vSwitch. It returns
// what each session and ovs-appctl see.
func dbChangeScript(t *testing.T, dir, ctl string) []string {
	tool := testutil.RequireTool(t, "ovsdb-tool")
	lc := filepath.Join(dir, "lc.db")
	require.Equal(t, 0, runCmd(t, tool, "create", lc, "/usr/share/openvswitch/local-config.ovsschema").status)
	lc2 := filepath.Join(dir, "lc2.db")
	require.Equal(t, 0, runCmd(t, tool, "create", lc2, "/usr/share/openvswitch/local-config.ovsschema").status)
	sock := filepath.Join(dir, "db.sock")
	var out []string
	log := func(who string, msgs []string) {
		for _, m := range msgs {
			out = append(out, who+": "+m)
		}
	}
	sessions := map[string]*client{}
	for _, who := range []string{"unaware", "aware"} {
		c := dialClient(t, sock)
		if who == "aware" {
			log(who, c.call("set_db_change_aware", true))
		}
		log(who, c.call("monitor_cond", "_Server", "s", map[string]any{"Database": []any{map[string]any{"columns": []any{"name", "model", "connected", "leader"}}}}))
		log(who, c.call("monitor_cond", "Open_vSwitch", "o", map[string]any{"Open_vSwitch": []any{map[string]any{"columns": []any{"cur_cfg"}}}}))
		sessions[who] = c
	}
	step := func(args ...string) {
		r := appctl(t, ctl, args...)
		out = append(out, strings.ReplaceAll(strings.Join(args, " ")+" => "+r.stdout+"|"+r.stderr, dir, "DIR")+"|"+string(rune('0'+r.status)))
		for _, who := range []string{"unaware", "aware"} {
			// Bounded: a disconnected session ends with EOF at once; the
			// others show what arrives within the window.
			log(who, sessions[who].drain(500*time.Millisecond))
		}
	}
	step("ovsdb-server/add-db", lc)
	sessions["unaware"] = dialClient(t, sock)
	log("unaware", sessions["unaware"].call("list_dbs"))
	step("ovsdb-server/remove-db", "Open_vSwitch")
	step("ovsdb-server/list-dbs")
	return out
}

// TestAddRemoveDBDifferential: add-db and remove-db disconnect the
// sessions that are not db-change-aware (C's
// ovsdb_jsonrpc_server_add_db/remove_db) and tell aware sessions about
// the _Server.Database change (and monitor_canceled), as C does.
func TestAddRemoveDBDifferential(t *testing.T) {
	cserver := testutil.RequireTool(t, "ovsdb-server")
	bin := buildBinary(t)
	cdir, gdir := t.TempDir(), t.TempDir()
	cctl := startWith(t, cserver, cdir)
	gctl := startWith(t, bin, gdir)
	want := dbChangeScript(t, cdir, cctl)
	got := dbChangeScript(t, gdir, gctl)
	require.Equal(t, want, got)
	// Both logged the unaware session's disconnection.
	for _, dir := range []string{cdir, gdir} {
		data, err := os.ReadFile(filepath.Join(dir, "log"))
		require.NoError(t, err)
		require.Regexp(t, `\|ovsdb_jsonrpc_server\|INFO\|unix#\d+: disconnecting \(adding Local_Config database\)`, string(data))
		require.Regexp(t, `\|ovsdb_jsonrpc_server\|INFO\|unix#\d+: disconnecting \(removing Open_vSwitch database by user request\)`, string(data))
	}
}

// TestAddRemoteDBDifferential: ovsdb-server/add-remote checks "db:"
// remotes as C (missing database, table, column, bad syntax: error, exit
// status 2, not added; a column of any type is accepted), and a bad one
// on the command line is fatal at startup with C's message.
func TestAddRemoteDBDifferential(t *testing.T) {
	cserver := testutil.RequireTool(t, "ovsdb-server")
	bin := buildBinary(t)
	cdir, gdir := t.TempDir(), t.TempDir()
	cctl := startWith(t, cserver, cdir)
	gctl := startWith(t, bin, gdir)
	for _, remote := range []string{
		"db:x,y,z", "db:Open_vSwitch,y,z", "db:Open_vSwitch,Open_vSwitch,z", "db:Open_vSwitch,Open_vSwitch",
		"db:", "db:a", "db:,,a,b,c", "db::Open_vSwitch,Open_vSwitch,cur_cfg", "db:_Server,Nope,name",
		"db:Open_vSwitch,Open_vSwitch,cur_cfg", "db:Open_vSwitch,Open_vSwitch,manager_options",
		"db:Open_vSwitch,Open_vSwitch,external_ids", "db:Open_vSwitch,Open_vSwitch,_uuid",
		"db:Open_vSwitch,Open_vSwitch,_version", "db:Open_vSwitch,Open_vSwitch,cur_cfg,extra",
		"db:_Server,Database,name", "db:,Open_vSwitch,,Manager,target",
	} {
		c, g := appctl(t, cctl, "ovsdb-server/add-remote", remote), appctl(t, gctl, "ovsdb-server/add-remote", remote)
		g.stderr = strings.ReplaceAll(g.stderr, gdir, cdir)
		require.Equal(t, c, g, remote)
	}
	c, g := appctl(t, cctl, "ovsdb-server/list-remotes"), appctl(t, gctl, "ovsdb-server/list-remotes")
	require.Equal(t, strings.ReplaceAll(c.stdout, cdir, "DIR"), strings.ReplaceAll(g.stdout, gdir, "DIR"))

	// On the command line: fatal, every bad remote reported.
	tool := testutil.RequireTool(t, "ovsdb-tool")
	db := filepath.Join(t.TempDir(), "conf.db")
	require.Equal(t, 0, runCmd(t, tool, "create", db, "/usr/share/openvswitch/vswitch.ovsschema").status)
	args := func(dir string) []string {
		return []string{"--remote=db:Open_vSwitch,Bridge,nope", "--remote=db:Open_vSwitch,Open_vSwitch,cur_cfg",
			"--unixctl=" + filepath.Join(dir, "ctl2"), "-vconsole:off", "--no-chdir", db}
	}
	cr, gr := runCmd(t, cserver, args(cdir)...), runCmd(t, bin, args(gdir)...)
	require.Equal(t, 1, cr.status)
	require.Equal(t, cr, gr)
}

// TestStandaloneHistoryDifferential: with --disable-standalone-history
// monitor_cond_since and update3 are exactly C's for a standalone
// database and _Server (all-zeros last-txn-id, found=false, full
// contents on resume); without it a resume from the last id is found.
func TestStandaloneHistoryDifferential(t *testing.T) {
	cserver := testutil.RequireTool(t, "ovsdb-server")
	bin := buildBinary(t)
	script := func(dir string) (out []string, lastID string) {
		sock := filepath.Join(dir, "db.sock")
		c := dialClient(t, sock)
		out = append(out, c.call("set_db_change_aware", true)...)
		mon := map[string]any{"Open_vSwitch": []any{map[string]any{"columns": []any{"next_cfg"}}}}
		out = append(out, c.call("monitor_cond_since", "Open_vSwitch", "b", mon, "00000000-0000-0000-0000-000000000000")...)
		out = append(out, c.call("monitor_cond_since", "_Server", "s",
			map[string]any{"Database": []any{map[string]any{"columns": []any{"name"}}}}, "00000000-0000-0000-0000-000000000000")...)
		out = append(out, c.call("transact", "Open_vSwitch", map[string]any{"op": "insert", "table": "Open_vSwitch", "row": map[string]any{"next_cfg": 1}})...)
		lastID = c.lastTxn
		out = append(out, c.call("monitor_cond_change", "b", "b2", map[string]any{"Open_vSwitch": []any{map[string]any{"where": []any{[]any{"next_cfg", "==", 2}}}}})...)
		// Resume: from the update3's id and from an unknown id.
		for _, since := range []string{lastID, "11111111-2222-3333-4444-555555555555"} {
			r := dialClient(t, sock)
			out = append(out, r.call("monitor_cond_since", "Open_vSwitch", "b", mon, since)...)
		}
		return out, lastID
	}
	cdir, gdir, hdir := t.TempDir(), t.TempDir(), t.TempDir()
	startWith(t, cserver, cdir)
	startWith(t, bin, gdir, "--disable-standalone-history")
	want, cid := script(cdir)
	require.Equal(t, "00000000-0000-0000-0000-000000000000", cid)
	got, gid := script(gdir)
	require.Equal(t, cid, gid)
	require.Equal(t, want, got)

	// Default: the id is real and a resume from it is found.
	startWith(t, bin, hdir)
	out, hid := script(hdir)
	require.NotEqual(t, "00000000-0000-0000-0000-000000000000", hid)
	require.Regexp(t, `^\{"error":null,"id":1,"result":\[true,"<.>",\{\}\]\}$`, out[len(out)-2])
	require.Regexp(t, `^\{"error":null,"id":1,"result":\[false,"<.>",\{"Open_vSwitch":`, out[len(out)-1])
}

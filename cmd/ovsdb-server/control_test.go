package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/stretchr/testify/require"
)

// rawConn is a raw JSON-RPC connection to a server's database socket.
type rawConn struct {
	c   net.Conn
	dec *json.Decoder
	id  int
}

func dialRaw(t *testing.T, sock string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	dec := json.NewDecoder(bufio.NewReader(c))
	dec.UseNumber()
	return &rawConn{c: c, dec: dec}
}

// call sends a request and returns its reply's result and error members,
// skipping notifications.
func (r *rawConn) call(t *testing.T, method string, params ...any) (result, rpcErr any) {
	t.Helper()
	r.id++
	if params == nil {
		params = []any{}
	}
	b, err := json.Marshal(map[string]any{"method": method, "params": params, "id": r.id})
	require.NoError(t, err)
	require.NoError(t, r.c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = r.c.Write(b)
	require.NoError(t, err)
	for {
		var msg map[string]any
		require.NoError(t, r.dec.Decode(&msg))
		if msg["id"] == nil {
			continue
		}
		return msg["result"], msg["error"]
	}
}

// closedByServer waits (bounded) for the server to close the connection.
func (r *rawConn) closedByServer(t *testing.T) bool {
	t.Helper()
	require.NoError(t, r.c.SetReadDeadline(time.Now().Add(10*time.Second)))
	for {
		var msg map[string]any
		if err := r.dec.Decode(&msg); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return false
			}
			return true
		}
	}
}

// TestDisableMonitorCondDifferential: after
// ovsdb-server/disable-monitor-cond, C and ours disconnect their clients,
// log it, and answer "unknown method" to monitor_cond and
// monitor_cond_since (monitor still works); before, monitor_cond works.
func TestDisableMonitorCondDifferential(t *testing.T) {
	cserver := testutil.RequireTool(t, "ovsdb-server")
	appctl := testutil.RequireTool(t, "ovs-appctl")
	bin := buildBinary(t)
	type outcome struct {
		Before          []any
		Closed          bool
		Cond, Since     any
		V1OK, CancelErr any
		Reply           result
		Logged          bool
	}
	run := func(server string) outcome {
		dir := t.TempDir()
		ctl := startServer(t, server, dir)
		sock := filepath.Join(dir, "db.sock")
		var o outcome
		a := dialRaw(t, sock)
		res, e := a.call(t, "monitor_cond", "Open_vSwitch", "m1", map[string]any{"Bridge": []any{map[string]any{"columns": []any{"name"}}}})
		o.Before = []any{res != nil, e}
		o.Reply = runCmd(t, appctl, "-t", ctl, "ovsdb-server/disable-monitor-cond")
		o.Closed = a.closedByServer(t)
		b := dialRaw(t, sock)
		_, o.Cond = b.call(t, "monitor_cond", "Open_vSwitch", "m2", map[string]any{"Bridge": []any{map[string]any{"columns": []any{"name"}}}})
		_, o.Since = b.call(t, "monitor_cond_since", "Open_vSwitch", "m3", map[string]any{"Bridge": []any{map[string]any{"columns": []any{"name"}}}},
			"00000000-0000-0000-0000-000000000000")
		res, e = b.call(t, "monitor", "Open_vSwitch", "m4", map[string]any{"Bridge": map[string]any{"columns": []any{"name"}}})
		o.V1OK = []any{res != nil, e}
		_, o.CancelErr = b.call(t, "monitor_cancel", "m2")
		waitFor(t, "disconnection logged", 10*time.Second, func() bool {
			data, _ := os.ReadFile(filepath.Join(dir, "log"))
			o.Logged = regexp.MustCompile(`\|ovsdb_jsonrpc_server\|INFO\|unix#\d+: disconnecting \(user ran ovsdb-server/disable-monitor-cond\)\n`).Match(data)
			return o.Logged
		})
		return o
	}
	c, g := run(cserver), run(bin)
	require.Equal(t, c, g)
	require.Equal(t, "unknown method", g.Cond)
	require.Equal(t, "unknown method", g.Since)
	require.True(t, g.Closed)
}

// TestTlogDifferential: with ovsdb-server/tlog-set on, C and ours log the
// same "table:T,op:...,COL:VALUE,..." lines for the same transactions
// (UUIDs masked; the lines of one transaction compared as a set, since C
// orders them by first touch).
func TestTlogDifferential(t *testing.T) {
	cserver := testutil.RequireTool(t, "ovsdb-server")
	appctl := testutil.RequireTool(t, "ovs-appctl")
	client := testutil.RequireTool(t, "ovsdb-client")
	bin := buildBinary(t)
	txns := []string{
		`[{"op":"insert","table":"Open_vSwitch","row":{"external_ids":["map",[["k","v"]]]}}]`,
		`[{"op":"update","table":"Open_vSwitch","where":[],"row":{"next_cfg":3,"other_config":["map",[["a","b c"]]]}}]`,
		// No change: not logged.
		`[{"op":"update","table":"Open_vSwitch","where":[],"row":{"next_cfg":3}}]`,
		`[{"op":"insert","table":"Bridge","uuid-name":"b","row":{"name":"br0","datapath_type":""}},` +
			`{"op":"mutate","table":"Open_vSwitch","where":[],"mutations":[["bridges","insert",["set",[["named-uuid","b"]]]]]}]`,
		// SSL is not logged.
		`[{"op":"insert","table":"SSL","uuid-name":"s","row":{"private_key":"/k"}},` +
			`{"op":"update","table":"Open_vSwitch","where":[],"row":{"ssl":["named-uuid","s"]}}]`,
		`[{"op":"delete","table":"Open_vSwitch","where":[]}]`,
	}
	run := func(server string) [][]string {
		dir := t.TempDir()
		ctl := startServer(t, server, dir)
		for _, tbl := range []string{"Open_vSwitch:Open_vSwitch", "Open_vSwitch:Bridge"} {
			require.Equal(t, result{"", "", 0}, runCmd(t, appctl, "-t", ctl, "ovsdb-server/tlog-set", tbl, "on"))
		}
		logPath := filepath.Join(dir, "log")
		var out [][]string
		seen := 0
		for _, txn := range txns {
			r := runCmd(t, client, "transact", "unix:"+filepath.Join(dir, "db.sock"), `["Open_vSwitch",`+strings.TrimPrefix(txn, "["))
			require.Equal(t, 0, r.status, r.stderr)
			require.NotContains(t, r.stdout, "error", txn)
			data, err := os.ReadFile(logPath)
			require.NoError(t, err)
			all := regexp.MustCompile(`(?m)\|transaction\|INFO\|(.*)$`).FindAllStringSubmatch(string(data), -1)
			var lines []string
			for _, m := range all[seen:] {
				lines = append(lines, uuidRE.ReplaceAllString(m[1], "UUID"))
			}
			seen = len(all)
			sort.Strings(lines)
			out = append(out, lines)
		}
		return out
	}
	c, g := run(cserver), run(bin)
	require.Equal(t, c, g)
	require.Len(t, g[0], 1)
	require.Empty(t, g[2])
	require.Len(t, g[5], 2)
}

// TestRunDifferential: --run=COMMAND runs COMMAND with /bin/sh -c once
// the control socket serves and exits when it ends, with C's exit status
// and stderr.
func TestRunDifferential(t *testing.T) {
	cserver := testutil.RequireTool(t, "ovsdb-server")
	tool := testutil.RequireTool(t, "ovsdb-tool")
	testutil.RequireTool(t, "ovs-appctl")
	bin := buildBinary(t)
	for _, command := range []string{
		"true",
		"exit 3",
		"kill -TERM $$",
		"kill -KILL $$",
		"echo out; echo err >&2",
		"ovs-appctl -t CTL ovsdb-server/list-dbs",
		"ovs-appctl -t CTL exit; sleep 0.2",
	} {
		t.Run(command, func(t *testing.T) {
			one := func(server string) result {
				dir := t.TempDir()
				db := filepath.Join(dir, "conf.db")
				require.Equal(t, 0, runCmd(t, tool, "create", db, "/usr/share/openvswitch/vswitch.ovsschema").status)
				ctl := filepath.Join(dir, "ctl")
				r := runCmd(t, server, "--unixctl="+ctl, "--run="+strings.ReplaceAll(command, "CTL", ctl), db)
				r.stderr = strings.ReplaceAll(r.stderr, ctl, "CTL")
				return r
			}
			require.Equal(t, one(cserver), one(bin))
		})
	}
	// --no-dbs: no default database.
	one := func(server string) result {
		ctl := filepath.Join(t.TempDir(), "ctl")
		r := runCmd(t, server, "--unixctl="+ctl, "--no-dbs", "--run=ovs-appctl -t "+ctl+" ovsdb-server/list-dbs")
		r.stderr = strings.ReplaceAll(r.stderr, ctl, "CTL")
		return r
	}
	require.Equal(t, result{"_Server\n", "", 0}, one(cserver))
	require.Equal(t, one(cserver), one(bin))
}

// TestRecordReplayRefused: ours refuses --record and --replay clearly.
func TestRecordReplayRefused(t *testing.T) {
	bin := buildBinary(t)
	for _, opt := range []string{"--record", "--replay=dir"} {
		r := runCmd(t, bin, opt, "--unixctl=none", "--no-dbs", "-vconsole:off")
		name := strings.SplitN(opt, "=", 2)[0]
		require.Equal(t, result{"", "ovsdb-server: " + name + ": stream recording and replay are not supported by this server\n", 1}, r)
	}
}

// TestSSLOptionsDifferential: the db: forms of the SSL options are checked
// as C checks them (fatal at startup, C's text), and, when valid, ours
// applies them.
func TestSSLOptionsDifferential(t *testing.T) {
	cserver := testutil.RequireTool(t, "ovsdb-server")
	tool := testutil.RequireTool(t, "ovsdb-tool")
	bin := buildBinary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "conf.db")
	require.Equal(t, 0, runCmd(t, tool, "create", db, "/usr/share/openvswitch/vswitch.ovsschema").status)
	for _, args := range [][]string{
		{"--private-key=db:Open_vSwitch,SSL,private_key", "--certificate=db:Open_vSwitch,SSL,certificate",
			"--ca-cert=db:Open_vSwitch,SSL,ca_cert", "--ssl-protocols=TLSv1.2", "--ssl-ciphers=HIGH"},
		{"--ssl-protocols=db:Open_vSwitch,SSL,external_ids"},
		{"--bootstrap-ca-cert=db:Open_vSwitch,SSL,ca_cert"},
		{"--private-key=db:Nope,SSL,private_key"},
		{"--certificate=db:Open_vSwitch,Nope,certificate"},
		{"--ca-cert=db:Open_vSwitch,SSL,nope"},
		{"--ssl-ciphers=db:Open_vSwitch,SSL,bootstrap_ca_cert"},
		{"--ssl-protocols=db:Open_vSwitch,SSL"},
		{"--remote=db:Nope,a,b", "--private-key=db:Nope,SSL,private_key"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			one := func(server string) result {
				a := append([]string{"--unixctl=" + filepath.Join(dir, "ctl"), "-vconsole:off", "--run=true", db}, args...)
				return runCmd(t, server, a...)
			}
			require.Equal(t, one(cserver), one(bin))
		})
	}
	// Valid options are applied; a CA file that cannot be read is a
	// start-up error (C logs it and goes on: a TLS option that cannot be
	// honoured is never ignored here).
	logPath := filepath.Join(dir, "ours.log")
	r := runCmd(t, bin, "--unixctl="+filepath.Join(dir, "ctl"), "-vconsole:off", "--log-file="+logPath, "--run=true",
		"--private-key=db:Open_vSwitch,SSL,private_key", "-C", "/ca.pem", db)
	require.Equal(t, 1, r.status, r.stderr)
	require.Contains(t, r.stderr, "--ca-cert: open /ca.pem: no such file or directory")
	r = runCmd(t, bin, "--unixctl="+filepath.Join(dir, "ctl"), "-vconsole:off", "--log-file="+logPath, "--run=true",
		"--private-key=db:Open_vSwitch,SSL,private_key", "--ssl-protocols=TLSv1.2,TLSv1.3", db)
	require.Equal(t, 0, r.status, r.stderr)
}

// TestSSLOptionsResolve: the db: forms read the first non-empty string of
// the column, and a reference that goes bad while the server runs is
// logged as C logs it.
func TestSSLOptionsResolve(t *testing.T) {
	client := testutil.RequireTool(t, "ovsdb-client")
	appctl := testutil.RequireTool(t, "ovs-appctl")
	bin := buildBinary(t)
	dir := t.TempDir()
	ctl := startServerArgs(t, bin, dir, "--private-key=db:Open_vSwitch,SSL,private_key", "--ca-cert=db:Open_vSwitch,SSL,ca_cert")
	sock := "unix:" + filepath.Join(dir, "db.sock")
	r := runCmd(t, client, "transact", sock, `["Open_vSwitch",{"op":"insert","table":"SSL","uuid-name":"s","row":{"private_key":"/k.pem","certificate":"/c.pem","ca_cert":""}},`+
		`{"op":"insert","table":"Open_vSwitch","row":{"ssl":["named-uuid","s"]}}]`)
	require.Equal(t, 0, r.status, r.stderr)
	require.NotContains(t, r.stdout, "error")
	// The database goes: the reference is now bad, and logged.
	require.Equal(t, result{"", "", 0}, runCmd(t, appctl, "-t", ctl, "ovsdb-server/remove-db", "Open_vSwitch"))
	waitFor(t, "bad SSL reference logged", 20*time.Second, func() bool {
		data, _ := os.ReadFile(filepath.Join(dir, "log"))
		return strings.Contains(string(data), "|ovsdb_server|WARN|\"db:Open_vSwitch,SSL,private_key\": no database named Open_vSwitch\n\"db:Open_vSwitch,SSL,ca_cert\": no database named Open_vSwitch\n")
	})
}

// startServerArgs is startServer with extra options.
func startServerArgs(t *testing.T, bin, dir string, extra ...string) string {
	t.Helper()
	tool := testutil.RequireTool(t, "ovsdb-tool")
	db := filepath.Join(dir, "conf.db")
	r := runCmd(t, tool, "create", db, "/usr/share/openvswitch/vswitch.ovsschema")
	require.Equal(t, 0, r.status, r.stderr)
	ctl := filepath.Join(dir, "ctl")
	args := append([]string{"--remote=punix:" + filepath.Join(dir, "db.sock"), "--unixctl=" + ctl,
		"--log-file=" + filepath.Join(dir, "log"), "-vconsole:off"}, extra...)
	cmd := exec.Command(bin, append(args, db)...)
	cmd.Dir = dir
	done := startStopped(t, cmd)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if st, err := os.Stat(ctl); err == nil && st.Mode()&os.ModeSocket != 0 {
			return ctl
		}
		select {
		case <-done:
			t.Fatalf("%s exited early", bin)
		case <-ctx.Done():
			t.Fatalf("control socket %s did not appear", ctl)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

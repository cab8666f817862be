package conformance

// db: remotes and active remotes, C against ours, with the real tools:
// ovn-ctl's --remote=db:OVN_Northbound,NB_Global,connections and the
// listeners ovn-nbctl set-connection makes (status column, probe,
// del-connection), read_only connections on the Southbound database, a
// Local_Config database served beside NB (as Kube-OVN does), and active
// remotes to a listening ovsdb-client.

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// dbrStart serves the database files with impl, with a unix socket and
// the given extra remotes, in dir; the process is stopped (by PID) when
// the test ends.
func dbrStart(t *testing.T, impl e2eImpl, dir string, remotes []string, dbs ...string) *server {
	t.Helper()
	var opts []string
	for _, r := range remotes {
		opts = append(opts, "--remote="+r)
	}
	return dbrStartOpts(t, impl, dir, opts, dbs...)
}

// dbrStartOpts serves the database files with impl and the given extra
// options, with a unix socket, in dir, and waits until it listens; the
// process is stopped (by PID) when the test ends.
func dbrStartOpts(t *testing.T, impl e2eImpl, dir string, opts []string, dbs ...string) *server {
	t.Helper()
	s := &server{
		name: impl.name, dir: dir,
		sock: filepath.Join(dir, "db.sock"),
		ctl:  filepath.Join(dir, "ctl.sock"),
		log:  filepath.Join(dir, "server.log"),
		done: make(chan struct{}),
	}
	args := append([]string{"--remote=punix:" + s.sock, "--unixctl=" + s.ctl, "--no-chdir", "--log-file=" + s.log}, opts...)
	s.cmd = exec.Command(impl.bin, append(args, dbs...)...)
	s.cmd.Dir = dir
	var stderr bytes.Buffer
	s.cmd.Stderr = &stderr
	require.NoError(t, s.cmd.Start(), "start %s server", impl.name)
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	deadline := time.Now().Add(startTimeout)
	for {
		if c, err := net.Dial("unix", s.sock); err == nil {
			_ = c.Close()
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("%s server exited at startup: %s", impl.name, stderr.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "%s server did not listen", impl.name)
		time.Sleep(10 * time.Millisecond)
	}
}

// dbrCreate makes a database file from a schema with C ovsdb-tool.
func dbrCreate(t *testing.T, dir, name, schemaFile string) string {
	t.Helper()
	tool := testutil.RequireTool(t, "ovsdb-tool")
	if _, err := os.Stat(schemaFile); err != nil {
		if testutil.InCI() {
			t.Fatalf("schema %s missing (CI=true: run `make deps`)", schemaFile)
		}
		testutil.MissingPrerequisite(t, "schema %s missing; run `make deps`", schemaFile)
	}
	p := filepath.Join(dir, name)
	out, err := exec.Command(tool, "create", p, schemaFile).CombinedOutput()
	require.NoError(t, err, "ovsdb-tool create: %s", out)
	return p
}

// dbrClient runs ovsdb-client with a bounded time; it returns stdout,
// stderr and the exit status.
func dbrClient(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return dbrRun(t, nil, "", "ovsdb-client", append([]string{"--timeout=" + stringSeconds(e2eWait)}, args...)...)
}

// dbrRun runs tool with args, bounded by e2eWait, with the environment
// env and in dir (nil and "": this process's); it returns stdout, stderr
// and the exit status, and fails the test when tool cannot be run.
func dbrRun(t *testing.T, env []string, dir, tool string, args ...string) (string, string, int) {
	t.Helper()
	bin := testutil.RequireTool(t, tool)
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Dir = env, dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", tool, args, err)
	}
	return stdout.String(), stderr.String(), code
}

// dbrBackground starts a long-running ovsdb-client (monitor, or one
// waiting for the server on a passive remote); it is stopped by PID when
// the test ends, or by the returned function. Its output is collected.
func dbrBackground(t *testing.T, args ...string) (stop func(), out *testutil.SyncBuffer) {
	t.Helper()
	bin := testutil.RequireTool(t, "ovsdb-client")
	out = &testutil.SyncBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	return startStoppable(t, cmd), out
}

// startStoppable starts cmd; the returned function kills it (by PID)
// unless it has exited and waits for it, and runs when the test ends.
func startStoppable(t *testing.T, cmd *exec.Cmd) (stop func()) {
	t.Helper()
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() {
		select {
		case <-done:
			return
		default:
		}
		_ = cmd.Process.Kill()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

// dbrWait polls cond until it holds (bounded by e2eWait).
func dbrWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(e2eWait)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "timed out waiting: %s", what)
		time.Sleep(50 * time.Millisecond)
	}
}

// dbrFreePort returns a TCP port on 127.0.0.1 free at the time of the call.
func dbrFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var dbrPortRe = regexp.MustCompile(`bound_port="\d+"`)

// dbrStatus parses ovn-nbctl's rendering of a status map, e.g.
// {bound_port="38701", sec_since_connect="0"}, into its keys and values.
func dbrStatus(s string) map[string]string {
	out := map[string]string{}
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	for _, kv := range strings.Split(s, ", ") {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out
}

// dbrLogHas reports whether the server's log has a line with module,
// level and message as C writes them.
func dbrLogHas(t *testing.T, s *server, module, level, msg string) bool {
	t.Helper()
	b, err := os.ReadFile(s.log)
	require.NoError(t, err)
	return bytes.Contains(b, []byte("|"+module+"|"+level+"|"+msg+"\n"))
}

// TestDBRemoteNBDifferential: ovn-ctl's db: remote on the Northbound
// database, driven by ovn-nbctl as deployments do: set-connection makes a
// listener that ovsdb-client reaches, its row's status is C's (ports and
// times normalised), more connections show, inactivity_probe changes the
// probe the server sends, del-connection closes the listener, and an
// active target connects out to a listening ovsdb-client.
func TestDBRemoteNBDifferential(t *testing.T) {
	type outcome struct {
		Remotes                    string
		Idle, Two, One             map[string]string
		IdleConn, TwoConn, OneConn string
		ListDBs                    string
		Probe                      string
		ProbeClosed                bool
		ListAfterDel               int
		Deconfigured, Listening    bool
		Active                     map[string]string
		ActiveConn                 string
		MonitorSawRow              bool
	}
	run := func(impl e2eImpl) outcome {
		var o outcome
		dir := t.TempDir()
		db := dbrCreate(t, dir, "nb.db", ovnNBSchema)
		s := dbrStart(t, impl, dir, []string{"db:OVN_Northbound,NB_Global,connections"}, db)
		nb := newNbctl(t, s)
		nb.run(t, "init")
		nb.run(t, "set-connection", "ptcp:0:127.0.0.1")
		get := func(col string) string { return strings.TrimSpace(nb.run(t, "get", "connection", ".", col)) }
		var port string
		dbrWait(t, impl.name+": bound_port in status", func() bool {
			port = dbrStatus(get("status"))["bound_port"]
			return port != ""
		})
		remote := "tcp:127.0.0.1:" + port
		norm := func(m map[string]string) map[string]string {
			if _, ok := m["bound_port"]; ok {
				m["bound_port"] = "PORT"
			}
			return m
		}
		o.Idle, o.IdleConn = norm(dbrStatus(get("status"))), get("is_connected")
		o.Listening = dbrLogHas(t, s, "socket_util", "INFO", "0:127.0.0.1: listening on port "+port)
		out, _, code := dbrClient(t, "list-dbs", remote)
		require.Zero(t, code)
		o.ListDBs = out

		// Two monitors: n_connections, is_connected.
		var stops []func()
		for range 2 {
			stop, _ := dbrBackground(t, "monitor", remote, "OVN_Northbound", "NB_Global")
			stops = append(stops, stop)
		}
		dbrWait(t, impl.name+": two connections", func() bool { return dbrStatus(get("status"))["n_connections"] == "2" })
		o.Two, o.TwoConn = norm(dbrStatus(get("status"))), get("is_connected")
		stops[1]()
		dbrWait(t, impl.name+": one connection", func() bool {
			_, ok := dbrStatus(get("status"))["n_connections"]
			return !ok
		})
		o.One, o.OneConn = norm(dbrStatus(get("status"))), get("is_connected")
		stops[0]()

		// inactivity_probe=1000: an idle client is probed, then dropped;
		// 0 then disables the probe (the command succeeds; nothing to
		// wait for).
		nb.run(t, "set", "connection", ".", "inactivity_probe=1000")
		time.Sleep(100 * time.Millisecond) // C applies it on its next loop
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(e2eWait)))
		line, err := bufio.NewReader(c).ReadString('}')
		require.NoError(t, err, impl.name)
		o.Probe = line
		_, err = c.Read(make([]byte, 64))
		o.ProbeClosed = err != nil
		_ = c.Close()
		nb.run(t, "set", "connection", ".", "inactivity_probe=0")

		// del-connection: the listener goes.
		nb.run(t, "del-connection")
		dbrWait(t, impl.name+": remote deconfigured", func() bool {
			return dbrLogHas(t, s, "ovsdb_jsonrpc_server", "INFO", "ptcp:0:127.0.0.1: remote deconfigured")
		})
		o.Deconfigured = true
		_, _, o.ListAfterDel = dbrClient(t, "--timeout=2", "list-dbs", remote)
		r := appctlOut(t, s, "ovsdb-server/list-remotes")
		o.Remotes = strings.ReplaceAll(r, dir, "DIR")

		// An active target: the server connects to a waiting
		// ovsdb-client and serves its monitor.
		aport := strconv.Itoa(dbrFreePort(t))
		stop, mon := dbrBackground(t, "monitor", "ptcp:"+aport+":127.0.0.1", "OVN_Northbound", "NB_Global", "name")
		nb.run(t, "set-connection", "tcp:127.0.0.1:"+aport)
		dbrWait(t, impl.name+": active connection", func() bool {
			st := dbrStatus(get("status"))
			return st["state"] == "ACTIVE" && get("is_connected") == "true"
		})
		dbrWait(t, impl.name+": monitor output", func() bool { return strings.Contains(mon.String(), "initial") })
		o.MonitorSawRow = true
		st := dbrStatus(get("status"))
		for k := range st {
			if strings.HasPrefix(k, "sec_since") {
				st[k] = "N"
			}
		}
		o.Active, o.ActiveConn = st, get("is_connected")
		stop()
		return o
	}
	var got []outcome
	for _, impl := range e2eImplementations(t) {
		testutil.RequireTool(t, "ovn-nbctl")
		got = append(got, run(impl))
	}
	t.Logf("C: %+v", got[0])
	require.Equal(t, got[0], got[1], "C (expected) vs ours")
	require.Equal(t, map[string]string{"bound_port": "PORT", "sec_since_connect": "0", "sec_since_disconnect": "0"}, got[1].Idle)
	require.Equal(t, "2", got[1].Two["n_connections"])
	require.Equal(t, `{"id":"echo","method":"echo","params":[]}`, got[1].Probe)
}

// appctlOut runs an ovs-appctl command against a server's control socket.
func appctlOut(t *testing.T, s *server, args ...string) string {
	t.Helper()
	bin := testutil.RequireTool(t, "ovs-appctl")
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append([]string{"-t", s.ctl}, args...)...).CombinedOutput()
	require.NoError(t, err, "ovs-appctl %v: %s", args, out)
	return string(out)
}

// TestDBRemoteReadOnlyDifferential: a read_only Connection of the
// Southbound database (made with its columns, as ovn-sbctl can) refuses
// writes and locks with C's errors; reads work.
func TestDBRemoteReadOnlyDifferential(t *testing.T) {
	type outcome struct{ Insert, Select, Lock string }
	run := func(impl e2eImpl) outcome {
		dir := t.TempDir()
		db := dbrCreate(t, dir, "sb.db", ovnSBSchema)
		s := dbrStart(t, impl, dir, []string{"db:OVN_Southbound,SB_Global,connections"}, db)
		sb := newSbctl(t, s)
		sb.run(t, "init")
		sb.run(t, "--", "--id=@c", "create", "Connection", `target="ptcp:0:127.0.0.1"`, "read_only=true",
			"--", "set", "SB_Global", ".", "connections=@c")
		var port string
		dbrWait(t, impl.name+": bound_port", func() bool {
			port = dbrStatus(sb.run(t, "get", "connection", ".", "status"))["bound_port"]
			return port != ""
		})
		remote := "tcp:127.0.0.1:" + port
		var o outcome
		out, _, code := dbrClient(t, "transact", remote, `["OVN_Southbound",{"op":"insert","table":"SB_Global","row":{}}]`)
		o.Insert = out + strconv.Itoa(code)
		out, _, code = dbrClient(t, "transact", remote, `["OVN_Southbound",{"op":"select","table":"SB_Global","where":[],"columns":["nb_cfg"]}]`)
		o.Select = out + strconv.Itoa(code)
		c, err := net.Dial("tcp", remote[len("tcp:"):])
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Write([]byte(`{"method":"lock","params":["l"],"id":7}`))
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(e2eWait)))
		line, err := bufio.NewReader(c).ReadString('}')
		require.NoError(t, err)
		o.Lock = line
		return o
	}
	var got []outcome
	for _, impl := range e2eImplementations(t) {
		testutil.RequireTool(t, "ovn-sbctl")
		got = append(got, run(impl))
	}
	t.Logf("C: %+v", got[0])
	require.Equal(t, got[0], got[1], "C (expected) vs ours")
	require.Contains(t, got[1].Insert, "insert operation not allowed when database server is in read only mode")
}

// TestDBRemoteLocalConfigDifferential: a Local_Config database served
// beside the Northbound one, each with its db: remote (Kube-OVN serves
// its Local_Config so): the targets of both are served and each
// database's rows get their status.
func TestDBRemoteLocalConfigDifferential(t *testing.T) {
	const lcSchema = "/usr/share/openvswitch/local-config.ovsschema"
	type outcome struct {
		LCStatus, NBStatus map[string]string
		ListDBs            string
		Remotes            string
	}
	run := func(impl e2eImpl) outcome {
		dir := t.TempDir()
		nbdb := dbrCreate(t, dir, "nb.db", ovnNBSchema)
		lcdb := dbrCreate(t, dir, "lc.db", lcSchema)
		s := dbrStart(t, impl, dir, []string{"db:Local_Config,Config,connections", "db:OVN_Northbound,NB_Global,connections"}, nbdb, lcdb)
		lcSock := filepath.Join(dir, "lc-extra.sock")
		out, errOut, code := dbrClient(t, "transact", "unix:"+s.sock, `["Local_Config",
			{"op":"insert","table":"Connection","row":{"target":"punix:`+lcSock+`"},"uuid-name":"c"},
			{"op":"insert","table":"Config","row":{"connections":["named-uuid","c"]}}]`)
		require.Zero(t, code, "%s %s", out, errOut)
		nb := newNbctl(t, s)
		nb.run(t, "init")
		nb.run(t, "set-connection", "ptcp:0:127.0.0.1")
		var o outcome
		lcStatus := func() map[string]string {
			out, _, code := dbrClient(t, "transact", "unix:"+s.sock,
				`["Local_Config",{"op":"select","table":"Connection","where":[],"columns":["status","is_connected"]}]`)
			require.Zero(t, code)
			return map[string]string{"raw": out}
		}
		dbrWait(t, impl.name+": Local_Config status", func() bool { return strings.Contains(lcStatus()["raw"], "sec_since_connect") })
		dbrWait(t, impl.name+": NB status", func() bool {
			return dbrStatus(nb.run(t, "get", "connection", ".", "status"))["bound_port"] != ""
		})
		// The Local_Config listener is served.
		out, _, code = dbrClient(t, "list-dbs", "unix:"+lcSock)
		require.Zero(t, code)
		o.ListDBs = out
		o.LCStatus = lcStatus()
		o.NBStatus = dbrStatus(dbrPortRe.ReplaceAllString(nb.run(t, "get", "connection", ".", "status"), `bound_port="PORT"`))
		lines := strings.Split(strings.ReplaceAll(appctlOut(t, s, "ovsdb-server/list-remotes"), dir, "DIR"), "\n")
		sort.Strings(lines)
		o.Remotes = strings.Join(lines, "\n")
		return o
	}
	var got []outcome
	for _, impl := range e2eImplementations(t) {
		testutil.RequireTool(t, "ovn-nbctl")
		got = append(got, run(impl))
	}
	t.Logf("C: %+v", got[0])
	require.Equal(t, got[0], got[1], "C (expected) vs ours")
	require.Contains(t, got[1].ListDBs, "Local_Config")
}

// dbrListeningPort waits for the server's "listening on port" line of a
// ptcp:0:127.0.0.1 remote and returns the port.
func dbrListeningPort(t *testing.T, s *server) string {
	t.Helper()
	re := regexp.MustCompile(`\|socket_util\|INFO\|0:127\.0\.0\.1: listening on port (\d+)\n`)
	var port string
	dbrWait(t, s.name+": listening", func() bool {
		b, err := os.ReadFile(s.log)
		require.NoError(t, err)
		if m := re.FindSubmatch(b); m != nil {
			port = string(m[1])
		}
		return port != ""
	})
	return port
}

// TestDBRemoteClusteredDifferential: a db: remote on a clustered
// database (one member, made by each implementation's ovsdb-tool) serves
// its targets, and, as C, the status of its rows is not written.
func TestDBRemoteClusteredDifferential(t *testing.T) {
	type outcome struct {
		ListDBs              string
		Status, IsConnected  string
		RemotesAfterAddition string
	}
	run := func(impl e2eImpl, tool string) outcome {
		dir := t.TempDir()
		db := filepath.Join(dir, "nb.db")
		if _, err := os.Stat(ovnNBSchema); err != nil {
			testutil.MissingPrerequisite(t, "schema %s missing; run `make deps`", ovnNBSchema)
		}
		out, err := exec.Command(tool, "create-cluster", db, ovnNBSchema, freeTCPAddr(t)).CombinedOutput()
		require.NoError(t, err, "create-cluster: %s", out)
		s := dbrStart(t, impl, dir, []string{"db:OVN_Northbound,NB_Global,connections"}, db)
		// The first start of a cluster is another issue's: wait until
		// the member is connected before the first ovn-nbctl.
		_, errOut, code := dbrClient(t, "wait", "unix:"+s.sock, "OVN_Northbound", "connected")
		require.Zero(t, code, errOut)
		nb := newNbctl(t, s)
		nb.run(t, "init")
		nb.run(t, "set-connection", "ptcp:0:127.0.0.1")
		port := dbrListeningPort(t, s)
		var o outcome
		o.ListDBs, _, _ = dbrClient(t, "list-dbs", "tcp:127.0.0.1:"+port)
		// C writes the status every 2.5 s, and never on a clustered
		// database: wait past one period.
		time.Sleep(3 * time.Second)
		o.Status = strings.TrimSpace(nb.run(t, "get", "connection", ".", "status"))
		o.IsConnected = strings.TrimSpace(nb.run(t, "get", "connection", ".", "is_connected"))
		return o
	}
	impls := e2eImplementations(t)
	testutil.RequireTool(t, "ovn-nbctl")
	_, ourTool := clusterTools(t)
	c := run(impls[0], testutil.RequireTool(t, "ovsdb-tool"))
	g := run(impls[1], ourTool)
	t.Logf("C: %+v", c)
	require.Equal(t, c, g, "C (expected) vs ours")
	require.Equal(t, "{}", g.Status)
}

// TestDBRemoteAddRemoveAtRunTime: ovsdb-server/add-remote of a db:
// remote at run time serves the targets already in the database;
// remove-remote stops them (logged as C); list-remotes follows.
func TestDBRemoteAddRemoveAtRunTime(t *testing.T) {
	type outcome struct {
		Before, During, After string
		ListDBs               string
		Deconfigured          bool
		ListAfter             int
	}
	run := func(impl e2eImpl) outcome {
		dir := t.TempDir()
		db := dbrCreate(t, dir, "nb.db", ovnNBSchema)
		s := dbrStart(t, impl, dir, nil, db)
		nb := newNbctl(t, s)
		nb.run(t, "init")
		sock := filepath.Join(dir, "extra.sock")
		nb.run(t, "set-connection", "punix:"+sock)
		var o outcome
		norm := func(x string) string { return strings.ReplaceAll(x, dir, "DIR") }
		o.Before = norm(appctlOut(t, s, "ovsdb-server/list-remotes"))
		appctlOut(t, s, "ovsdb-server/add-remote", "db:OVN_Northbound,NB_Global,connections")
		o.During = norm(appctlOut(t, s, "ovsdb-server/list-remotes"))
		dbrWait(t, impl.name+": listener", func() bool {
			_, _, code := dbrClient(t, "--timeout=2", "list-dbs", "unix:"+sock)
			return code == 0
		})
		o.ListDBs, _, _ = dbrClient(t, "list-dbs", "unix:"+sock)
		appctlOut(t, s, "ovsdb-server/remove-remote", "db:OVN_Northbound,NB_Global,connections")
		dbrWait(t, impl.name+": deconfigured", func() bool {
			return dbrLogHas(t, s, "ovsdb_jsonrpc_server", "INFO", "punix:"+sock+": remote deconfigured")
		})
		o.Deconfigured = true
		_, _, o.ListAfter = dbrClient(t, "--timeout=2", "list-dbs", "unix:"+sock)
		o.After = norm(appctlOut(t, s, "ovsdb-server/list-remotes"))
		return o
	}
	var got []outcome
	for _, impl := range e2eImplementations(t) {
		testutil.RequireTool(t, "ovn-nbctl")
		got = append(got, run(impl))
	}
	t.Logf("C: %+v", got[0])
	require.Equal(t, got[0], got[1], "C (expected) vs ours")
}

// TestActiveRemoteDifferential: --remote=tcp:IP:PORT and --remote=unix:PATH
// on the command line: the server connects to ovsdb-client waiting on the
// matching passive remote and serves its monitor, logging C's reconnect
// lines.
func TestActiveRemoteDifferential(t *testing.T) {
	type outcome struct {
		TCP, Unix       bool
		TCPLog, UnixLog bool
	}
	run := func(impl e2eImpl) outcome {
		dir := t.TempDir()
		db := dbrCreate(t, dir, "nb.db", ovnNBSchema)
		port := strconv.Itoa(dbrFreePort(t))
		csock := filepath.Join(dir, "client.sock")
		_, tmon := dbrBackground(t, "monitor", "ptcp:"+port+":127.0.0.1", "OVN_Northbound", "NB_Global", "name")
		_, umon := dbrBackground(t, "monitor", "punix:"+csock, "OVN_Northbound", "NB_Global", "name")
		dbrWait(t, "client listening", func() bool {
			_, err := os.Stat(csock)
			return err == nil && strings.Contains(tmon.String(), "waiting for connection")
		})
		s := dbrStart(t, impl, dir, []string{"tcp:127.0.0.1:" + port, "unix:" + csock}, db)
		nb := newNbctl(t, s)
		nb.run(t, "init")
		var o outcome
		seen := func(out string) bool { return strings.Contains(out, "initial") || strings.Contains(out, "insert") }
		dbrWait(t, impl.name+": monitors served", func() bool { return seen(tmon.String()) && seen(umon.String()) })
		o.TCP, o.Unix = true, true
		dbrWait(t, impl.name+": log lines", func() bool {
			return dbrLogHas(t, s, "reconnect", "INFO", "tcp:127.0.0.1:"+port+": connected") &&
				dbrLogHas(t, s, "reconnect", "INFO", "unix:"+csock+": connected")
		})
		o.TCPLog, o.UnixLog = true, true
		return o
	}
	var got []outcome
	for _, impl := range e2eImplementations(t) {
		got = append(got, run(impl))
	}
	require.Equal(t, got[0], got[1], "C (expected) vs ours")
}

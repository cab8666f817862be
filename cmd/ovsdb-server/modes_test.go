package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/stretchr/testify/require"
)

const modesSchema = `{"name":"P","version":"1.0.0","tables":{"T":{"columns":{"k":{"type":"string"}}}}}`

// modeOnlyC and modeOnlyOurs are the paths that only one implementation
// creates. C's ovsdb-tool and server lock a clustered database with a
// .NAME.~lock~ file; our raft store (one bbolt file per member) locks the
// file itself and keeps its applied position in a .NAME.~applied~ side file
// (with a database file's mode) and its Raft log in the directory
// NAME.wal (0770 minus the umask: a database file's mode plus search
// permission, checked below). C's ovsdb-tool compact in place also
// locks its temporary file and leaves that lock file behind. C compacts a
// clustered database in a background thread, so its temporary c.db.tmp
// may still be there when the test looks.
var (
	modeOnlyC = map[string]bool{".c.db.~lock~": true, ".j.db.~lock~": true,
		".db3.db.tmp.~lock~": true, "c.db.tmp": true}
	modeOnlyOurs = map[string]bool{".c.db.~applied~": true, "c.db.wal": true, "j.db.wal": true}
)

// TestModesDifferential runs the C programs and ours under several umasks
// (as child processes: the umask is per process) and compares the mode of
// every socket, pidfile, log, lock and database file they create: punix
// remotes (from the command line and ovs-appctl add-remote), the control
// socket, the pidfile, the log file (also after vlog/reopen), standalone
// databases (after online compaction too), what a --run server leaves
// behind, ovsdb-tool create, compact to a
// new file and in place (of a 0600 file: the replacement gets the new
// mode), convert, create-cluster, join-cluster, cluster-to-standalone, and
// a clustered database served and compacted. C sets a socket's mode to
// 0770 before bind, so others never get access (the umask then removes
// more); files are created 0660 (databases, logs), 0600 (locks) and 0666
// (pidfiles), minus the umask. Where setpriv is available it also checks
// that a user outside the group cannot connect to the sockets of either.
func TestModesDifferential(t *testing.T) {
	cserver := testutil.RequireTool(t, "ovsdb-server")
	ctool := testutil.RequireTool(t, "ovsdb-tool")
	appctl := testutil.RequireTool(t, "ovs-appctl")
	bin := buildBinary(t)
	gtool := buildToolBinary(t)
	for _, um := range []string{"000", "022", "077", "002"} {
		t.Run("umask"+um, func(t *testing.T) {
			c := modeRun(t, um, cserver, ctool, appctl)
			g := modeRun(t, um, bin, gtool, appctl)
			var diffs []string
			for _, k := range unionKeys(c.modes, g.modes) {
				cm, cok := c.modes[k]
				gm, gok := g.modes[k]
				base := k[strings.IndexByte(k, '/')+1:]
				switch {
				case cok && gok && cm != gm:
					diffs = append(diffs, fmt.Sprintf("%s: C %v, ours %v", k, cm, gm))
				case cok && !gok && !modeOnlyC[base]:
					diffs = append(diffs, fmt.Sprintf("%s: only C creates it (%v)", k, cm))
				case gok && !cok && !modeOnlyOurs[base]:
					diffs = append(diffs, fmt.Sprintf("%s: only we create it (%v)", k, gm))
				}
			}
			require.Empty(t, diffs, "modes under umask %s\nC:    %v\nours: %v", um, c.modes, g.modes)
			// The differential check is not vacuous: the sockets were
			// seen, with C's fixed rule.
			mask, _ := strconv.ParseUint(um, 8, 32)
			for _, k := range []string{"standalone/db.sock", "standalone/db2.sock", "standalone/s.ctl", "cluster/c.sock"} {
				require.Equal(t, os.ModeSocket|(0o770&^os.FileMode(mask)), g.modes[k], k)
			}
			for _, k := range []string{"cluster/c.db.wal", "cluster/j.db.wal"} {
				require.Equal(t, os.ModeDir|(0o770&^os.FileMode(mask)), g.modes[k], k)
			}
			require.Equal(t, 0o660&^os.FileMode(mask), g.modes["end/db.db"])
			t.Logf("connections as nobody: C %v, ours %v", c.denied, g.denied)
			require.Equal(t, c.denied, g.denied, "connections as nobody")
			for sock, how := range g.denied {
				if how != "no setpriv" {
					require.Equal(t, "Permission denied", how, "%s as nobody", sock)
				}
			}
		})
	}
}

type modeResult struct {
	modes  map[string]os.FileMode // "phase/name" -> type and permission bits
	denied map[string]string      // socket -> how a connection as nobody ended
}

func unionKeys(a, b map[string]os.FileMode) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func buildToolBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ovsdb-tool")
	out, err := exec.Command("go", "build", "-o", bin, "../ovsdb-tool").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// modeDir is a directory that other users may traverse (t.TempDir is
// 0700), so that a refused connection as nobody is refused by the
// socket's own mode.
func modeDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "ovsdb-modes-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	return dir
}

func freeTCPPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// modeRun creates, serves and rewrites databases with the given server
// and tool under umask um and records the modes of what is in the
// directory while each server runs ("standalone/", "cluster/") and at the
// end ("end/").
func modeRun(t *testing.T, um, server, tool, appctl string) modeResult {
	dir := modeDir(t)
	res := modeResult{modes: map[string]os.FileMode{}, denied: map[string]string{}}
	env := append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir)
	umasked := func(prog string, args ...string) *exec.Cmd {
		cmd := exec.Command("/bin/sh", append([]string{"-c", "umask " + um + ` && exec "$@"`, "sh", prog}, args...)...)
		cmd.Dir = dir
		cmd.Env = env
		return cmd
	}
	runUmasked := func(prog string, args ...string) {
		t.Helper()
		out, err := umasked(prog, args...).CombinedOutput()
		require.NoError(t, err, "%s %v: %s", prog, args, out)
	}
	snapshot := func(phase string) {
		t.Helper()
		ents, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range ents {
			st, err := os.Lstat(filepath.Join(dir, e.Name()))
			if errors.Is(err, fs.ErrNotExist) {
				continue // gone since ReadDir (C's background compaction's c.db.tmp)
			}
			require.NoError(t, err)
			res.modes[phase+"/"+e.Name()] = st.Mode() & (os.ModeType | os.ModePerm)
		}
	}
	waitFor := func(what string, done <-chan struct{}, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			select {
			case <-done:
				t.Fatalf("%s: %s exited while waiting for %s", dir, server, what)
			case <-time.After(20 * time.Millisecond):
			}
			require.True(t, time.Now().Before(deadline), "%s: %s: no %s after 20 s", dir, server, what)
		}
	}
	socketAt := func(name string) func() bool {
		return func() bool {
			st, err := os.Stat(filepath.Join(dir, name))
			return err == nil && st.Mode()&os.ModeSocket != 0
		}
	}
	ctl := func(sock string, args ...string) {
		t.Helper()
		out, err := exec.Command(appctl, append([]string{"-t", filepath.Join(dir, sock)}, args...)...).CombinedOutput()
		require.NoError(t, err, "%s: ovs-appctl %v: %s", server, args, out)
	}
	stop := func(sock string, done <-chan struct{}) {
		t.Helper()
		ctl(sock, "exit")
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: %s did not exit after ovs-appctl exit", dir, server)
		}
	}
	insert := func(sock string) {
		t.Helper()
		var lastErr error
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			r, err := testutil.RPCOnce(ctx, filepath.Join(dir, sock), "transact", "P",
				map[string]any{"op": "insert", "table": "T", "row": map[string]any{"k": "x"}})
			cancel()
			if err == nil && !strings.Contains(fmt.Sprint(r), "error") {
				return
			}
			lastErr = fmt.Errorf("%v %v", r, err)
			time.Sleep(50 * time.Millisecond) // a clustered member may still be electing itself
		}
		t.Fatalf("%s: %s: insert failed: %v", dir, server, lastErr)
	}

	schemaPath := filepath.Join(dir, "schema.json")
	require.NoError(t, os.WriteFile(schemaPath, []byte(modesSchema), 0o644))
	snapshot("start") // the schema only, written by the test
	delete(res.modes, "start/schema.json")

	// A standalone database served: sockets, pidfile, log, lock, database
	// after online compaction.
	runUmasked(tool, "create", "db.db", schemaPath)
	srv := umasked(server, "--remote=punix:"+filepath.Join(dir, "db.sock"), "--unixctl="+filepath.Join(dir, "s.ctl"),
		"--pidfile="+filepath.Join(dir, "s.pid"), "--log-file="+filepath.Join(dir, "s.log"), "-vconsole:off", "db.db")
	done := startStopped(t, srv)
	waitFor("control socket", done, socketAt("s.ctl"))
	waitFor("punix remote", done, socketAt("db.sock"))
	ctl("s.ctl", "ovsdb-server/add-remote", "punix:"+filepath.Join(dir, "db2.sock"))
	waitFor("added punix remote", done, socketAt("db2.sock"))
	insert("db.sock")
	ctl("s.ctl", "ovsdb-server/compact")
	ctl("s.ctl", "vlog/reopen")
	snapshot("standalone")
	for _, sock := range []string{"db.sock", "s.ctl"} {
		res.denied[sock] = connectAsNobody(t, appctl, filepath.Join(dir, sock))
	}
	stop("s.ctl", done)

	// --run: the server runs a command that works through its control
	// socket (memory trimming on, compaction) and exits when it ends,
	// removing its socket and pidfile.
	runUmasked(server, "--run=ovs-appctl -t "+filepath.Join(dir, "r.ctl")+" ovsdb-server/memory-trim-on-compaction on && ovs-appctl -t "+
		filepath.Join(dir, "r.ctl")+" ovsdb-server/compact", "--unixctl="+filepath.Join(dir, "r.ctl"),
		"--pidfile="+filepath.Join(dir, "r.pid"), "--log-file="+filepath.Join(dir, "r.log"), "-vconsole:off", "db.db")
	snapshot("run")

	// ovsdb-tool's outputs.
	runUmasked(tool, "compact", "db.db", "db2.db")
	data, err := os.ReadFile(filepath.Join(dir, "db.db"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "db3.db"), data, 0o600))
	require.NoError(t, os.Chmod(filepath.Join(dir, "db3.db"), 0o600))
	runUmasked(tool, "compact", "db3.db")
	runUmasked(tool, "convert", "db.db", schemaPath, "db4.db")
	port, port2 := freeTCPPort(t), freeTCPPort(t)
	local := "tcp:127.0.0.1:" + strconv.Itoa(port)
	runUmasked(tool, "create-cluster", "c.db", schemaPath, local)
	runUmasked(tool, "join-cluster", "j.db", "P", "tcp:127.0.0.1:"+strconv.Itoa(port2), local)
	runUmasked(tool, "cluster-to-standalone", "s.db", "c.db")

	// A clustered database served and compacted.
	srv = umasked(server, "--remote=punix:"+filepath.Join(dir, "c.sock"), "--unixctl="+filepath.Join(dir, "c.ctl"),
		"--pidfile="+filepath.Join(dir, "c.pid"), "--log-file="+filepath.Join(dir, "c.log"), "-vconsole:off", "c.db")
	done = startStopped(t, srv)
	waitFor("control socket", done, socketAt("c.ctl"))
	waitFor("punix remote", done, socketAt("c.sock"))
	insert("c.sock")
	ctl("c.ctl", "ovsdb-server/compact")
	snapshot("cluster")
	stop("c.ctl", done)

	snapshot("end")
	return res
}

// connectAsNobody runs ovs-appctl as the user nobody (no groups) against
// sock and returns how it ended ("" when it connected); "no setpriv"
// when that cannot be done here (the same for C and ours).
func connectAsNobody(t *testing.T, appctl, sock string) string {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil || os.Getuid() != 0 {
		return "no setpriv"
	}
	out, err := exec.Command(setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
		appctl, "-T", "5", "-t", sock, "version").CombinedOutput()
	if err == nil {
		return ""
	}
	if strings.Contains(string(out), "Permission denied") {
		return "Permission denied"
	}
	if strings.Contains(string(out), "setpriv") {
		return "no setpriv" // no such user or group here
	}
	return fmt.Sprintf("%v: %s", err, out)
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/stretchr/testify/require"
)

// restartScript runs bin with --detach --monitor in dir, changes its
// databases and remotes with ovs-appctl, crashes the daemon (SIGSEGV) and
// returns what the restarted daemon serves: list-dbs, list-remotes and a
// list_dbs over the remote added at run time. Paths read "DIR".
func restartScript(t *testing.T, bin, dir string) []string {
	tool := testutil.RequireTool(t, "ovsdb-tool")
	for name, sch := range map[string]string{"conf.db": "vswitch", "lc.db": "local-config"} {
		r := runCmd(t, tool, "create", filepath.Join(dir, name), "/usr/share/openvswitch/"+sch+".ovsschema")
		require.Equal(t, 0, r.status, r.stderr)
	}
	pidfile := filepath.Join(dir, "pid")
	ctl := filepath.Join(dir, "ctl")
	cmd := exec.Command(bin, "--detach", "--monitor", "--no-chdir", "--pidfile="+pidfile, "--unixctl="+ctl,
		"--log-file="+filepath.Join(dir, "log"), "--remote=punix:"+filepath.Join(dir, "db.sock"),
		"--remote=punix:"+filepath.Join(dir, "gone.sock"), filepath.Join(dir, "conf.db"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))

	var pids []int
	t.Cleanup(func() {
		// The daemon first (its monitor then exits by itself), then
		// anything left, by pid.
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
	daemon1 := testutil.WaitPidfile(t, pidfile, 0)
	pids = append(pids, testutil.ProcParent(t, daemon1), daemon1)

	var res []string
	do := func(args ...string) {
		r := appctl(t, ctl, args...)
		res = append(res, strings.ReplaceAll(strings.Join(args, " ")+" => "+r.stdout+"|"+r.stderr, dir, "DIR"))
	}
	do("ovsdb-server/add-db", filepath.Join(dir, "lc.db"))
	do("ovsdb-server/add-remote", "punix:"+filepath.Join(dir, "extra.sock"))
	do("ovsdb-server/add-remote", "db:nope,a,b")
	do("ovsdb-server/remove-remote", "punix:"+filepath.Join(dir, "gone.sock"))
	do("ovsdb-server/remove-db", "Open_vSwitch")

	require.NoError(t, syscall.Kill(daemon1, syscall.SIGSEGV))
	daemon2 := testutil.WaitPidfile(t, pidfile, daemon1)
	pids = append(pids, daemon2)
	// Bounded waits that fail with the daemon's log.
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: restarted daemon %d (%s): not within 20 s\nlog:\n%s", bin, daemon2, what, logTail(filepath.Join(dir, "log"), 20))
			}
		}
	}
	waitUntil("answers version on its control socket", func() bool { return appctl(t, ctl, "version").status == 0 })
	do("ovsdb-server/list-dbs")
	do("ovsdb-server/list-remotes")
	var dbs any
	waitUntil("answers list_dbs on the remote added at run time", func() bool {
		dbs, err = testutil.RPCOnce(t.Context(), filepath.Join(dir, "extra.sock"), "list_dbs")
		return err == nil
	})
	require.Equal(t, []any{"Local_Config", "_Server"}, dbs)
	return res
}

// TestMonitorRestartKeepsRuntimeConfig: as C (its config_tmpfile), the
// databases and remotes added or removed at run time with ovs-appctl
// survive the restart of a crashed daemon by --monitor.
func TestMonitorRestartKeepsRuntimeConfig(t *testing.T) {
	cserver := testutil.RequireTool(t, "ovsdb-server")
	bin := buildBinary(t)
	want := restartScript(t, cserver, t.TempDir())
	got := restartScript(t, bin, t.TempDir())
	require.Equal(t, want, got)
	require.Contains(t, got, "ovsdb-server/list-dbs => Local_Config\n_Server\n|")
}

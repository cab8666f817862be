package conformance

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

const ovnCtlScript = "/usr/share/ovn/scripts/ovn-ctl"

// ovnCtlEnv runs OVN's ovn-ctl with every directory it uses under root and
// binDir first on PATH, so nothing touches /var/run, /var/log or /etc and
// "ovsdb-server" resolves to the binary under test.
type ovnCtlEnv struct {
	root, binDir string
	env          []string
}

func newOVNCtlEnv(t *testing.T, serverBin string) *ovnCtlEnv {
	t.Helper()
	root := t.TempDir()
	e := &ovnCtlEnv{root: root, binDir: filepath.Join(root, "bin")}
	require.NoError(t, os.MkdirAll(e.binDir, 0o755))
	// ovn-ctl finds the server by name on PATH; the C ovsdb-tool, ovn-nbctl,
	// ovn-sbctl and ovn-appctl come from the system directories after it.
	require.NoError(t, os.Symlink(serverBin, filepath.Join(e.binDir, "ovsdb-server")))
	var env []string
	for _, kv := range ovnToolEnv(filepath.Join(root, "run")) {
		k := strings.SplitN(kv, "=", 2)[0]
		if k == "PATH" || k == "OVN_USER" || k == "OVN_RUNDIR" || k == "OVS_RUNDIR" {
			continue
		}
		env = append(env, kv)
	}
	e.env = append(env,
		"PATH="+e.binDir+":"+os.Getenv("PATH")+":/usr/sbin:/usr/bin:/sbin:/bin",
		"OVN_RUNDIR="+filepath.Join(root, "run"),
		"OVS_RUNDIR="+filepath.Join(root, "ovs-run"),
		"OVN_LOGDIR="+filepath.Join(root, "log"),
		"OVS_LOGDIR="+filepath.Join(root, "log"),
		"OVN_DBDIR="+filepath.Join(root, "db"),
		"OVS_DBDIR="+filepath.Join(root, "db"),
		"OVN_SYSCONFDIR="+filepath.Join(root, "etc"),
		"OVS_SYSCONFDIR="+filepath.Join(root, "etc"),
	)
	return e
}

// run runs `ovn-ctl CMD` and returns its combined output and error.
func (e *ovnCtlEnv) run(cmdName string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, ovnCtlScript, cmdName)
	cmd.Env = e.env
	cmd.Dir = e.root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (e *ovnCtlEnv) pidfile(db string) string {
	return filepath.Join(e.root, "run", "ovn"+db+"_db.pid")
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// pidAlive reports whether pid runs. A zombie counts as dead: an orphaned
// daemon (no --monitor parent) waits for PID 1 to reap it, which can be
// slow in containers.
func pidAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}

// parentPid returns the parent of pid (0 if unknown).
func parentPid(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// "pid (comm) state ppid ..."; comm may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

// killDaemon stops a daemon the test started through ovn-ctl if it is still
// running (the test failed before stop): its --monitor parent first, if the
// parent runs the same binary, then the daemon itself. Only these PIDs,
// read from the test's own pidfile, are signalled.
func killDaemon(pidfile, bin string) {
	pid, err := readPid(pidfile)
	if err != nil || !pidAlive(pid) {
		return
	}
	exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if exe != bin {
		return
	}
	if pp := parentPid(pid); pp > 1 && pp != os.Getpid() {
		if pexe, _ := os.Readlink("/proc/" + strconv.Itoa(pp) + "/exe"); pexe == bin {
			_ = syscall.Kill(pp, syscall.SIGTERM)
		}
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for pidAlive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if pidAlive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// pidRE masks process ids in ovn-ctl messages ("Exiting ovnnb_db (1234).").
var pidRE = regexp.MustCompile(`\(([0-9]+)\)`)

// TestE2EOVNCtl runs OVN's own ovn-ctl script with the binary under test
// first on PATH: start_nb_ovsdb and start_sb_ovsdb must start standalone NB
// and SB databases on it (daemonised with --detach --monitor, created with
// ovsdb-tool, initialised with ovn-nbctl/ovn-sbctl init), a second start
// must find them running, status must report them active, and
// stop_nb_ovsdb / stop_sb_ovsdb must stop them gracefully. The script's
// output must be the same as with the C server.
func TestE2EOVNCtl(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(ovnCtlScript); err != nil {
		if testutil.InCI() {
			t.Fatalf("%s missing (CI=true: run `make deps`)", ovnCtlScript)
		}
		testutil.MissingPrerequisite(t, "%s missing; run `make deps`", ovnCtlScript)
	}
	for _, tool := range []string{"ovsdb-tool", "ovn-nbctl", "ovn-sbctl", "ovn-appctl", "ovs-appctl"} {
		testutil.RequireTool(t, tool)
	}
	impls := e2eImplementations(t)
	outputs := map[string][]string{}
	for _, impl := range impls {
		bin := realBinary(t, impl.bin)
		t.Run(impl.name, func(t *testing.T) {
			e := newOVNCtlEnv(t, bin)
			var transcript []string
			step := func(cmdName string) string {
				t.Helper()
				out, err := e.run(cmdName)
				require.NoError(t, err, "ovn-ctl %s:\n%s", cmdName, out)
				out = strings.ReplaceAll(out, e.root, "<root>")
				transcript = append(transcript, cmdName+": "+pidRE.ReplaceAllString(out, "(<pid>)"))
				return out
			}
			for _, db := range []string{"nb", "sb"} {
				pidfile := e.pidfile(db)
				t.Cleanup(func() { killDaemon(pidfile, bin) })

				step("start_" + db + "_ovsdb")
				pid, err := readPid(pidfile)
				require.NoError(t, err, "pidfile written by the server")
				exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
				require.NoError(t, err)
				require.Equal(t, bin, exe, "ovn-ctl started %s, not the binary under test", exe)
				comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
				require.NoError(t, err)
				require.Equal(t, "ovsdb-server\n", string(comm), "ovn-ctl recognises the daemon by its comm")

				// The database was created, served on the socket ovn-ctl
				// chose and initialised (the *_Global row exists).
				sock := &server{dir: filepath.Join(e.root, "run"), sock: filepath.Join(e.root, "run", "ovn"+db+"_db.sock")}
				var ctl *ovnCtl
				if db == "nb" {
					ctl = newNbctl(t, sock)
				} else {
					ctl = newSbctl(t, sock)
				}
				global := map[string]string{"nb": "NB_Global", "sb": "SB_Global"}[db]
				require.Len(t, sortedRecords(ctl.run(t, "list", global)), 1, "%s row created by ovn-ctl", global)
				if db == "nb" {
					ctl.run(t, "ls-add", "via-ovn-ctl")
					require.Equal(t, "via-ovn-ctl\n", ctl.run(t, "--bare", "--columns=name", "list", "Logical_Switch"))
				}

				// A second start finds the daemon running and leaves it.
				step("start_" + db + "_ovsdb")
				pid2, err := readPid(pidfile)
				require.NoError(t, err)
				require.Equal(t, pid, pid2, "second start must not replace the running server")
				// status_ovn* asks the server for ovsdb-server/sync-status.
				assert.Equal(t, "running/active\n", step("status_ovn"+db), "ovn-ctl status_ovn%s", db)

				step("stop_" + db + "_ovsdb")
				deadline := time.Now().Add(e2eWait)
				for pidAlive(pid) && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				require.False(t, pidAlive(pid), "ovn-ctl stop_%s_ovsdb left pid %d running", db, pid)
				_, err = os.Stat(pidfile)
				require.True(t, os.IsNotExist(err), "pidfile %s removed at exit (stat: %v)", pidfile, err)
				require.Equal(t, "not-running\n", step("status_ovn"+db))
			}
			outputs[impl.name] = transcript
		})
	}
	if ref, test := outputs["C"], outputs["Go"]; ref != nil && test != nil {
		assert.Equal(t, ref, test, "ovn-ctl output with the C server and with ours")
	}
}

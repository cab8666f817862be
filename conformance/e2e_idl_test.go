package conformance

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// systemPython is the interpreter that has the Debian python3-openvswitch
// package (the python3 first on PATH may be another installation).
const systemPython = "/usr/bin/python3"

// requirePythonIDL returns the path of a python3 that can import
// ovs.db.idl, or skips (fails under CI=true).
func requirePythonIDL(t *testing.T) string {
	t.Helper()
	if err := exec.Command(systemPython, "-c", "import ovs.db.idl").Run(); err != nil {
		if testutil.InCI() {
			t.Fatalf("%s cannot import ovs.db.idl (CI=true: run `make deps`): %v", systemPython, err)
		}
		testutil.MissingPrerequisite(t, "%s cannot import ovs.db.idl; run `make deps`: %v", systemPython, err)
	}
	return systemPython
}

// TestE2EPythonIDL runs testdata/e2e/idl_client.py, a client written with
// the Open vSwitch Python IDL, against an OVN_Northbound database on the C
// server and on ours: it connects (leader-only, so it also monitors
// _Server), waits for the initial contents, commits its own transactions,
// and sees the changes of another client (ovn-nbctl). Its summary must
// match testdata/e2e/idl_client.expected on both.
func TestE2EPythonIDL(t *testing.T) {
	t.Parallel()
	py := requirePythonIDL(t)
	script, err := filepath.Abs("testdata/e2e/idl_client.py")
	require.NoError(t, err)
	want, err := os.ReadFile("testdata/e2e/idl_client.expected")
	require.NoError(t, err)
	for _, impl := range e2eImplementations(t) {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			nb := startOVNDB(t, impl, "nb")
			nbctl := newNbctl(t, nb)
			nbctl.run(t, "init")
			nbctl.run(t, "ls-add", "pre0")

			ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, script, "unix:"+nb.sock, ovnNBSchema, nbctl.bin)
			cmd.Env = ovnToolEnv(nb.dir)
			cmd.Dir = nb.dir
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			require.NoError(t, err, "idl_client.py on %s server\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s",
				impl.name, stdout.String(), stderr.String(), nb.logTail())
			require.Equal(t, string(want), stdout.String(), "Python IDL summary on %s server", impl.name)
		})
	}
}

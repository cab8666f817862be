package jsonrpc

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// startCServer runs the reference C ovsdb-server on a fresh OVN_Northbound
// database and returns its unix socket path. The process is stopped by PID
// at the end of the test.
func startCServer(t *testing.T) string {
	t.Helper()
	server := testutil.RequireTool(t, "ovsdb-server")
	tool := testutil.RequireTool(t, "ovsdb-tool")
	schemaPath := "/usr/share/ovn/ovn-nb.ovsschema"
	if _, err := os.Stat(schemaPath); err != nil {
		if testutil.InCI() {
			t.Fatalf("missing %s", schemaPath)
		}
		testutil.MissingPrerequisite(t, "missing %s", schemaPath)
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "nb.db")
	out, err := exec.Command(tool, "create", db, schemaPath).CombinedOutput()
	require.NoError(t, err, string(out))
	sock := filepath.Join(dir, "c.sock")
	cmd := exec.Command(server, "--remote=punix:"+sock, "--unixctl="+filepath.Join(dir, "ctl"),
		"--no-chdir", "--log-file="+filepath.Join(dir, "log"), db)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(waitLimit)
	for {
		// The socket file exists from bind, before listen: wait until a
		// connection is accepted.
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock
		}
		require.True(t, time.Now().Before(deadline), "C ovsdb-server did not listen on its socket")
		time.Sleep(10 * time.Millisecond)
	}
}

// TestErrorShapesMatchCServer sends the same bytes to the C server and to
// ours and requires byte-identical replies (or both closing).
func TestErrorShapesMatchCServer(t *testing.T) {
	csock := startCServer(t)
	f := newFixture(t, Options{})
	tests := []struct {
		name, in string
		closes   bool
	}{
		{"list_dbs", `{"method":"list_dbs","params":[],"id":0}`, false},
		{"get_schema unknown", `{"method":"get_schema","params":["X"],"id":1}`, false},
		{"get_schema empty", `{"method":"get_schema","params":[],"id":2}`, false},
		{"get_schema bad name", `{"method":"get_schema","params":[3.0,{"b":1,"a":[]}],"id":2.5}`, false},
		{"transact unknown", `{"method":"transact","params":["X",{"op":"comment","comment":"é\u0001"}],"id":[1,2]}`, false},
		{"transact no db", `{"method":"transact","params":[],"id":{"a":1}}`, false},
		{"transact bad db", `{"method":"transact","params":[null],"id":"t"}`, false},
		{"transact empty", `{"method":"transact","params":["OVN_Northbound"],"id":9}`, false},
		{"unknown method", `{"method":"foo","params":[],"id":3}`, false},
		{"unknown notification then echo", `{"method":"foo","params":[],"id":null}{"method":"echo","params":[],"id":4}`, false},
		{"echo", `{"method":"echo","params":[1,"a",1e2,0.5,true,null,{"k":[]}],"id":"echo"}`, false},
		{"probe reply ignored", `{"result":[],"id":"echo"}{"method":"echo","params":[],"id":6}`, false},
		{"no params", `{"method":"echo","id":5}`, true},
		{"object params", `{"method":"echo","params":{},"id":5}`, true},
		{"extra member", `{"method":"echo","params":[],"id":5,"x":1}`, true},
		{"unexpected reply", `{"result":[],"id":7}`, true},
		{"not an object", `[1]`, true},
		{"method not string", `{"method":1,"params":[],"id":1}`, true},
		{"bad json", `{"method":"echo",,}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc := dialRaw(t, "unix", csock)
			gc := f.raw(t)
			cc.send(tc.in)
			gc.send(tc.in)
			if tc.closes {
				cc.closed()
				gc.closed()
				return
			}
			want := cc.next()
			require.Equal(t, want, gc.next())
			if tc.name == "unknown notification then echo" {
				require.Equal(t, `{"id":4,"result":[],"error":null}`, want)
			}
		})
	}
	t.Run("get_server_id shape", func(t *testing.T) {
		want := decode(t, dialRaw(t, "unix", csock).roundTrip(`{"method":"get_server_id","params":[],"id":5}`))
		got := decode(t, f.raw(t).roundTrip(`{"method":"get_server_id","params":[],"id":5}`))
		require.Len(t, got["result"], len(want["result"].(string)))
		delete(want, "result")
		delete(got, "result")
		require.Equal(t, want, got)
	})
}

package standalone

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestCServerServesOurFile starts the C ovsdb-server on a file we wrote
// and compares ovsdb-client's view with ours, then checks the C server's
// own appends are readable by us.
func TestCServerServesOurFile(t *testing.T) {
	server := testutil.RequireTool(t, "ovsdb-server")
	client := testutil.RequireTool(t, "ovsdb-client")
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	require.NoError(t, Create(path, testSchema(t)))
	d, err := Open(path)
	require.NoError(t, err)
	for _, txn := range cTxns {
		transact(t, d, txn)
	}
	want := ourContents(t, d)
	require.NoError(t, d.Close())

	sock := filepath.Join(dir, "s.sock")
	cmd := exec.Command(server, "--remote=punix:"+sock, "--unixctl="+filepath.Join(dir, "ctl"),
		"--log-file="+filepath.Join(dir, "log"), "--no-chdir", path)
	require.NoError(t, cmd.Start())
	defer func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "C ovsdb-server did not start")
		time.Sleep(20 * time.Millisecond)
	}
	query := func(args ...string) string {
		out, err := exec.Command(client, append([]string{"--timeout=10"}, args...)...).CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	dump := query("dump", "unix:"+sock, "T", "A")
	require.Contains(t, dump, `{k=w, x=y}`)
	out := query("transact", "unix:"+sock, `["T",{"op":"select","table":"A","where":[],"columns":`+allCols+`},
		{"op":"select","table":"B","where":[],"columns":["_uuid","name","f"]}]`)
	require.Equal(t, want, canon(t, decode(t, strings.TrimSpace(out)).([]any)))
	// The C server appends to our file; we read its record.
	query("transact", "unix:"+sock, `["T",{"op":"insert","table":"A","row":{"o":"from-c","m":["map",[["a","b"]]]}}]`)
	require.NoError(t, cmd.Process.Kill())
	_, _ = cmd.Process.Wait()
	d, err = Open(path)
	require.NoError(t, err)
	defer d.Close()
	require.Contains(t, ourContents(t, d), `"from-c"`)
	require.Equal(t, cContents(t, path), ourContents(t, d))
}

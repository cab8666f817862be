package fsmode

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// umask reads the process umask without changing it (Linux >= 4.7).
func umask(t *testing.T) os.FileMode {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			require.NoError(t, err)
			return os.FileMode(n)
		}
	}
	t.Skip("no Umask line in /proc/self/status")
	return 0
}

// The modes under other umasks are compared with C's by
// TestModesDifferential (cmd/ovsdb-server), which runs the programs as
// child processes with the umask set.
func TestListenUnixMode(t *testing.T) {
	um := umask(t)
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := Listen("unix", path)
	require.NoError(t, err)
	defer ln.Close()
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.NotZero(t, st.Mode()&os.ModeSocket)
	require.Equal(t, Socket&^um, st.Mode().Perm())
	c, err := net.Dial("unix", path)
	require.NoError(t, err)
	c.Close()

	// Other networks are passed through.
	tl, err := Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tl.Close()
}

func TestCreateTemp(t *testing.T) {
	um := umask(t)
	dir := t.TempDir()
	seen := map[string]bool{}
	for range 20 {
		f, err := CreateTemp(dir, ".x.db.tmp*.bak", Database)
		require.NoError(t, err)
		name := filepath.Base(f.Name())
		require.True(t, strings.HasPrefix(name, ".x.db.tmp") && strings.HasSuffix(name, ".bak"), name)
		require.False(t, seen[name])
		seen[name] = true
		st, err := f.Stat()
		require.NoError(t, err)
		require.Equal(t, Database&^um, st.Mode().Perm())
		f.Close()
	}
	_, err := CreateTemp(dir, "a/b*", Database)
	require.Error(t, err)
}

package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/server"
)

// TestOpenerRefusesCClusteredFile: a C clustered file ("OVSDB CLUSTER")
// is refused by the clustered opener with a message naming the import
// command, and never reaches the next opener (the standalone one, whose
// error says only that the operation does not apply to clustered files).
func TestOpenerRefusesCClusteredFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.db")
	// The opener decides from the magic alone, before reading a record.
	require.NoError(t, os.WriteFile(path, []byte("OVSDB CLUSTER 2 0000000000000000000000000000000000000000\n{}\n"), 0o644))
	called := false
	next := func(string) (server.Mode, error) { called = true; return nil, nil }
	m, err := Opener(next)(path)
	require.Nil(t, m)
	require.False(t, called, "the next opener was asked to open a C clustered file")
	require.EqualError(t, err, path+`: this is a clustered database file of the C ovsdb-server; it cannot be served by this server: `+
		`import it with "ovsdb-tool create-cluster NEW.db `+path+` LOCAL-ADDRESS" (docs/operations.md, "Migrating a running C cluster")`)

	// A standalone file still goes to the next opener.
	sa := filepath.Join(dir, "s.db")
	require.NoError(t, os.WriteFile(sa, []byte("OVSDB JSON 2 0000000000000000000000000000000000000000\n{}\n"), 0o644))
	_, _ = Opener(next)(sa)
	require.True(t, called)
}

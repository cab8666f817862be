package raftstore

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

const testSchema = `{"name":"T","tables":{"t":{"columns":{"k":{"type":"string"}}}}}`

func testMeta() Meta {
	return Meta{
		ClusterID:    schema.NewUUID(),
		ServerID:     schema.NewUUID(),
		LocalAddress: "tcp:127.0.0.1:6643",
		Name:         "T",
		Schema:       []byte(testSchema),
	}
}

// newStore creates and opens a store in a temp dir; it is closed at cleanup
// unless the test closed it.
func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	require.NoError(t, Create(path, testMeta()))
	s, err := Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func TestCreateOpenMeta(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	m := testMeta()
	require.NoError(t, Create(path, m))

	s, err := Open(path)
	require.NoError(t, err)
	got := s.Meta()
	want := m // the election timer stays 0 (the default) unless given
	require.Equal(t, want, got)
	require.False(t, got.Joining())
	require.False(t, s.db.NoSync, "log writes must be fsync'd")

	// Meta returns a copy.
	got.Schema[0] = 'X'
	require.Equal(t, want, s.Meta())

	// SetMeta persists.
	joined := want
	joined.ElectionTimerMS = 2500
	joined.LocalAddress = "tcp:127.0.0.1:7000"
	joined.Left = true
	require.NoError(t, s.SetMeta(joined))
	require.Equal(t, joined, s.Meta())
	require.NoError(t, s.Close())

	s, err = Open(path)
	require.NoError(t, err)
	require.Equal(t, joined, s.Meta())
	require.True(t, s.Meta().Left, "left is durable")
	require.NoError(t, s.Close())

	// No temporary file left next to it.
	ents, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	wantNames := []string{"db"}
	if useWAL() {
		wantNames = append(wantNames, "db.wal")
	}
	var got2 []string
	for _, e := range ents {
		got2 = append(got2, e.Name())
	}
	require.Equal(t, wantNames, got2)
}

func TestCreateJoining(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	m := Meta{ServerID: schema.NewUUID(), LocalAddress: "tcp:127.0.0.1:6644", Name: "T",
		RemoteAddresses: []string{"tcp:127.0.0.1:6643", "tcp:127.0.0.1:6645"}}
	require.NoError(t, Create(path, m))
	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	got := s.Meta()
	require.True(t, got.Joining())
	require.Equal(t, m, got)
	require.True(t, got.ClusterID.IsZero())

	// After joining: cid known, no remote addresses, schema learned.
	got.ClusterID = schema.NewUUID()
	got.RemoteAddresses = nil
	got.Schema = []byte(testSchema)
	require.NoError(t, s.SetMeta(got))
	require.False(t, s.Meta().Joining())
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "exists")
	require.NoError(t, os.WriteFile(existing, []byte("x"), 0o600))
	tests := []struct {
		name   string
		path   string
		mutate func(*Meta)
		want   string
	}{
		{"exists", existing, func(*Meta) {}, "I/O error: " + existing + ": create failed (File exists)"},
		{"zero sid", filepath.Join(dir, "a"), func(m *Meta) { m.ServerID = schema.UUID{} }, "server id must not be zero"},
		{"zero cid", filepath.Join(dir, "b"), func(m *Meta) { m.ClusterID = schema.UUID{} }, "cluster id must not be zero"},
		{"no name", filepath.Join(dir, "c"), func(m *Meta) { m.Name = "" }, "name must not be empty"},
		{"no address", filepath.Join(dir, "d"), func(m *Meta) { m.LocalAddress = "" }, "local address must not be empty"},
		{"no schema", filepath.Join(dir, "e"), func(m *Meta) { m.Schema = nil }, "schema must not be empty"},
		{"negative timer", filepath.Join(dir, "f"), func(m *Meta) { m.ElectionTimerMS = -1 }, "election timer"},
		{"missing dir", filepath.Join(dir, "nodir", "g"), func(*Meta) {}, "create failed (No such file or directory)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testMeta()
			tc.mutate(&m)
			err := Create(tc.path, m)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.NotNil(t, ovsdberr.As(err))
		})
	}
	b, err := os.ReadFile(existing)
	require.NoError(t, err)
	require.Equal(t, "x", string(b), "Create must not touch an existing file")
}

func TestSniffAndIsCluster(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	bolt := filepath.Join(dir, "bolt")
	require.NoError(t, Create(bolt, testMeta()))
	tests := []struct {
		name    string
		path    string
		format  Format
		cluster bool
		err     string
	}{
		{"bolt", bolt, FormatBolt, true, ""},
		{"standalone", write("sa", "OVSDB JSON 2 0123\n{}"), FormatStandalone, false, ""},
		{"C cluster", write("cc", "OVSDB CLUSTER 2 0123\n{}"), FormatCCluster, true, ""},
		{"empty", write("empty", ""), FormatUnknown, false, "ovsdb error: " + dir + "/empty: cannot identify file type"},
		{"garbage", write("garbage", "garbage\n"), FormatUnknown, false, "ovsdb error: " + dir + "/garbage: unexpected file format"},
		{"missing", filepath.Join(dir, "missing"), FormatUnknown, false,
			"I/O error: " + dir + "/missing: open failed (No such file or directory)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Sniff(tc.path)
			c, cerr := IsCluster(tc.path)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				require.EqualError(t, cerr, tc.err)
				return
			}
			require.NoError(t, err)
			require.NoError(t, cerr)
			require.Equal(t, tc.format, f)
			require.Equal(t, tc.cluster, c)
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	sa := filepath.Join(dir, "sa")
	require.NoError(t, os.WriteFile(sa, []byte("OVSDB JSON 2 0123\n{}"), 0o600))
	_, err := Open(sa)
	require.ErrorContains(t, err, "not a clustered database file of this server (standalone)")

	missing := filepath.Join(dir, "missing")
	_, err = Open(missing)
	require.EqualError(t, err, "I/O error: "+missing+": open failed (No such file or directory)")
	_, statErr := os.Stat(missing)
	require.True(t, os.IsNotExist(statErr), "Open must not create a file")
}

func TestOpenIsExclusive(t *testing.T) {
	s, path := newStore(t)
	_, err := OpenWithOptions(path, Options{LockTimeout: 20 * time.Millisecond})
	require.EqualError(t, err, "I/O error: "+path+": failed to lock lockfile (Resource temporarily unavailable)")
	require.NoError(t, s.Close())
	s2, err := OpenWithOptions(path, Options{LockTimeout: 20 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, s2.Close())
}

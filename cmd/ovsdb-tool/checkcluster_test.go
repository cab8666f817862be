package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/ovsdb-go/ovsdb-server/cluster"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

// ourMember makes one of our member files as a served member leaves it:
// created (snapshot at index 1, term 1), then entries (index, term) with
// the current term, then edit(store) for the inconsistency under test.
func ourMember(t *testing.T, path string, opts cluster.CreateOptions, entries [][2]uint64, term uint64,
	edit func(st *raftstore.Store)) {
	t.Helper()
	s, err := schema.ParseSchemaBytes([]byte(clusterSchema))
	require.NoError(t, err)
	require.NoError(t, cluster.CreateWith(path, s, "unix:"+filepath.Base(path)+".raft", opts))
	st, err := raftstore.Open(path)
	require.NoError(t, err)
	defer st.Close()
	var logs []*hraft.Log
	for _, e := range entries {
		logs = append(logs, &hraft.Log{Index: e[0], Term: e[1], Type: hraft.LogNoop})
	}
	if len(logs) > 0 {
		require.NoError(t, st.LogStore().StoreLogs(logs))
	}
	if term > 0 {
		require.NoError(t, st.StableStore().SetUint64([]byte("CurrentTerm"), term))
	}
	if edit != nil {
		edit(st)
	}
}

// editBolt changes the file's bbolt content directly (corruptions the
// store's API cannot make).
func editBolt(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(fn))
	require.NoError(t, db.Close())
}

// ent is one log entry of a test member: index, term and kind.
type ent struct {
	index, term uint64
	kind        byte
}

func checkRun(t *testing.T, args ...string) result {
	t.Helper()
	var o, e bytes.Buffer
	code := run(append([]string{"ovsdb-tool", "check-cluster"}, args...), &o, &e)
	return result{o.String(), e.String(), code}
}

// TestCheckClusterOurs: check-cluster on our files, healthy and with each
// inconsistency it detects (storage/raftstore/DESIGN.md lists them).
func TestCheckClusterOurs(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	ok := [][2]uint64{{2, 2}, {3, 2}, {4, 3}}

	// Fresh from create-cluster: no record beyond C's header, as C.
	ourMember(t, p("fresh.db"), cluster.CreateOptions{}, nil, 0, nil)
	require.Equal(t, result{"", "ovsdb-tool: all logs are empty\n", 1}, checkRun(t, p("fresh.db")))
	// With --election-timer C writes a record: healthy.
	ourMember(t, p("timer.db"), cluster.CreateOptions{ElectionTimerMS: 2000}, nil, 0, nil)
	require.Equal(t, result{}, checkRun(t, p("timer.db")))
	// Served: entries, a later term.
	ourMember(t, p("ok.db"), cluster.CreateOptions{}, ok, 3, nil)
	require.Equal(t, result{}, checkRun(t, p("ok.db")))

	// A file made by join-cluster that has not joined.
	require.NoError(t, cluster.Join(p("join.db"), "C", "unix:join.raft", []string{"unix:ok.db.raft"}))
	require.Equal(t, result{p("join.db") + " has not joined the cluster, omitting\n", "ovsdb-tool: all logs are empty\n", 1},
		checkRun(t, p("join.db")))
	require.Equal(t, result{p("join.db") + " has not joined the cluster, omitting\n", "", 0},
		checkRun(t, p("join.db"), p("ok.db")))

	// Several files: the same server twice, another cluster.
	sid := func(path string) string {
		st, err := raftstore.OpenReadOnly(path)
		require.NoError(t, err)
		defer st.Close()
		return sidPrefix(st.Meta().ServerID) + "/" + sidPrefix(st.Meta().ClusterID)
	}
	okIDs, timerIDs := strings.Split(sid(p("ok.db")), "/"), strings.Split(sid(p("timer.db")), "/")
	require.Equal(t, result{"", "ovsdb-tool: Duplicate server ID " + okIDs[0] + " in " + p("ok.db") + " and " + p("ok.db") + ".\n", 1},
		checkRun(t, p("ok.db"), p("ok.db")))
	require.Equal(t, result{"", "ovsdb-tool: " + p("ok.db") + " has cluster ID " + okIDs[1] + " but " + p("timer.db") +
		" has cluster ID " + timerIDs[1] + "\n", 1}, checkRun(t, p("ok.db"), p("timer.db")))

	// Other members of ok.db's cluster (copies with another server id,
	// their log after the snapshot replaced; a configuration entry, kind
	// 'c', names both members; 'x' is a command): consistent when the
	// logs agree; Log Matching fails when entries of one index and term
	// differ.
	member := func(name string, entries []ent) {
		b, err := os.ReadFile(p("ok.db"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p(name), b, 0o640))
		copyWAL(t, p("ok.db"), p(name))
		st, err := raftstore.Open(p(name))
		require.NoError(t, err)
		defer st.Close()
		m := st.Meta()
		self := m.ServerID
		m.ServerID = schema.NewUUID()
		require.NoError(t, st.SetMeta(m))
		require.NoError(t, st.LogStore().DeleteRange(2, 4))
		var logs []*hraft.Log
		for _, e := range entries {
			l := &hraft.Log{Index: e.index, Term: e.term, Type: hraft.LogNoop}
			switch e.kind {
			case 'c':
				cfg := hraft.Configuration{Servers: []hraft.Server{
					{ID: hraft.ServerID(self.String()), Address: "unix:ok.db.raft"},
					{ID: hraft.ServerID(m.ServerID.String()), Address: hraft.ServerAddress("unix:" + name + ".raft")}}}
				l.Type, l.Data = hraft.LogConfiguration, hraft.EncodeConfiguration(cfg)
			case 'x':
				l.Type, l.Data = hraft.LogCommand, []byte("other")
			}
			logs = append(logs, l)
			require.NoError(t, st.StableStore().SetUint64([]byte("CurrentTerm"), max(3, e.term)))
		}
		require.NoError(t, st.LogStore().StoreLogs(logs))
	}
	member("m2.db", []ent{{2, 2, 0}, {3, 2, 0}, {4, 3, 0}, {5, 3, 'c'}})
	require.Equal(t, result{}, checkRun(t, p("ok.db"), p("m2.db")))
	member("m3.db", []ent{{2, 2, 0}, {3, 2, 'x'}, {4, 3, 0}})
	r := checkRun(t, p("m2.db"), p("m3.db"))
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "ovsdb-tool: log entries with index 3 differ:\n"+p("m2.db")+` has {"sha256":`)
	require.Contains(t, r.stderr, `"term":2,"type":"LogNoop"}`+"\n"+p("m3.db")+` has {"sha256":`)
	require.Contains(t, r.stderr, `"term":2,"type":"LogCommand"}`)
	// Entries of different terms at one index are not compared (one of
	// them is to be overwritten), nor anything above an index where the
	// terms last agree.
	member("m4.db", []ent{{2, 2, 0}, {3, 3, 'x'}, {4, 4, 0}, {5, 4, 'c'}})
	require.Equal(t, result{}, checkRun(t, p("ok.db"), p("m2.db"), p("m4.db")))
	// A member whose snapshot and log do not name it.
	member("m5.db", []ent{{2, 2, 0}, {3, 2, 0}, {4, 3, 0}})
	m5 := strings.Split(sid(p("m5.db")), "/")[0]
	require.Equal(t, result{"", "ovsdb-tool: " + p("m5.db") + ": server " + m5 + " not found in server list\n", 1},
		checkRun(t, p("ok.db"), p("m5.db")))

	for _, tc := range []struct {
		name    string
		entries [][2]uint64
		term    uint64
		edit    func(st *raftstore.Store)
		want    string // after "ovsdb-tool: PATH: "
	}{
		{"gap.db", [][2]uint64{{2, 2}, {3, 2}, {5, 2}}, 2, nil, "record 3 with index 5 skips past expected index 4"},
		{"start.db", [][2]uint64{{3, 2}, {4, 2}}, 2, nil, "record 1 with index 3 skips past expected index 2"},
		{"terms.db", [][2]uint64{{2, 2}, {3, 1}}, 2, nil, "record 2 with index 3 term 1 precedes previous entry's term 2"},
		{"future.db", [][2]uint64{{2, 2}, {3, 5}}, 3, nil, "record 2 with index 3 has term 5 but the current term is 3"},
		{"vote.db", ok, 3, func(st *raftstore.Store) {
			require.NoError(t, st.StableStore().SetUint64([]byte("LastVoteTerm"), 4))
		}, "last vote is for term 4 but current term is 3"},
		{"applied.db", ok, 3, func(st *raftstore.Store) {
			require.NoError(t, st.RecordApplied(raftstore.Applied{Index: 9, Term: 3}))
			require.NoError(t, st.LogStore().DeleteRange(4, 4))
			require.NoError(t, st.LogStore().StoreLogs([]*hraft.Log{{Index: 4, Term: 3, Type: hraft.LogNoop}}))
		}, "applied index 9 is past the last log index 4"},
		{"appliedterm.db", ok, 3, func(st *raftstore.Store) {
			require.NoError(t, st.RecordApplied(raftstore.Applied{Index: 3, Term: 3}))
			require.NoError(t, st.LogStore().DeleteRange(4, 4))
			require.NoError(t, st.LogStore().StoreLogs([]*hraft.Log{{Index: 4, Term: 3, Type: hraft.LogNoop}}))
		}, "applied index 3 has term 3 but the log entry there has term 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "gap.db" {
				// A log with a gap can only be written into bucket
				// "log"; a WAL refuses it.
				t.Setenv("OVSDB_GO_RAFT_WAL", "0")
			}
			ourMember(t, p(tc.name), cluster.CreateOptions{}, tc.entries, tc.term, tc.edit)
			require.Equal(t, result{"", "ovsdb-tool: " + p(tc.name) + ": " + tc.want + "\n", 1}, checkRun(t, p(tc.name)))
		})
	}

	// Damage that only a direct write can make: an entry that does not
	// decode, a snapshot whose data no longer matches its checksum.
	// (The first is damage to bucket "log", so that file keeps its log
	// there; a WAL's damage is FuzzWALSegment's in storage/raftstore.)
	t.Setenv("OVSDB_GO_RAFT_WAL", "0")
	ourMember(t, p("undecodable.db"), cluster.CreateOptions{}, ok, 3, nil)
	editBolt(t, p("undecodable.db"), func(tx *bolt.Tx) error {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], 3)
		return tx.Bucket([]byte("log")).Put(k[:], []byte{9, 9})
	})
	require.Equal(t, result{"", "ovsdb-tool: " + p("undecodable.db") + ": record 2: corrupt log entry at index 3: unknown encoding\n", 1},
		checkRun(t, p("undecodable.db")))
	ourMember(t, p("snap.db"), cluster.CreateOptions{}, ok, 3, nil)
	editBolt(t, p("snap.db"), func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("snapdata")).ForEach(func(id, _ []byte) error {
			b := tx.Bucket([]byte("snapdata")).Bucket(id)
			k, v := b.Cursor().First()
			v = bytes.Clone(v)
			v[len(v)/2] ^= 1
			return b.Put(k, v)
		})
	})
	r = checkRun(t, p("snap.db"))
	require.Equal(t, 1, r.code)
	require.Regexp(t, `^ovsdb-tool: `+regexpQuote(p("snap.db"))+`: snapshot 1-1-\d+ \(index 1, term 1\): .*`, r.stderr)

	// Bytes appended to the file (Kube-OVN's tests damage a member's
	// file so: C's check-cluster then fails to parse its log).
	ourMember(t, p("appended.db"), cluster.CreateOptions{}, ok, 3, nil)
	fi, err := os.Stat(p("appended.db"))
	require.NoError(t, err)
	f, err := os.OpenFile(p("appended.db"), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(make([]byte, 13))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Equal(t, result{"", fmt.Sprintf("ovsdb-tool: syntax error: %s: 13 bytes after the last page at offset %d\n",
		p("appended.db"), fi.Size()), 1}, checkRun(t, p("appended.db")))

	// A truncated file; a file with a damaged page: failed checks
	// (status 1), never a crash of the tool.
	ourMember(t, p("whole.db"), cluster.CreateOptions{}, ok, 3, nil)
	whole, err := os.ReadFile(p("whole.db"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p("truncated.db"), whole[:len(whole)/2], 0o640))
	r = checkRun(t, p("truncated.db"))
	require.Equal(t, 1, r.code)
	require.Regexp(t, `^ovsdb-tool: ovsdb error: `+regexpQuote(p("truncated.db"))+`: unexpected file format \(truncated: \d+ bytes, its pages take \d+\)\n$`, r.stderr)
	failed := 0
	for pg := 2; pg*4096 < len(whole); pg++ {
		b := bytes.Clone(whole)
		for i := pg * 4096; i < (pg+1)*4096; i++ {
			b[i] = byte(i*7 + 0xa5)
		}
		require.NoError(t, os.WriteFile(p("damaged.db"), b, 0o640))
		r := checkRun(t, p("damaged.db"))
		require.Contains(t, []int{0, 1}, r.code, "page %d: %+v", pg, r)
		if r.code == 1 {
			failed++
			require.True(t, strings.HasPrefix(r.stderr, "ovsdb-tool: "), "page %d: %q", pg, r.stderr)
		}
	}
	require.NotZero(t, failed, "no damaged page detected")

	// A member that left: reported, and not required in its configuration.
	ourMember(t, p("left.db"), cluster.CreateOptions{}, ok, 3, func(st *raftstore.Store) {
		m := st.Meta()
		m.Left = true
		require.NoError(t, st.SetMeta(m))
	})
	require.Equal(t, result{p("left.db") + ": the file shows that the server left the cluster\n", "", 0}, checkRun(t, p("left.db")))
}

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// copyWAL copies the WAL directory of the member file src (if it has one)
// to dst's: a member's file and its directory are copied together.
func copyWAL(t *testing.T, src, dst string) {
	t.Helper()
	ents, err := os.ReadDir(raftstore.WALDir(src))
	if os.IsNotExist(err) {
		return
	}
	require.NoError(t, err)
	require.NoError(t, os.Mkdir(raftstore.WALDir(dst), 0o750))
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(raftstore.WALDir(src), e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(raftstore.WALDir(dst), e.Name()), b, 0o640))
	}
}

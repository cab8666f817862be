package raftstore

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/schema"
)

// listFSM records applied commands in order.
type listFSM struct {
	mu   sync.Mutex
	vals []string
}

func (f *listFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vals = append(f.vals, string(l.Data))
	return len(f.vals)
}

func (f *listFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return listSnap(slices.Clone(f.vals)), nil
}

func (f *listFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var vals []string
	if err := json.NewDecoder(rc).Decode(&vals); err != nil {
		return err
	}
	f.mu.Lock()
	f.vals = vals
	f.mu.Unlock()
	return nil
}

func (f *listFSM) values() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.vals)
}

type listSnap []string

func (s listSnap) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode([]string(s)); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (listSnap) Release() {}

type member struct {
	path  string
	addr  raft.ServerAddress
	store *Store
	fsm   *listFSM
	trans *raft.InmemTransport
	r     *raft.Raft
}

func (m *member) start(t *testing.T, peers []*member) {
	t.Helper()
	s, err := Open(m.path)
	require.NoError(t, err)
	m.store = s
	m.fsm = &listFSM{}
	_, m.trans = raft.NewInmemTransport(m.addr)
	for _, p := range peers {
		if p != m && p.trans != nil {
			m.trans.Connect(p.addr, p.trans)
			p.trans.Connect(m.addr, m.trans)
		}
	}
	meta := s.Meta()
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(meta.ServerID.String())
	conf.HeartbeatTimeout = 500 * time.Millisecond
	conf.ElectionTimeout = 500 * time.Millisecond
	conf.LeaderLeaseTimeout = 250 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.SnapshotThreshold = 1 << 40 // snapshots only on request
	conf.SnapshotInterval = time.Hour
	conf.TrailingLogs = 20
	conf.Logger = hclog.NewNullLogger()
	m.r, err = raft.NewRaft(conf, m.fsm, s.LogStore(), s.StableStore(), s.SnapshotStore(), m.trans)
	require.NoError(t, err)
}

func (m *member) stop(t *testing.T) {
	t.Helper()
	if m.r == nil {
		return
	}
	require.NoError(t, m.r.Shutdown().Error())
	m.r = nil
	require.NoError(t, m.trans.Close())
	require.NoError(t, m.store.Close())
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func leaderOf(ms []*member) *member {
	for _, m := range ms {
		if m.r != nil && m.r.State() == raft.Leader {
			return m
		}
	}
	return nil
}

func applyN(t *testing.T, ms []*member, from, to int) {
	t.Helper()
	var futs []raft.ApplyFuture
	l := leaderOf(ms)
	require.NotNil(t, l)
	for i := from; i < to; i++ {
		futs = append(futs, l.r.Apply([]byte(fmt.Sprintf("v%d", i)), 10*time.Second))
	}
	for _, f := range futs {
		require.NoError(t, f.Error())
	}
}

func wantVals(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("v%d", i)
	}
	return out
}

// TestRaftClusterOnStores runs a real 3-member hashicorp/raft cluster on
// our stores: replication, snapshots with log compaction, restart of a
// member from its file, and catch-up by install-snapshot.
func TestRaftClusterOnStores(t *testing.T) {
	smallChunks(t, 256) // snapshots of a few KiB span many chunks
	dir := t.TempDir()
	cid := schema.NewUUID()
	var ms []*member
	var servers []raft.Server
	for i := range 3 {
		m := &member{path: filepath.Join(dir, fmt.Sprintf("s%d.db", i)), addr: raft.ServerAddress(fmt.Sprintf("n%d", i))}
		meta := testMeta()
		meta.ClusterID = cid
		meta.LocalAddress = string(m.addr)
		require.NoError(t, Create(m.path, meta))
		servers = append(servers, raft.Server{Suffrage: raft.Voter,
			ID: raft.ServerID(meta.ServerID.String()), Address: m.addr})
		ms = append(ms, m)
	}
	t.Cleanup(func() {
		for _, m := range ms {
			m.stop(t)
		}
	})
	for _, m := range ms {
		m.start(t, ms)
	}
	for _, m := range ms {
		require.NoError(t, m.r.BootstrapCluster(raft.Configuration{Servers: servers}).Error())
	}
	waitFor(t, "a leader", func() bool { return leaderOf(ms) != nil })

	applyN(t, ms, 0, 200)
	for _, m := range ms {
		waitFor(t, "200 entries on "+string(m.addr), func() bool { return len(m.fsm.values()) == 200 })
		require.NoError(t, m.r.Snapshot().Error())
		first, err := m.store.LogStore().FirstIndex()
		require.NoError(t, err)
		require.Greater(t, first, uint64(100), "log compacted after snapshot on %s", m.addr)
		snaps, err := m.store.SnapshotStore().List()
		require.NoError(t, err)
		require.Len(t, snaps, 1)
	}

	// Stop a follower; the others go on and compact past its log.
	var f *member
	for _, m := range ms {
		if m != leaderOf(ms) {
			f = m
			break
		}
	}
	require.NotNil(t, f)
	fsnaps, err := f.store.SnapshotStore().List()
	require.NoError(t, err)
	oldSnapIndex := fsnaps[0].Index
	f.stop(t)

	applyN(t, ms, 200, 300)
	l := leaderOf(ms)
	require.NotNil(t, l)
	require.NoError(t, l.r.Snapshot().Error())
	lsnaps, err := l.store.SnapshotStore().List()
	require.NoError(t, err)
	require.Len(t, lsnaps, 2, "two snapshots retained")
	applyN(t, ms, 300, 310)

	// Restart the follower from its file: its snapshot is restored at once.
	f.start(t, ms)
	require.GreaterOrEqual(t, len(f.fsm.values()), 200)
	require.Equal(t, wantVals(200), f.fsm.values()[:200])
	waitFor(t, "follower catch-up", func() bool { return len(f.fsm.values()) == 310 })
	for _, m := range ms {
		waitFor(t, "310 entries on "+string(m.addr), func() bool { return len(m.fsm.values()) == 310 })
		require.Equal(t, wantVals(310), m.fsm.values())
	}
	// It caught up through install-snapshot, written into its store.
	fsnaps, err = f.store.SnapshotStore().List()
	require.NoError(t, err)
	require.Greater(t, fsnaps[0].Index, oldSnapIndex)
}

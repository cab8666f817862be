package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/raft"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

// inProc is an in-process cluster of Members for the join tests.
type inProc struct {
	t       *testing.T
	dir     string
	members []*Member
	paths   []string
	addrs   []string
}

// createCluster makes the files of an n-member cluster of schema C (one
// table T, a string column k) in a new directory: addresses proto:
// 127.0.0.1 with ports free at the time, member 0's file created; the
// others are still to join.
func createCluster(t *testing.T, proto string, n int) *inProc {
	t.Helper()
	s, err := schema.ParseSchemaBytes([]byte(`{"name":"C","version":"1.0.0","tables":{"T":{"columns":{"k":{"type":"string"}}}}}`))
	require.NoError(t, err)
	ic := &inProc{t: t, dir: t.TempDir()}
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ic.addrs = append(ic.addrs, proto+":"+l.Addr().String())
		require.NoError(t, l.Close())
		ic.paths = append(ic.paths, filepath.Join(ic.dir, fmt.Sprintf("m%d.db", i)))
	}
	require.NoError(t, Create(ic.paths[0], s, ic.addrs[0]))
	return ic
}

// openCluster creates and opens an n-member cluster (create-cluster for
// the first, join-cluster for the others) on free ports, and waits until
// the leader lists every member as a voter.
func openCluster(t *testing.T, n int) *inProc {
	ic := createCluster(t, "tcp", n)
	for i := 0; i < n; i++ {
		if i > 0 {
			require.NoError(t, Join(ic.paths[i], "C", ic.addrs[i], ic.addrs[:1]))
		}
		m, err := Open(ic.paths[i])
		require.NoError(t, err)
		ic.members = append(ic.members, m)
	}
	t.Cleanup(func() {
		for _, m := range ic.members {
			if m != nil {
				m.Close()
			}
		}
	})
	ic.waitVoters(n)
	return ic
}

// eventually polls cond every 20 ms until it holds, at most limit.
func eventually(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "timed out waiting for %s", what)
		time.Sleep(20 * time.Millisecond)
	}
}

// leader returns the open member that leads, waiting for one.
func (ic *inProc) leader() *Member {
	var ldr *Member
	eventually(ic.t, "a leader", 20*time.Second, func() bool {
		for _, m := range ic.members {
			if m != nil && m.IsLeader() {
				ldr = m
				return true
			}
		}
		return false
	})
	return ldr
}

// servers returns the leader's configuration.
func (ic *inProc) servers() []hraft.Server {
	f := ic.leader().node.Raft().GetConfiguration()
	require.NoError(ic.t, f.Error())
	return f.Configuration().Servers
}

// waitVoters waits until the leader's configuration has n servers, all
// voters, and every open member has finished joining.
func (ic *inProc) waitVoters(n int) {
	eventually(ic.t, fmt.Sprintf("%d voters", n), 30*time.Second, func() bool {
		for _, m := range ic.members {
			if m != nil && m.Meta().Joining() {
				return false
			}
		}
		ss := ic.servers()
		for _, s := range ss {
			if s.Suffrage != hraft.Voter {
				return false
			}
		}
		return len(ss) == n
	})
}

// follower returns the index of an open member that does not lead.
func (ic *inProc) follower() int {
	ldr := ic.leader()
	for i, m := range ic.members {
		if m != nil && m != ldr {
			return i
		}
	}
	ic.t.Fatal("no follower")
	return -1
}

// insert writes key k through member m.
func insertKey(t *testing.T, m *Member, k string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res := m.Transact(ctx, []any{map[string]any{"op": "insert", "table": "T", "row": map[string]any{"k": k}}}, ovsdb.TransactOptions{})
	require.Len(t, res, 1)
	b := string(cjson.Marshal(res))
	require.Contains(t, b, `"uuid"`, "insert %s", k)
	require.NotContains(t, b, `"error"`, "insert %s", k)
}

// memberKeys returns the keys of table T in m's applied state.
func memberKeys(t *testing.T, m *Member) map[string]bool {
	t.Helper()
	res := m.Transact(context.Background(), []any{map[string]any{"op": "select", "table": "T", "where": []any{}}},
		ovsdb.TransactOptions{ReadOnly: true})
	var got []struct {
		Rows []struct {
			K string `json:"k"`
		} `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(cjson.Marshal(res), &got))
	require.Len(t, got, 1)
	out := map[string]bool{}
	for _, r := range got[0].Rows {
		out[r.K] = true
	}
	return out
}

// captureLog sends slog's lines to a buffer until the test ends.
func captureLog(t *testing.T) func() string {
	var mu sync.Mutex
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelInfo})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// TestJoinAtLiveAddressRefused (issue 13): a join request naming a new
// server id at the address of a member that still answers, or at the
// leader's own address, is refused with the documented error, and the
// configuration is unchanged.
func TestJoinAtLiveAddressRefused(t *testing.T) {
	ic := openCluster(t, 3)
	ldr := ic.leader()
	f := ic.members[ic.follower()]
	fid := f.Meta().ServerID.String()
	before := ic.servers()
	cl := raft.NewClient()
	defer cl.Close()
	for _, tc := range []struct {
		addr, id, why string
	}{
		{f.Address(), fid, "last answered "},
		{ldr.Address(), ldr.Meta().ServerID.String(), "it is this leader"},
	} {
		newID := schema.NewUUID().String()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := cl.Join(ctx, []string{ic.addrs[0], ic.addrs[1]}, newID, tc.addr)
		cancel()
		require.Error(t, err)
		require.Contains(t, err.Error(), fmt.Sprintf("server %s at %s still answers; not replaced by server %s (%s", tc.id, tc.addr, newID, tc.why))
		require.Contains(t, err.Error(), "a server is replaced once it has not answered for 2000 ms)")
		require.Equal(t, before, ic.servers(), "configuration unchanged")
	}
}

// TestWipedMemberReplacedInProcess (issue 13): a member whose file was
// wiped rejoins at its address with a new server id: the leader replaces
// the old id (once silent), the new member catches up and becomes a
// voter, and has every write made before.
func TestWipedMemberReplacedInProcess(t *testing.T) {
	logs := captureLog(t)
	ic := openCluster(t, 3)
	for i := 0; i < 20; i++ {
		insertKey(t, ic.leader(), fmt.Sprintf("k%d", i))
	}
	v := ic.follower()
	oldID := ic.members[v].Meta().ServerID.String()
	require.NoError(t, ic.members[v].Close())
	ic.members[v] = nil
	require.NoError(t, os.Remove(ic.paths[v]))
	require.NoError(t, Join(ic.paths[v], "C", ic.addrs[v], []string{ic.addrs[(v+1)%3]}))
	m, err := Open(ic.paths[v])
	require.NoError(t, err)
	ic.members[v] = m
	newID := m.Meta().ServerID.String()
	require.NotEqual(t, oldID, newID)
	ic.waitVoters(3)
	ids := map[string]bool{}
	for _, s := range ic.servers() {
		ids[string(s.ID)] = true
		if string(s.ID) == newID {
			require.Equal(t, ic.addrs[v], string(s.Address))
		}
	}
	require.True(t, ids[newID], "new id in the configuration")
	require.False(t, ids[oldID], "old id gone")
	eventually(t, "the rejoined member has every key", 20*time.Second, func() bool { return len(memberKeys(t, m)) == 20 })
	require.Contains(t, logs(), fmt.Sprintf("replacing server %s at %s, which has not answered for ", oldID, ic.addrs[v]))
	require.Contains(t, logs(), "with new server "+newID)
	// The cluster keeps working with the new member.
	insertKey(t, ic.leader(), "after")
	eventually(t, "the write on the rejoined member", 20*time.Second, func() bool { return memberKeys(t, m)["after"] })
}

// TestJoinResumesNonvoter (issue 13): a replacement interrupted after the
// new server was added as a nonvoter (as when the leader fails in the
// middle) is finished by the joiner's next request: it is promoted once
// it has caught up.
func TestJoinResumesNonvoter(t *testing.T) {
	logs := captureLog(t)
	ic := openCluster(t, 3)
	insertKey(t, ic.leader(), "before")
	v := ic.follower()
	oldID := ic.members[v].Meta().ServerID
	require.NoError(t, ic.members[v].Close())
	ic.members[v] = nil
	require.NoError(t, os.Remove(ic.paths[v]))
	require.NoError(t, Join(ic.paths[v], "C", ic.addrs[v], []string{ic.addrs[(v+1)%3]}))
	st, err := raftstore.Open(ic.paths[v])
	require.NoError(t, err)
	newID := st.Meta().ServerID.String()
	require.NoError(t, st.Close())

	// The first half of a replacement, as an earlier leader did it.
	r := ic.leader().node.Raft()
	require.NoError(t, r.RemoveServer(hraft.ServerID(oldID.String()), 0, 10*time.Second).Error())
	require.NoError(t, r.AddNonvoter(hraft.ServerID(newID), hraft.ServerAddress(ic.addrs[v]), 0, 10*time.Second).Error())

	m, err := Open(ic.paths[v])
	require.NoError(t, err)
	ic.members[v] = m
	ic.waitVoters(3)
	require.Contains(t, logs(), fmt.Sprintf("server %s at %s is a nonvoter: promoting it once it has caught up", newID, ic.addrs[v]))
	require.Contains(t, logs(), fmt.Sprintf("server %s at %s caught up", newID, ic.addrs[v]))
	require.NotContains(t, logs(), "replacing server")
	eventually(t, "the rejoined member has the write", 20*time.Second, func() bool { return memberKeys(t, m)["before"] })
}

// TestKickByAddress: cluster/kick with a member's address removes it.
func TestKickByAddress(t *testing.T) {
	ic := openCluster(t, 3)
	ldr := ic.leader()
	v := ic.follower()
	vid := ic.members[v].Meta().ServerID.String()
	r, err := ldr.Kick(ic.addrs[v])
	require.NoError(t, err)
	require.Equal(t, "started removal", r)
	for _, s := range ic.servers() {
		require.NotEqual(t, vid, string(s.ID))
	}
	require.Len(t, ic.servers(), 2)
	eventually(t, "the kicked member knows it left", 20*time.Second, func() bool { return ic.members[v].Left() })
}

package raft

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// shortDir is a temporary directory with a short path, so that socket
// paths in it fit sun_path without the /proc/self/fd detour.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "rx")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestParseAddress(t *testing.T) {
	t.Setenv("OVS_RUNDIR", "/run/test")
	for _, tc := range []struct{ in, network, addr, err string }{
		{"tcp:127.0.0.1:6643", "tcp", "127.0.0.1:6643", ""},
		{"tcp:[::1]:6643", "tcp", "[::1]:6643", ""},
		{"unix:s1.raft", "unix", "/run/test/s1.raft", ""},
		{"unix:sub/s1.raft", "unix", "/run/test/sub/s1.raft", ""},
		{"unix:/run/ovn/s1.raft", "unix", "/run/ovn/s1.raft", ""},
		{"unix:", "", "", "unix:: bad address (path required)"},
		{"ssl:1.2.3.4:5", "tcp", "1.2.3.4:5", ""},
		{"ssl:[::1]:6643", "tcp", "[::1]:6643", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			n, a, err := ParseAddress(tc.in)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.network, n)
			require.Equal(t, tc.addr, a)
		})
	}
}

// TestValidateAddress: C's raft_address_validate (checked against C's
// ovsdb-tool create-cluster in cmd/ovsdb-tool's differential test).
func TestValidateAddress(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{"tcp:127.0.0.1:6643", ""},
		{"tcp:[::1]:6643", ""},
		{"tcp:nosuchhost.invalid:6641", ""},
		{"tcp::5", ""},
		{"unix:s1.raft", ""},
		{"unix:", ""},
		{"nonsense", `nonsense: expected "tcp" or "ssl" address`},
		{"127.0.0.1:6641", `127.0.0.1:6641: expected "tcp" or "ssl" address`},
		{"tcp:1.2.3.4", "tcp:1.2.3.4: syntax error in address"},
		{"tcp:1.2.3.4:99999", "tcp:1.2.3.4:99999: syntax error in address"},
		{"tcp:1.2.3.4:abc", "tcp:1.2.3.4:abc: syntax error in address"},
		{"tcp:[::1", "tcp:[::1: syntax error in address"},
		{"tcp:[zz::1]:5", "tcp:[zz::1]:5: syntax error in address"},
		{"ssl:1.2.3.4:5", ""},
		{"ssl:[::1]:6643", ""},
		{"ssl:1.2.3.4", "ssl:1.2.3.4: syntax error in address"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			err := ValidateAddress(tc.in)
			if tc.err == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tc.err)
			}
		})
	}
}

// TestUnixMux: a listener on a unix socket takes the place of a stale
// socket file, is reached by the dialers, keeps its address as given, and
// removes its file when closed; a path too long for sun_path works too.
func TestUnixMux(t *testing.T) {
	dir := shortDir(t)
	long := filepath.Join(dir, strings.Repeat("d", 100))
	require.NoError(t, os.Mkdir(long, 0o755))
	for _, path := range []string{filepath.Join(dir, "s1.raft"), filepath.Join(long, "s1.raft")} {
		// A stale socket left by a process that died.
		name, done, err := unixName(path)
		require.NoError(t, err)
		stale, err := net.Listen("unix", name)
		done()
		require.NoError(t, err)
		stale.(*net.UnixListener).SetUnlinkOnClose(false)
		require.NoError(t, stale.Close())
		_, err = os.Lstat(path)
		require.NoError(t, err, "stale socket file")

		addr := "unix:" + path
		mux, err := ListenAs(addr, "b")
		require.NoError(t, err)
		require.Equal(t, hraft.ServerAddress(addr), mux.Address())
		require.Equal(t, "unix", streamLayer{mux}.Addr().Network())
		c, err := dialRaft(nil, string(targetAddress("b", mux.Address())), 5*time.Second)
		require.NoError(t, err)
		c.Close()
		_, err = dialRaft(nil, string(targetAddress("a", mux.Address())), 5*time.Second)
		var re *RefusedError
		require.ErrorAs(t, err, &re)
		require.NoError(t, mux.Close())
		_, err = os.Lstat(path)
		require.True(t, os.IsNotExist(err), "socket file removed by Close: %v", err)
	}

	// A regular file at the path is not removed: listening fails.
	reg := filepath.Join(dir, "file.raft")
	require.NoError(t, os.WriteFile(reg, nil, 0o644))
	_, err := Listen("unix:" + reg)
	require.ErrorContains(t, err, "unix:"+reg+": listen failed")
	_, err = os.Stat(reg)
	require.NoError(t, err)
}

// TestUnixCluster: three members on unix socket addresses elect a leader,
// replicate, forward a follower's write to the leader and send commit
// notices, all over the unix sockets.
//
// The addresses are relative, as in C's own cluster tests: in the run
// directory ($OVS_RUNDIR).
func TestUnixCluster(t *testing.T) {
	dir := shortDir(t)
	t.Setenv("OVS_RUNDIR", dir)
	cid := schema.NewUUID()
	var ms []*netMember
	var servers []hraft.Server
	for _, id := range []string{"a", "b", "c"} {
		m := startNetMemberAt(t, id, cid, "unix:"+id+".raft")
		ms = append(ms, m)
		servers = append(servers, hraft.Server{Suffrage: hraft.Voter, ID: hraft.ServerID(id), Address: m.mux.Address()})
	}
	require.NoError(t, ms[0].node.Bootstrap(servers))
	li := -1
	eventually(t, "a leader", func() bool {
		for i, m := range ms {
			if m.node.Raft().State() == hraft.Leader {
				li = i
				return true
			}
		}
		return false
	}, netState(ms...))
	fi := (li + 1) % 3
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.Len(t, ms[li].node.Transact(ctx, insertOps(t, "x"), ovsdb.TransactOptions{}), 2)
	// Through a follower: forwarded to the leader on its unix socket.
	res := ms[fi].node.Transact(ctx, insertOps(t, "y"), ovsdb.TransactOptions{})
	require.Len(t, res, 2)
	require.NotContains(t, res[0], "error")
	eventually(t, "x and y on every member", func() bool {
		for _, m := range ms {
			if strings.Join(keys(m.node.Database()), ",") != "x,y" {
				return false
			}
		}
		return true
	}, netState(ms...))
	for i, m := range ms {
		require.Equal(t, "unix", m.mux.ln.Addr().Network())
		require.Equal(t, hraft.ServerAddress("unix:"+"abc"[i:i+1]+".raft"), m.mux.Address())
		_, err := os.Lstat(filepath.Join(dir, "abc"[i:i+1]+".raft"))
		require.NoError(t, err, "socket in the run directory")
	}
}

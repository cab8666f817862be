package raft

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf/tlstest"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// memberTLS returns the TLS configuration of a member whose certificate
// (common name cn) is issued by ca and which trusts the CA in caFile.
func memberTLS(t *testing.T, ca *tlstest.CA, cn, caFile string) *tlsconf.Config {
	t.Helper()
	dir := t.TempDir()
	cert, key := ca.Issue(t, cn).Write(t, dir, cn)
	c, err := tlsconf.New(tlsconf.Settings{PrivateKey: key, Certificate: cert, CACert: caFile}, nil)
	require.NoError(t, err)
	return c
}

// startTLSMember starts member id on a fresh "ssl:127.0.0.1:PORT"
// address with TLS configuration tc.
func startTLSMember(t *testing.T, id string, cid schema.UUID, tc *tlsconf.Config) *netMember {
	t.Helper()
	mux, err := ListenTLS("ssl:127.0.0.1:0", id, tc)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(mux.Address()), "ssl:127.0.0.1:"), mux.Address())
	m := &netMember{mux: mux, trans: mux.NewTransport(0), cli: NewClientTLS(tc), cid: cid, logs: hraft.NewInmemStore()}
	m.node, err = Open(Config{ID: hraft.ServerID(id), Address: mux.Address(), ClusterID: cid, Schema: testSchema(t),
		ElectionTimer: 300 * time.Millisecond, LogStore: m.logs, StableStore: m.logs,
		SnapshotStore: hraft.NewInmemSnapshotStore(), Transport: m.trans, Forwarder: m.cli, Notifier: m.cli})
	require.NoError(t, err)
	mux.SetHandler(&NodeHandler{Node: m.node, Meta: func() (schema.UUID, string, []byte) {
		return m.cid, "T", []byte(testSchemaJSON)
	}})
	t.Cleanup(m.stop)
	return m
}

// captureLogs records the messages of the default logger for the test.
func captureLogs(t *testing.T) func() []string {
	var mu sync.Mutex
	var got [][2]string
	old := slog.Default()
	slog.SetDefault(slog.New(&captureHandler{mu: &mu, got: &got}))
	t.Cleanup(func() { slog.SetDefault(old) })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, g := range got {
			out = append(out, g[0]+"|"+g[1])
		}
		return out
	}
}

func anyContains(lines []string, parts ...string) bool {
	for _, l := range lines {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestTLSCluster: three members on ssl: addresses, all with certificates
// of one CA, make a cluster over TLS: hello and join (cluster RPC),
// Raft replication, a write forwarded from a follower and its commit
// notice. The listener speaks nothing but TLS.
func TestTLSCluster(t *testing.T) {
	ca := tlstest.NewCA(t, "cluster-ca")
	caFile := ca.Write(t, t.TempDir(), "cacert")
	cid := schema.NewUUID()
	a := startTLSMember(t, "a", cid, memberTLS(t, ca, "a", caFile))
	require.NoError(t, a.node.Bootstrap(nil))
	eventually(t, "a leads", func() bool { return a.node.Raft().State() == hraft.Leader }, netState(a))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	members := []*netMember{a}
	for _, id := range []string{"b", "c"} {
		m := startTLSMember(t, id, schema.UUID{}, memberTLS(t, ca, id, caFile))
		hello, err := m.cli.Hello(ctx, []string{string(a.mux.Address())})
		require.NoError(t, err)
		require.Equal(t, cid.String(), hello.ClusterID)
		_, err = m.cli.Join(ctx, []string{string(a.mux.Address())}, id, string(m.mux.Address()))
		require.NoError(t, err)
		members = append(members, m)
	}
	b, c := members[1], members[2]
	eventually(t, "b and c follow a", func() bool {
		_, lb := b.node.Raft().LeaderWithID()
		_, lc := c.node.Raft().LeaderWithID()
		return lb == "a" && lc == "a"
	}, netState(members...))

	res := b.node.Transact(ctx, insertOps(t, "x"), ovsdb.TransactOptions{})
	require.Len(t, res, 2, "%v\n%s", res, netState(members...)())
	require.Equal(t, []string{"x"}, keys(b.node.Database()))
	res = a.node.Transact(ctx, insertOps(t, "y"), ovsdb.TransactOptions{})
	require.Len(t, res, 2, "%v", res)
	eventually(t, "x,y everywhere", func() bool {
		for _, m := range members {
			if strings.Join(keys(m.node.Database()), ",") != "x,y" {
				return false
			}
		}
		return true
	}, netState(members...))

	// Plaintext to the ssl: listener: the protocol byte is taken as the
	// start of a TLS handshake, which fails, and nothing is answered.
	tcpAddr := "tcp:" + strings.TrimPrefix(string(a.mux.Address()), "ssl:")
	_, err := dialRaft(nil, string(targetAddress("a", hraft.ServerAddress(tcpAddr))), 5*time.Second)
	require.Error(t, err)
	// An ssl: address cannot be dialed, nor listened on, without TLS.
	_, err = dialRaft(nil, string(targetAddress("a", a.mux.Address())), 5*time.Second)
	require.ErrorContains(t, err, "an ssl cluster address needs TLS")
	_, err = NewClient().Call(ctx, string(a.mux.Address()), &Request{Op: OpHello})
	require.ErrorContains(t, err, "an ssl cluster address needs TLS")
	_, err = Listen("ssl:127.0.0.1:0")
	require.ErrorContains(t, err, "ssl:127.0.0.1:0: an ssl cluster address needs TLS")
	notReady, err := tlsconf.New(tlsconf.Settings{CACert: caFile}, nil)
	require.NoError(t, err)
	_, err = ListenTLS("ssl:127.0.0.1:0", "z", notReady)
	require.ErrorContains(t, err, "ssl:127.0.0.1:0: cannot use TLS: Private key must be configured to use SSL; "+
		"Certificate must be configured to use SSL")
	// A TLS client without a certificate is refused by the listener.
	tcp, err := net.DialTimeout("tcp", strings.TrimPrefix(string(a.mux.Address()), "ssl:"), 5*time.Second)
	require.NoError(t, err)
	defer tcp.Close()
	anon := tls.Client(tcp, &tls.Config{InsecureSkipVerify: true})
	_ = anon.SetDeadline(time.Now().Add(10 * time.Second))
	err = anon.Handshake()
	if err == nil {
		// TLS 1.3: the server's refusal arrives after the client's
		// handshake is done.
		_, err = anon.Read(make([]byte, 1))
	}
	require.Error(t, err)
}

// TestTLSRefusesOtherCA: a member whose certificate comes from another
// CA cannot join. When it trusts the cluster's CA, the cluster's member
// refuses its certificate and logs the subject, issuer and why; when it
// trusts only its own CA, it refuses the cluster member's certificate
// and logs why. Nothing is replicated to it.
func TestTLSRefusesOtherCA(t *testing.T) {
	logs := captureLogs(t)
	ca := tlstest.NewCA(t, "cluster-ca")
	other := tlstest.NewCA(t, "rogue-ca")
	dir := t.TempDir()
	caFile := ca.Write(t, dir, "cacert")
	otherFile := other.Write(t, dir, "rogue")
	cid := schema.NewUUID()
	a := startTLSMember(t, "a", cid, memberTLS(t, ca, "a", caFile))
	require.NoError(t, a.node.Bootstrap(nil))
	eventually(t, "a leads", func() bool { return a.node.Raft().State() == hraft.Leader }, netState(a))

	for _, trust := range []string{caFile, otherFile} {
		x := startTLSMember(t, "x", schema.UUID{}, memberTLS(t, other, "intruder", trust))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := x.cli.Hello(ctx, []string{string(a.mux.Address())})
		cancel()
		require.Error(t, err, "trusting %s", trust)
		if trust == caFile {
			// a refused x's certificate after x's TLS 1.3 handshake: x
			// learns it from a's alert, and says so.
			require.True(t, anyContains(logs(), "stream_ssl|", string(a.mux.Address())+
				": the cluster member refused this member's TLS connection: remote error: tls: bad certificate"),
				"%s", strings.Join(logs(), "\n"))
		}
		if trust == otherFile {
			// x verifies a's certificate first and refuses it.
			require.ErrorContains(t, err, string(a.mux.Address())+": TLS handshake: peer certificate "+
				`(subject "CN=a,O=ovsdb-go tests", issuer "CN=cluster-ca,O=ovsdb-go tests") refused: `+
				"x509: certificate signed by unknown authority")
			require.True(t, anyContains(logs(), "stream_ssl|", string(a.mux.Address())+": refused cluster member",
				`subject "CN=a,O=ovsdb-go tests"`, `issuer "CN=cluster-ca,O=ovsdb-go tests"`,
				"certificate signed by unknown authority"), "%s", strings.Join(logs(), "\n"))
		}
		// a, the leader, replicates to x at its address as to a
		// non-voter: a refuses x's certificate, so x gets nothing.
		require.NoError(t, a.node.Raft().AddNonvoter("x", x.mux.Address(), 0, 5*time.Second).Error())
		eventually(t, "a refused x as a server", func() bool {
			return anyContains(logs(), "stream_ssl|", string(x.mux.Address())+": refused cluster member",
				`subject "CN=intruder,O=ovsdb-go tests"`, `issuer "CN=rogue-ca,O=ovsdb-go tests"`,
				"certificate signed by unknown authority")
		}, func() string { return strings.Join(logs(), "\n") })
		require.Empty(t, keys(x.node.Database()))
		require.Equal(t, uint64(0), x.node.Raft().LastIndex(), "x stored entries from a")
		require.NoError(t, a.node.Raft().RemoveServer("x", 0, 5*time.Second).Error())
	}
	// a refused x's certificate (the first x trusted a's CA, so a saw its
	// certificate) and said why.
	eventually(t, "a logged the refusal", func() bool {
		return anyContains(logs(), "stream_ssl|", string(a.mux.Address())+": refused cluster connection from ssl:127.0.0.1:",
			`subject "CN=intruder,O=ovsdb-go tests"`, `issuer "CN=rogue-ca,O=ovsdb-go tests"`,
			"certificate signed by unknown authority")
	}, func() string { return strings.Join(logs(), "\n") })
}

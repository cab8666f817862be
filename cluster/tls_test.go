package cluster

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf/tlstest"
)

// tlsFor returns the TLS configuration of a member with a certificate
// for cn issued by ca, trusting the CA certificate in caFile.
func tlsFor(t *testing.T, ca *tlstest.CA, cn, caFile string) *tlsconf.Config {
	t.Helper()
	cert, key := ca.Issue(t, cn).Write(t, t.TempDir(), cn)
	c, err := tlsconf.New(tlsconf.Settings{PrivateKey: key, Certificate: cert, CACert: caFile}, nil)
	require.NoError(t, err)
	return c
}

// tlsMembers is the TLS configuration of n members, member i with its
// own certificate of ca for CN=member<i>, all trusting caFile.
func tlsMembers(t *testing.T, ca *tlstest.CA, caFile string, n int) []*tlsconf.Config {
	t.Helper()
	var cfgs []*tlsconf.Config
	for i := 0; i < n; i++ {
		cfgs = append(cfgs, tlsFor(t, ca, fmt.Sprintf("member%d", i), caFile))
	}
	return cfgs
}

// openTLSCluster is openCluster on ssl: addresses, member i opened with
// TLS configuration cfgs[i].
func openTLSCluster(t *testing.T, cfgs []*tlsconf.Config) *inProc {
	ic := createCluster(t, "ssl", len(cfgs))
	t.Cleanup(func() {
		for _, m := range ic.members {
			if m != nil {
				m.Close()
			}
		}
	})
	for i, cfg := range cfgs {
		if i > 0 {
			require.NoError(t, Join(ic.paths[i], "C", ic.addrs[i], ic.addrs[:1]))
		}
		m, err := OpenWith(ic.paths[i], Options{TLS: cfg})
		require.NoError(t, err)
		ic.members = append(ic.members, m)
	}
	ic.waitVoters(len(cfgs))
	return ic
}

// TestClusterTLS: a 3-member cluster made with create-cluster and
// join-cluster on ssl: addresses, every member with its own certificate
// of one CA: the members join over TLS, a write through a follower is
// forwarded and reaches every member. A file with an ssl: address (its
// own, or one it joins through) does not open without usable TLS
// settings, with an error that says so.
func TestClusterTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "cluster-ca")
	caFile := ca.Write(t, t.TempDir(), "cacert")
	cfgs := tlsMembers(t, ca, caFile, 3)
	ic := openTLSCluster(t, cfgs)
	f := ic.members[ic.follower()]
	insertKey(t, f, "over-tls")
	for i, m := range ic.members {
		eventually(t, fmt.Sprintf("member %d has the key", i), 20*time.Second, func() bool { return memberKeys(t, m)["over-tls"] })
	}
	for _, s := range ic.servers() {
		require.True(t, strings.HasPrefix(string(s.Address), "ssl:127.0.0.1:"), "%v", s)
	}

	// Closed, a member's file does not open again without TLS, nor
	// with TLS settings that lack a key and certificate.
	i := ic.follower()
	require.NoError(t, ic.members[i].Close())
	ic.members[i] = nil
	_, err := OpenWith(ic.paths[i], Options{})
	require.EqualError(t, err, ic.paths[i]+": "+ic.addrs[i]+": an ssl cluster address needs TLS: the member's "+
		"private key, certificate and CA certificate (ovsdb-server --private-key, --certificate and --ca-cert)")
	noKey, err := tlsconf.New(tlsconf.Settings{CACert: caFile}, nil)
	require.NoError(t, err)
	_, err = OpenWith(ic.paths[i], Options{TLS: noKey})
	require.EqualError(t, err, ic.paths[i]+": "+ic.addrs[i]+": cannot use TLS: Private key must be configured to use SSL; "+
		"Certificate must be configured to use SSL")
	// A member joining through an ssl: address needs TLS too, whatever
	// its own address.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tcpAddr := "tcp:" + l.Addr().String()
	require.NoError(t, l.Close())
	joining := filepath.Join(ic.dir, "tcp-joiner.db")
	require.NoError(t, Join(joining, "C", tcpAddr, ic.addrs[:1]))
	_, err = OpenWith(joining, Options{})
	require.ErrorContains(t, err, joining+": "+ic.addrs[0]+": an ssl cluster address needs TLS")

	// With its TLS settings it opens again and catches up.
	insertKey(t, ic.leader(), "while-down")
	m, err := OpenWith(ic.paths[i], Options{TLS: cfgs[i]})
	require.NoError(t, err)
	ic.members[i] = m
	eventually(t, "the reopened member caught up", 20*time.Second, func() bool { return memberKeys(t, m)["while-down"] })
}

// TestClusterTLSRefusesOtherCA: a member restarted with a certificate of
// another CA (trusting the cluster's CA) is refused by the other members,
// which log its subject, issuer and why; it receives nothing more. Back
// with a certificate of the cluster's CA, it catches up.
func TestClusterTLSRefusesOtherCA(t *testing.T) {
	logs := captureLog(t)
	ca := tlstest.NewCA(t, "cluster-ca")
	rogue := tlstest.NewCA(t, "rogue-ca")
	caFile := ca.Write(t, t.TempDir(), "cacert")
	cfgs := tlsMembers(t, ca, caFile, 3)
	ic := openTLSCluster(t, cfgs)
	i := ic.follower()
	require.NoError(t, ic.members[i].Close())
	ic.members[i] = nil
	m, err := OpenWith(ic.paths[i], Options{TLS: tlsFor(t, rogue, "intruder", caFile)})
	require.NoError(t, err)
	ic.members[i] = m
	insertKey(t, ic.leader(), "refused")
	// The leader dials the member and refuses its certificate; the member
	// dials the others (its probes of its peers) and they refuse it, which
	// it learns from their alert.
	eventually(t, "the refusals are logged", 30*time.Second, func() bool {
		l := logs()
		return strings.Contains(l, ic.addrs[i]+": refused cluster member: peer certificate "+
			`(subject \"CN=intruder,O=ovsdb-go tests\", issuer \"CN=rogue-ca,O=ovsdb-go tests\") refused: `+
			"x509: certificate signed by unknown authority") &&
			regexp.MustCompile(`: refused cluster connection from ssl:127\.0\.0\.1:[0-9]+: peer certificate `+
				`\(subject \\"CN=intruder,O=ovsdb-go tests\\", issuer \\"CN=rogue-ca,O=ovsdb-go tests\\"\) refused: `+
				`x509: certificate signed by unknown authority`).MatchString(l) &&
			strings.Contains(l, ": the cluster member refused this member's TLS connection: remote error: tls: bad certificate")
	})
	require.False(t, memberKeys(t, m)["refused"], "a member with a refused certificate received the write")

	require.NoError(t, m.Close())
	m, err = OpenWith(ic.paths[i], Options{TLS: cfgs[i]})
	require.NoError(t, err)
	ic.members[i] = m
	eventually(t, "the member caught up", 20*time.Second, func() bool { return memberKeys(t, m)["refused"] })
}

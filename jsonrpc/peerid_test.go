package jsonrpc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPeerID: a session's RBAC id is the first common name of the TLS
// peer's certificate (as OpenSSL's lookup in C), none on a plain
// connection or without a client certificate, and SetPeerID overrides it.
func TestPeerID(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject: pkix.Name{Organization: []string{"test"}, ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: oidCommonName, Value: "chassis-1"}, {Type: oidCommonName, Value: "second"}}},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		IsCA:        true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	parsed, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	require.Equal(t, "second", parsed.Subject.CommonName, "Go keeps the last CN; C the first")
	pool := x509.NewCertPool()
	pool.AddCert(parsed)

	handshake := func(clientCert bool) *tls.Conn {
		a, b := net.Pipe()
		t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
		srv := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool,
			ClientAuth: tls.VerifyClientCertIfGiven})
		cc := &tls.Config{RootCAs: pool, ServerName: "x", InsecureSkipVerify: true}
		if clientCert {
			cc.Certificates = []tls.Certificate{cert}
		}
		cli := tls.Client(b, cc)
		errc := make(chan error, 1)
		go func() { errc <- cli.Handshake() }()
		require.NoError(t, srv.Handshake())
		require.NoError(t, <-errc)
		return srv
	}

	ss := &Session{conn: handshake(true), values: map[any]any{}}
	id, ok := ss.PeerID()
	require.True(t, ok)
	require.Equal(t, "chassis-1", id)

	ss = &Session{conn: handshake(false), values: map[any]any{}}
	_, ok = ss.PeerID()
	require.False(t, ok, "no client certificate: no id")

	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ss = &Session{conn: a, values: map[any]any{}}
	_, ok = ss.PeerID()
	require.False(t, ok, "plain connection: no id")
	ss.SetPeerID("given")
	id, ok = ss.PeerID()
	require.True(t, ok)
	require.Equal(t, "given", id)
}

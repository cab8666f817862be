package server

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf/tlstest"
	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
)

// testPKI is a CA with a server and a client certificate, as files.
type testPKI struct {
	ca                            *tlstest.CA
	caFile, srvCert, srvKey       string
	cliCert, cliKey, otherCliCert string
	otherCliKey                   string
}

func newTestPKI(t *testing.T) *testPKI {
	dir := t.TempDir()
	p := &testPKI{ca: tlstest.NewCA(t, "CA")}
	p.caFile = p.ca.Write(t, dir, "cacert")
	p.srvCert, p.srvKey = p.ca.Issue(t, "server").Write(t, dir, "server")
	p.cliCert, p.cliKey = p.ca.Issue(t, "chassis-a").Write(t, dir, "client")
	other := tlstest.NewCA(t, "other CA")
	p.otherCliCert, p.otherCliKey = other.Issue(t, "intruder").Write(t, dir, "intruder")
	return p
}

func tlsConf(t *testing.T, s tlsconf.Settings) *tlsconf.Config {
	c, err := tlsconf.New(s, nil)
	require.NoError(t, err)
	return c
}

// TestDBRemotePSSL: a pssl: target read from a Connection row is served
// over TLS: a client with a certificate of the CA is served (its session
// carries the certificate's common name as its RBAC id, and the row shows
// it connected), a client with a certificate of another CA is refused.
func TestDBRemotePSSL(t *testing.T) {
	p := newTestPKI(t)
	s, _ := dbrServer(t)
	s.SetTLS(tlsConf(t, tlsconf.Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.caFile}))
	addDB(t, s, t.TempDir(), localConfigSchema)
	require.NoError(t, s.AddRemote("db:Local_Config,Config,connections"))
	id := addConnection(t, s, map[string]any{"target": "pssl:0:127.0.0.1", "role": "ovn-controller"})
	waitFor(t, "listening", func() bool { return s.RemoteAddr("pssl:0:127.0.0.1") != nil })
	addr := s.RemoteAddr("pssl:0:127.0.0.1").String()
	_, port, _ := net.SplitHostPort(addr)
	waitFor(t, "bound_port", func() bool { return statusOf(t, s, id)["bound_port"] == port })

	cli := tlsConf(t, tlsconf.Settings{PrivateKey: p.cliKey, Certificate: p.cliCert, CACert: p.caFile})
	c, err := jsonrpc.Dial("ssl:"+addr, jsonrpc.WithTLS(cli.ClientConfig()))
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, []any{"Local_Config", "_Server"}, call(t, c, "list_dbs", []any{}))
	var ss *jsonrpc.Session
	waitFor(t, "session", func() bool {
		for _, x := range s.JSONRPC().Sessions() {
			ss = x
		}
		return ss != nil
	})
	id2, ok := ss.PeerID()
	require.True(t, ok)
	require.Equal(t, "chassis-a", id2)
	require.Equal(t, "ovn-controller", ss.Role())
	require.Regexp(t, `^ssl:127\.0\.0\.1:\d+$`, ss.Name())
	waitFor(t, "is_connected", func() bool { return connRow(t, s, id)["is_connected"] == true })

	// Another CA's certificate: refused during the handshake.
	bad := tlsConf(t, tlsconf.Settings{PrivateKey: p.otherCliKey, Certificate: p.otherCliCert, CACert: p.caFile})
	bc, err := jsonrpc.Dial("ssl:"+addr, jsonrpc.WithTLS(bad.ClientConfig()))
	if err == nil {
		// TLS 1.3: the server's verdict comes after the client's
		// handshake; the first request fails.
		defer bc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := bc.Call(ctx, "list_dbs", []any{})
		require.Error(t, err)
	}
	require.Len(t, s.JSONRPC().Sessions(), 1)
}

// TestActiveSSLRemote: a literal ssl: remote connects to a TLS listener
// (here a Go one with the same CA) and serves a session on it; without a
// key and certificate every attempt fails with C's errors.
func TestActiveSSLRemote(t *testing.T) {
	p := newTestPKI(t)
	s, logs := dbrServer(t)
	s.SetTLS(tlsConf(t, tlsconf.Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.caFile}))
	addDB(t, s, t.TempDir(), localConfigSchema)
	peer := tlsConf(t, tlsconf.Settings{PrivateKey: p.cliKey, Certificate: p.cliCert, CACert: p.caFile})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", peer.ServerConfig())
	require.NoError(t, err)
	defer ln.Close()
	target := "ssl:" + ln.Addr().String()
	require.NoError(t, s.AddRemote(target))
	conn := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			conn <- c
		}
	}()
	select {
	case nc := <-conn:
		c := jsonrpc.NewClient(nc)
		defer c.Close()
		require.Equal(t, []any{"Local_Config", "_Server"}, call(t, c, "list_dbs", []any{}))
		require.Equal(t, tlsconf.PeerCommonName(nc.(*tls.Conn).ConnectionState()), "server")
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not connect")
	}
	require.NotNil(t, sessionNamed(s, target))

	// A server without key and certificate: C's errors, no connection.
	s2, logs2 := dbrServer(t)
	require.NoError(t, s2.AddRemote("ssl:127.0.0.1:"+strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)))
	waitFor(t, "C's errors", func() bool {
		l := logs2.String()
		return strings.Contains(l, "Private key must be configured to use SSL") && strings.Contains(l, "Certificate must be configured to use SSL") &&
			strings.Contains(l, "connection attempt failed (Protocol not available)")
	})
	require.Contains(t, logs.String(), target+": connected")
}

package jsonrpc

import (
	"crypto/tls"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf/tlstest"
)

// TestPSSLListener: a pssl: listener serves sessions named ssl:IP:PORT
// whose PeerID is the client certificate's common name; a client without
// a certificate gets no session (the refusal is logged), and Server.Close
// ends a handshake that never completes.
func TestPSSLListener(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "CA")
	caFile := ca.Write(t, dir, "ca")
	sc, sk := ca.Issue(t, "server").Write(t, dir, "server")
	cc, ck := ca.Issue(t, "chassis-7").Write(t, dir, "client")
	srvTLS, err := tlsconf.New(tlsconf.Settings{PrivateKey: sk, Certificate: sc, CACert: caFile}, nil)
	require.NoError(t, err)
	cliTLS, err := tlsconf.New(tlsconf.Settings{PrivateKey: ck, Certificate: cc, CACert: caFile}, nil)
	require.NoError(t, err)

	var logs testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	srv := NewServer(&fakeBackend{dbs: map[string]*fakeDB{"OVN_Northbound": newFakeDB("OVN_Northbound")}}, Options{Logger: log})
	ln, err := ListenTLS("pssl:0:127.0.0.1", srvTLS, log)
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.Contains(t, logs.String(), "0:127.0.0.1: listening on port "+strconv.Itoa(port))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln, ServeOptions{Name: "pssl:0:127.0.0.1"}) }()
	addr := ln.Addr().String()

	c, err := Dial("ssl:"+addr, WithTLS(cliTLS.ClientConfig()))
	require.NoError(t, err)
	defer c.Close()
	var ss *Session
	require.Eventually(t, func() bool {
		for _, x := range srv.Sessions() {
			ss = x
		}
		return ss != nil
	}, 10*time.Second, 10*time.Millisecond)
	require.True(t, strings.HasPrefix(ss.Name(), "ssl:127.0.0.1:"), ss.Name())
	id, ok := ss.PeerID()
	require.True(t, ok)
	require.Equal(t, "chassis-7", id)

	// No client certificate: refused, no session, logged.
	bare, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		_ = bare.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = bare.Write([]byte(`{"method":"list_dbs","params":[],"id":1}`))
		_, err = bare.Read(make([]byte, 64))
		require.Error(t, err)
		bare.Close()
	}
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "SSL_accept") }, 10*time.Second, 10*time.Millisecond)
	require.Len(t, srv.Sessions(), 1)

	// Dial refuses an ssl: remote without WithTLS.
	_, err = Dial("ssl:" + addr)
	require.ErrorIs(t, err, errNoTLS)

	// A connection that never starts its handshake does not hold up Close.
	idle, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer idle.Close()
	time.Sleep(50 * time.Millisecond)
	closed := make(chan struct{})
	go func() { _ = srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a pending handshake")
	}
	require.NoError(t, <-served)
}

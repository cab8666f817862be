package tlsconf

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf/tlstest"
)

func TestParseProtocols(t *testing.T) {
	for _, tc := range []struct {
		in       string
		min, max uint16
		ignored  string
		err      string
	}{
		{"", 0, 0, "", ""},
		{DefaultProtocols, 0, 0, "", ""},
		{"TLSv1.2", tls.VersionTLS12, tls.VersionTLS12, "", ""},
		{"tlsv1.2 TLSV1.3", tls.VersionTLS12, tls.VersionTLS13, "", ""},
		{"TLSv1.3,TLSv1.2", tls.VersionTLS12, tls.VersionTLS13, "", ""},
		{"TLSv1.1,TLSv1.2", tls.VersionTLS12, tls.VersionTLS12, "TLSv1.1", ""},
		{"TLSv1,TLSv1.3", tls.VersionTLS13, tls.VersionTLS13, "TLSv1", ""},
		{"TLSv1\tTLSv1.1", 0, 0, "", "no protocol left"},
		{"SSLv3", 0, 0, "", "SSLv3: SSL protocol not recognized"},
		{" , ", 0, 0, "", "SSL protocol settings invalid"},
	} {
		lo, hi, ignored, err := ParseProtocols(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "--ssl-protocols") {
				t.Errorf("%q: error %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || lo != tc.min || hi != tc.max || strings.Join(ignored, ",") != tc.ignored {
			t.Errorf("%q: got %x %x %v %v, want %x %x %q", tc.in, lo, hi, ignored, err, tc.min, tc.max, tc.ignored)
		}
	}
}

func TestParseCiphers(t *testing.T) {
	def, err := ParseCiphers("")
	if err != nil || len(def) == 0 {
		t.Fatalf("default: %v %v", def, err)
	}
	for _, id := range def {
		name := tls.CipherSuiteName(id)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || strings.Contains(name, "MD5") {
			t.Errorf("HIGH selected %s", name)
		}
	}
	got, err := ParseCiphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:!aNULL")
	if err != nil || len(got) != 2 || got[0] != tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 || got[1] != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 {
		t.Errorf("explicit: %v %v", got, err)
	}
	got, err = ParseCiphers("HIGH:!ECDHE-RSA-AES128-SHA:!MD5")
	if err != nil || len(got) != len(def)-1 {
		t.Errorf("HIGH minus one: %v %v", got, err)
	}
	for _, bad := range []string{"DEFAULT", "HIGH:@STRENGTH", "DHE-RSA-AES256-GCM-SHA384", "HIGH:!kRSA:+AES", "!aNULL"} {
		if _, err := ParseCiphers(bad); err == nil || !strings.Contains(err.Error(), "--ssl-ciphers") {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}

// pki is a CA with server and client files in a temp dir.
type pki struct {
	dir                 string
	ca                  *tlstest.CA
	caFile              string
	srvCert, srvKey     string
	cliCert, cliKey     string
	srvLeaf, clientLeaf *tlstest.Leaf
}

func newPKI(t *testing.T) *pki {
	p := &pki{dir: t.TempDir(), ca: tlstest.NewCA(t, "test CA")}
	p.caFile = p.ca.Write(t, p.dir, "cacert")
	p.srvLeaf = p.ca.Issue(t, "server")
	p.srvCert, p.srvKey = p.srvLeaf.Write(t, p.dir, "server")
	p.clientLeaf = p.ca.Issue(t, "chassis-1")
	p.cliCert, p.cliKey = p.clientLeaf.Write(t, p.dir, "client")
	return p
}

func mustNew(t *testing.T, s Settings) *Config {
	t.Helper()
	c, err := New(s, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// handshake runs a TLS handshake over a pipe; it returns both ends'
// errors and states, and the connections (closed at the test's end).
func handshake(t *testing.T, srv, cli *tls.Config) (serr, cerr error, ss, cs tls.ConnectionState, sc, cc *tls.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	deadline := time.Now().Add(30 * time.Second)
	_ = a.SetDeadline(deadline)
	_ = b.SetDeadline(deadline)
	sc, cc = tls.Server(a, srv), tls.Client(b, cli)
	t.Cleanup(func() { sc.Close(); cc.Close() })
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		serr = sc.Handshake()
		if serr != nil {
			a.Close()
		}
	}()
	cerr = cc.Handshake()
	if cerr != nil {
		b.Close()
	}
	wg.Wait()
	_ = a.SetDeadline(time.Time{})
	_ = b.SetDeadline(time.Time{})
	return serr, cerr, sc.ConnectionState(), cc.ConnectionState(), sc, cc
}

func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	srv := mustNew(t, Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.caFile})
	cli := mustNew(t, Settings{PrivateKey: p.cliKey, Certificate: p.cliCert, CACert: p.caFile})
	serr, cerr, ss, cs, _, _ := handshake(t, srv.ServerConfig(), cli.ClientConfig())
	if serr != nil || cerr != nil {
		t.Fatalf("handshake: server %v, client %v", serr, cerr)
	}
	if got := PeerCommonName(ss); got != "chassis-1" {
		t.Errorf("server sees CN %q", got)
	}
	if got := PeerCommonName(cs); got != "server" {
		t.Errorf("client sees CN %q", got)
	}
	if PeerCommonName(tls.ConnectionState{}) != "" {
		t.Error("CN without a certificate")
	}
}

func TestRefusedClients(t *testing.T) {
	p := newPKI(t)
	srv := mustNew(t, Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.caFile})
	other := tlstest.NewCA(t, "other CA")
	d := t.TempDir()
	oc, ok := other.Issue(t, "intruder").Write(t, d, "intruder")
	ocaFile := other.Write(t, d, "othercacert")

	// A client whose certificate is from another CA.
	cli := mustNew(t, Settings{PrivateKey: ok, Certificate: oc, CACert: p.caFile})
	serr, _, _, _, _, _ := handshake(t, srv.ServerConfig(), cli.ClientConfig())
	if serr == nil {
		t.Error("server accepted a certificate from another CA")
	}
	// A client with no certificate at all.
	bare := &tls.Config{InsecureSkipVerify: true}
	serr, _, _, _, _, _ = handshake(t, srv.ServerConfig(), bare)
	if serr == nil {
		t.Error("server accepted a client without a certificate")
	}
	// A client that trusts another CA refuses our server.
	cli2 := mustNew(t, Settings{PrivateKey: p.cliKey, Certificate: p.cliCert, CACert: ocaFile})
	_, cerr, _, _, _, _ := handshake(t, srv.ServerConfig(), cli2.ClientConfig())
	if cerr == nil {
		t.Error("client accepted a server certificate from another CA")
	}
}

func TestNotReady(t *testing.T) {
	p := newPKI(t)
	srv := mustNew(t, Settings{CACert: p.caFile})
	err := srv.Ready()
	if err == nil || !strings.Contains(err.Error(), "Private key must be configured to use SSL") ||
		!strings.Contains(err.Error(), "Certificate must be configured to use SSL") {
		t.Fatalf("Ready: %v", err)
	}
	cli := mustNew(t, Settings{PrivateKey: p.cliKey, Certificate: p.cliCert, CACert: p.caFile})
	serr, _, _, _, _, _ := handshake(t, srv.ServerConfig(), cli.ClientConfig())
	if serr == nil {
		t.Error("a server without key and certificate made a connection")
	}
	noCA := mustNew(t, Settings{PrivateKey: p.cliKey, Certificate: p.cliCert})
	if err := noCA.Ready(); err == nil || err.Error() != "CA certificate must be configured to use SSL" {
		t.Errorf("Ready without CA: %v", err)
	}
}

func TestUpdateErrors(t *testing.T) {
	p := newPKI(t)
	good := Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.caFile}
	c := mustNew(t, good)
	for name, tc := range map[string]struct {
		s   Settings
		err string
	}{
		"mismatch":  {Settings{PrivateKey: p.cliKey, Certificate: p.srvCert, CACert: p.caFile}, "Private key does not match certificate public key"},
		"no key":    {Settings{PrivateKey: p.dir + "/missing", Certificate: p.srvCert, CACert: p.caFile}, "--private-key"},
		"no CA":     {Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.dir + "/missing"}, "--ca-cert"},
		"bad CA":    {Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.srvKey}, "--ca-cert"},
		"protocols": {Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.caFile, Protocols: "TLSv9"}, "TLSv9"},
		"ciphers":   {Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.caFile, Ciphers: "RC4-MD5"}, "RC4-MD5"},
		"peer CA":   {Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.caFile, PeerCACert: p.srvKey}, "--peer-ca-cert"},
	} {
		if err := c.Update(tc.s); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", name, err, tc.err)
		}
		if _, err := New(tc.s, nil); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if c.Settings() != good {
		t.Errorf("a failed Update changed the settings: %+v", c.Settings())
	}
	if c.Update(Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.dir + "/boot.pem", BootstrapCACert: true}) != nil || !c.Bootstrapping() {
		t.Error("bootstrap with a missing CA file")
	}
}

func TestRotation(t *testing.T) {
	p := newPKI(t)
	srv := mustNew(t, Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.caFile})
	srv.checkEvery = 0
	cli := mustNew(t, Settings{PrivateKey: p.cliKey, Certificate: p.cliCert, CACert: p.caFile})
	serr, cerr, _, cs, sc, cc := handshake(t, srv.ServerConfig(), cli.ClientConfig())
	if serr != nil || cerr != nil {
		t.Fatal(serr, cerr)
	}
	if cs.PeerCertificates[0].SerialNumber.Cmp(p.srvLeaf.Cert.SerialNumber) != 0 {
		t.Fatal("first connection: wrong serial")
	}
	// New certificate and key on disk: the key first, so that for a
	// moment they do not match (kept: the old pair stays in use).
	next := p.ca.Issue(t, "server")
	if err := os.WriteFile(p.srvKey, next.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	_, cerr, _, cs, _, _ = handshake(t, srv.ServerConfig(), cli.ClientConfig())
	if cerr != nil || cs.PeerCertificates[0].SerialNumber.Cmp(p.srvLeaf.Cert.SerialNumber) != 0 {
		t.Fatalf("half-rotated: %v", cerr)
	}
	if err := os.WriteFile(p.srvCert, next.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	_, cerr, _, cs, _, _ = handshake(t, srv.ServerConfig(), cli.ClientConfig())
	if cerr != nil || cs.PeerCertificates[0].SerialNumber.Cmp(next.Cert.SerialNumber) != 0 {
		t.Fatalf("after rotation: %v, serial %v want %v", cerr, cs.PeerCertificates[0].SerialNumber, next.Cert.SerialNumber)
	}
	// The first connection still carries data.
	go func() { _, _ = cc.Write([]byte("ping")) }()
	buf := make([]byte, 4)
	_ = sc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := sc.Read(buf); err != nil || string(buf) != "ping" {
		t.Fatalf("old connection: %q %v", buf, err)
	}
}

func TestBootstrapCACert(t *testing.T) {
	p := newPKI(t)
	// The server sends its CA after its certificate (--peer-ca-cert).
	srv := mustNew(t, Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.caFile, PeerCACert: p.caFile})
	boot := filepath.Join(t.TempDir(), "boot-ca.pem")
	var logs bytes.Buffer
	cli, err := New(Settings{PrivateKey: p.cliKey, Certificate: p.cliCert, CACert: boot, BootstrapCACert: true},
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	first, second := cli.ClientConfig(), cli.ClientConfig() // both taken while bootstrapping
	_, cerr, _, _, _, _ := handshake(t, srv.ServerConfig(), first)
	if cerr == nil || !strings.Contains(cerr.Error(), "killing successful connection to retry using CA cert") {
		t.Fatalf("bootstrap connection: %v", cerr)
	}
	saved, err := os.ReadFile(boot)
	if err != nil || !bytes.Equal(saved, p.ca.CertPEM) {
		t.Fatalf("saved CA: %v\n%s", err, saved)
	}
	for _, want := range []string{"successfully bootstrapped CA cert to " + boot, "Trusting CA cert from " + boot + " (/O=ovsdb-go tests/CN=test CA) (fingerprint "} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	_, cerr, _, _, _, _ = handshake(t, srv.ServerConfig(), second)
	if cerr == nil || !strings.Contains(cerr.Error(), "bootstrap race window") {
		t.Errorf("concurrent bootstrap connection: %v", cerr)
	}
	_, cerr, _, _, _, _ = handshake(t, srv.ServerConfig(), cli.ClientConfig())
	if cerr != nil {
		t.Errorf("after bootstrap: %v", cerr)
	}

	// A server that does not send its CA: nothing to bootstrap from.
	srv2 := mustNew(t, Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.caFile})
	boot2 := filepath.Join(t.TempDir(), "boot-ca.pem")
	cli2 := mustNew(t, Settings{PrivateKey: p.cliKey, Certificate: p.cliCert, CACert: boot2, BootstrapCACert: true})
	_, cerr, _, _, _, _ = handshake(t, srv2.ServerConfig(), cli2.ClientConfig())
	if cerr == nil || !strings.Contains(cerr.Error(), "not self-signed") {
		t.Errorf("bootstrap from a lone certificate: %v", cerr)
	}
	if _, err := os.Stat(boot2); err == nil {
		t.Error("a CA file was written from a lone certificate")
	}
	// A listener in bootstrap mode refuses its clients, as C's.
	srv3 := mustNew(t, Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: boot2, BootstrapCACert: true})
	cli3 := mustNew(t, Settings{PrivateKey: p.cliKey, Certificate: p.cliCert, CACert: p.caFile})
	if serr, _, _, _, _, _ := handshake(t, srv3.ServerConfig(), cli3.ClientConfig()); serr == nil {
		t.Error("a bootstrapping listener accepted a client")
	}
}

func TestCANone(t *testing.T) {
	p := newPKI(t)
	srv := mustNew(t, Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: "none"})
	other := tlstest.NewCA(t, "other")
	d := t.TempDir()
	oc, ok := other.Issue(t, "x").Write(t, d, "x")
	cli := mustNew(t, Settings{PrivateKey: ok, Certificate: oc, CACert: "none"})
	if serr, cerr, _, _, _, _ := handshake(t, srv.ServerConfig(), cli.ClientConfig()); serr != nil || cerr != nil {
		t.Errorf("CA none: %v %v", serr, cerr)
	}
}

func TestProtocolsApplied(t *testing.T) {
	p := newPKI(t)
	srv := mustNew(t, Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.caFile, Protocols: "TLSv1.2", Ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256"})
	cli := mustNew(t, Settings{PrivateKey: p.cliKey, Certificate: p.cliCert, CACert: p.caFile})
	_, cerr, _, cs, _, _ := handshake(t, srv.ServerConfig(), cli.ClientConfig())
	if cerr != nil || cs.Version != tls.VersionTLS12 || cs.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 {
		t.Errorf("got %x %s %v", cs.Version, tls.CipherSuiteName(cs.CipherSuite), cerr)
	}
	cli13 := mustNew(t, Settings{PrivateKey: p.cliKey, Certificate: p.cliCert, CACert: p.caFile, Protocols: "TLSv1.3"})
	if _, cerr, _, _, _, _ := handshake(t, srv.ServerConfig(), cli13.ClientConfig()); cerr == nil {
		t.Error("a TLS 1.3-only client met a TLS 1.2-only server")
	}
}

// TestCARotation: a CA file replaced on disk is read again: clients of
// the new CA are accepted, those of the old one refused.
func TestCARotation(t *testing.T) {
	p := newPKI(t)
	srv := mustNew(t, Settings{PrivateKey: p.srvKey, Certificate: p.srvCert, CACert: p.caFile})
	srv.checkEvery = 0
	newCA := tlstest.NewCA(t, "new CA")
	d := t.TempDir()
	nc, nk := newCA.Issue(t, "new-client").Write(t, d, "new-client")
	newCli := mustNew(t, Settings{PrivateKey: nk, Certificate: nc, CACert: p.caFile})
	oldCli := mustNew(t, Settings{PrivateKey: p.cliKey, Certificate: p.cliCert, CACert: p.caFile})
	if serr, _, _, _, _, _ := handshake(t, srv.ServerConfig(), newCli.ClientConfig()); serr == nil {
		t.Fatal("a client of a CA not yet trusted was accepted")
	}
	newCA.Write(t, p.dir, "cacert") // replaces p.caFile
	if serr, _, _, _, _, _ := handshake(t, srv.ServerConfig(), newCli.ClientConfig()); serr != nil {
		t.Fatalf("a client of the new CA: %v", serr)
	}
	if serr, _, _, _, _, _ := handshake(t, srv.ServerConfig(), oldCli.ClientConfig()); serr == nil {
		t.Error("a client of the old CA is still accepted")
	}
}

package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Settings are the TLS options, with db: references already resolved
// (the file names and values in use now; "" is unset).
type Settings struct {
	PrivateKey  string // --private-key: PEM private key file
	Certificate string // --certificate: PEM certificate (chain) file
	// CACert is the PEM file of the CA certificate(s) that peers'
	// certificates must chain to (--ca-cert or --bootstrap-ca-cert), or
	// "none" to verify no peer certificate (C: a security risk).
	CACert string
	// BootstrapCACert: CACert came from --bootstrap-ca-cert; while the file
	// does not exist, it is obtained from the first server connected to.
	BootstrapCACert bool
	// PeerCACert is a PEM file of certificates sent to peers after ours
	// (--peer-ca-cert), so that they can bootstrap their CA from us.
	PeerCACert string
	Protocols  string // --ssl-protocols ("" : DefaultProtocols)
	Ciphers    string // --ssl-ciphers ("" : DefaultCiphers)
}

// stamp identifies a version of a file on disk.
type stamp struct {
	exists bool
	mod    time.Time
	size   int64
	ino    uint64
}

func statFile(name string) stamp {
	st, err := os.Stat(name)
	if err != nil {
		return stamp{}
	}
	s := stamp{exists: true, mod: st.ModTime(), size: st.Size()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		s.ino = sys.Ino
	}
	return s
}

// Config is the TLS configuration of a set of remotes: what their
// listeners (ServerConfig) and their outgoing connections (ClientConfig)
// use. It is safe for concurrent use.
type Config struct {
	log *slog.Logger
	// checkEvery throttles the checks of the files on disk.
	checkEvery time.Duration

	mu         sync.Mutex
	set        Settings
	minV, maxV uint16
	suites     []uint16
	cert       *tls.Certificate // nil until a key and certificate are loaded
	pool       *x509.CertPool   // nil while bootstrapping or when verify is off
	verify     bool             // false for CACert "none"
	bootstrap  bool             // waiting for the CA from the first peer
	peerCA     [][]byte         // DER of the --peer-ca-cert certificates
	keyStamp   stamp
	certStamp  stamp
	caStamp    stamp
	lastCheck  time.Time
}

// CheckInterval is how often, at most, the key, certificate and CA files
// are checked for a change (when a handshake needs them).
const CheckInterval = time.Second

// New returns the Config of settings s, logging to log (nil:
// slog.Default()) under module "stream_ssl". Errors are Update's.
func New(s Settings, log *slog.Logger) (*Config, error) {
	if log == nil {
		log = slog.Default()
	}
	c := &Config{log: log.With("module", "stream_ssl"), checkEvery: CheckInterval, verify: true}
	if err := c.Update(s); err != nil {
		return nil, err
	}
	return c, nil
}

// Settings returns the settings in use.
func (c *Config) Settings() Settings {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.set
}

// Update replaces the settings. It fails, changing nothing, when a value
// cannot be honoured: protocols or ciphers Go cannot honour
// (ParseProtocols, ParseCiphers), a key or certificate file that cannot
// be read or parsed, a key that does not match its certificate, a CA or
// peer CA file that cannot be read or parsed (a missing CA file is not
// an error with BootstrapCACert: it is bootstrapped). Unset key,
// certificate or CA are not errors here: connections then fail as in C
// (Ready). Established connections are not affected.
func (c *Config) Update(s Settings) error {
	minV, maxV, ignored, err := ParseProtocols(s.Protocols)
	if err != nil {
		return err
	}
	suites, err := ParseCiphers(s.Ciphers)
	if err != nil {
		return err
	}
	var cert *tls.Certificate
	ks, cs := statFile(s.PrivateKey), statFile(s.Certificate)
	if s.PrivateKey != "" && s.Certificate != "" {
		kp, err := loadPair(s.Certificate, s.PrivateKey)
		if err != nil {
			return err
		}
		cert = &kp
	}
	verify, boot := true, false
	var pool *x509.CertPool
	cas := statFile(s.CACert)
	switch {
	case s.CACert == "none":
		verify = false
	case s.CACert == "":
	case s.BootstrapCACert && !cas.exists:
		if _, err := os.Stat(s.CACert); errors.Is(err, os.ErrNotExist) {
			boot = true
			break
		}
		fallthrough
	default:
		pool, err = loadPool(s.CACert)
		if err != nil {
			return err
		}
	}
	var peerCA [][]byte
	if s.PeerCACert != "" {
		data, err := os.ReadFile(s.PeerCACert)
		if err != nil {
			return fmt.Errorf("--peer-ca-cert: %w", err)
		}
		certs, err := ParseCertificates(data)
		if err != nil {
			return fmt.Errorf("--peer-ca-cert: %s: %w", s.PeerCACert, err)
		}
		for _, x := range certs {
			peerCA = append(peerCA, x.Raw)
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if !verify && c.verify {
		c.log.Warn("Peer certificate validation disabled (this is a security risk)")
	}
	if len(ignored) > 0 && s.Protocols != c.set.Protocols {
		c.log.Warn(fmt.Sprintf("--ssl-protocols=%s: %s not enabled: TLS 1.0 and 1.1 are refused, as by C on OpenSSL 3",
			s.Protocols, strings.Join(ignored, ", ")))
	}
	c.set, c.minV, c.maxV, c.suites = s, minV, maxV, suites
	c.cert, c.keyStamp, c.certStamp = cert, ks, cs
	c.verify, c.bootstrap, c.pool, c.caStamp = verify, boot, pool, cas
	c.peerCA = peerCA
	c.lastCheck = time.Now()
	return nil
}

func loadPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--private-key: %w", err)
	}
	kp, err := LoadKeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--private-key=%s --certificate=%s: %w", keyFile, certFile, err)
	}
	return kp, nil
}

func loadPool(caFile string) (*x509.CertPool, error) {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-cert: %w", err)
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("--ca-cert: %s: %w", caFile, err)
	}
	pool := x509.NewCertPool()
	for _, x := range certs {
		pool.AddCert(x)
	}
	return pool, nil
}

// refresh re-reads the files that changed on disk, at most once per
// checkEvery; a file that cannot be re-read is logged and the material
// in use stays. Called with c.mu held.
func (c *Config) refresh() {
	now := time.Now()
	if now.Sub(c.lastCheck) < c.checkEvery {
		return
	}
	c.lastCheck = now
	s := c.set
	if s.PrivateKey != "" && s.Certificate != "" {
		ks, cs := statFile(s.PrivateKey), statFile(s.Certificate)
		if ks != c.keyStamp || cs != c.certStamp {
			// Both files are re-read together, in whichever order they
			// were replaced; a pair that does not match yet (one file
			// written, not the other) is retried when the other changes.
			c.keyStamp, c.certStamp = ks, cs
			if kp, err := loadPair(s.Certificate, s.PrivateKey); err != nil {
				c.log.Error(err.Error())
			} else {
				c.cert = &kp
				c.log.Info(fmt.Sprintf("reloaded private key %s and certificate %s", s.PrivateKey, s.Certificate))
			}
		}
	}
	if c.verify && s.CACert != "" {
		cas := statFile(s.CACert)
		if cas != c.caStamp {
			c.caStamp = cas
			if !cas.exists && c.bootstrap {
				return
			}
			if pool, err := loadPool(s.CACert); err != nil {
				c.log.Error(err.Error())
			} else {
				c.pool, c.bootstrap = pool, false
				c.log.Info(fmt.Sprintf("reloaded CA certificate %s", s.CACert))
			}
		}
	}
}

// Ready reports whether connections can be made, with C's error texts
// (one per line) when they cannot: "Private key must be configured to
// use SSL", "Certificate must be configured to use SSL", "CA certificate
// must be configured to use SSL". It also re-reads changed files.
func (c *Config) Ready() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh()
	return c.readyLocked()
}

func (c *Config) readyLocked() error {
	var msgs []string
	if c.set.PrivateKey == "" {
		msgs = append(msgs, "Private key must be configured to use SSL")
	}
	if c.set.Certificate == "" {
		msgs = append(msgs, "Certificate must be configured to use SSL")
	}
	if c.verify && c.pool == nil && !c.bootstrap {
		msgs = append(msgs, "CA certificate must be configured to use SSL")
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "\n"))
}

// logNotReady logs err's lines as errors, as C's new_ssl_stream does for
// each connection it cannot make.
func (c *Config) logNotReady(err error) {
	for _, l := range strings.Split(err.Error(), "\n") {
		c.log.Error(l)
	}
}

// ourCertificate returns the certificate to present, with the peer CA
// certificates appended to its chain. Called with c.mu held.
func (c *Config) ourCertificate() *tls.Certificate {
	if c.cert == nil {
		return nil
	}
	out := *c.cert
	if len(c.peerCA) > 0 {
		out.Certificate = append(append([][]byte(nil), c.cert.Certificate...), c.peerCA...)
	}
	return &out
}

// ServerConfig returns the configuration for listeners (pssl:). Each
// handshake takes the current settings (files re-read when they changed):
// our certificate, and a client certificate required and verified
// against the CA (C's SSL_VERIFY_PEER|SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
// none requested with CA "none"; every client refused while the CA is
// being bootstrapped, as in C). When key, certificate or CA are missing,
// C's errors are logged and the handshake fails.
func (c *Config) ServerConfig() *tls.Config {
	return &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.refresh()
			if err := c.readyLocked(); err != nil {
				c.logNotReady(err)
				return nil, err
			}
			cfg := &tls.Config{
				Certificates:           []tls.Certificate{*c.ourCertificate()},
				MinVersion:             c.minV,
				MaxVersion:             c.maxV,
				CipherSuites:           c.suites,
				SessionTicketsDisabled: true, // C: SSL_SESS_CACHE_OFF
			}
			switch {
			case !c.verify:
				cfg.ClientAuth = tls.NoClientCert
			case c.bootstrap:
				cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, x509.NewCertPool()
			default:
				cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, c.pool
			}
			return cfg, nil
		},
	}
}

// ClientConfig returns the configuration for one outgoing connection
// (active ssl: remotes, Raft dials): call it for each connection. The
// client presents our certificate and verifies the server's chain
// against the CA, with no host name check, as C. While the CA is being
// bootstrapped, the server's chain is accepted unverified, its top
// certificate saved as the CA and the connection failed so that the next
// one is verified (C's do_ca_cert_bootstrap); see the package comment.
// Dialers should call Ready first, to fail (and log) as C when key,
// certificate or CA are missing; the handshake fails then anyway.
func (c *Config) ClientConfig() *tls.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh()
	cert, pool, verify, boot := c.ourCertificate(), c.pool, c.verify, c.bootstrap
	ready := c.readyLocked()
	return &tls.Config{
		MinVersion:   c.minV,
		MaxVersion:   c.maxV,
		CipherSuites: c.suites,
		// The chain is verified in VerifyConnection, without the host
		// name check that Go would otherwise make.
		InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if cert == nil {
				return nil, ready
			}
			return cert, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if ready != nil {
				return ready
			}
			switch {
			case !verify:
				return nil
			case boot:
				return c.bootstrapFrom(cs.PeerCertificates)
			}
			return VerifyChain(cs.PeerCertificates, pool, x509.ExtKeyUsageServerAuth)
		},
	}
}

// VerifyChain verifies a peer's certificate chain (leaf first) against
// roots for usage, the intermediates taken from the chain.
func VerifyChain(chain []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage) error {
	if len(chain) == 0 {
		return errors.New("peer did not return a certificate")
	}
	inter := x509.NewCertPool()
	for _, x := range chain[1:] {
		inter.AddCert(x)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}})
	return err
}

// bootstrapFrom is C's do_ca_cert_bootstrap for a connection made while
// bootstrapping: it always fails the connection.
func (c *Config) bootstrapFrom(chain []*x509.Certificate) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	fail := func(format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		c.log.Error(msg)
		return errors.New(msg)
	}
	if !c.bootstrap {
		c.log.Info("rejecting SSL connection during bootstrap race window")
		return errors.New("rejecting SSL connection during bootstrap race window")
	}
	if len(chain) == 0 {
		return fail("could not bootstrap CA cert: no certificate presented by peer")
	}
	top := chain[len(chain)-1]
	if err := top.CheckSignatureFrom(top); err != nil || string(top.RawIssuer) != string(top.RawSubject) {
		if err == nil {
			err = errors.New("issuer name mismatch")
		}
		e := fail("could not bootstrap CA cert: obtained certificate is not self-signed (%v)", err)
		if len(chain) < 2 {
			c.log.Error("only one certificate was received, so probably the peer is not configured to send its CA certificate")
		}
		return e
	}
	name := c.set.CACert
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o444)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			c.log.Info(fmt.Sprintf("reading CA cert %s created by another process", name))
			if pool, err := loadPool(name); err == nil {
				c.pool, c.bootstrap, c.caStamp = pool, false, statFile(name)
			} else {
				c.log.Error(err.Error())
			}
			return errors.New("CA cert created by another process")
		}
		return fail("could not bootstrap CA cert: creating %s failed: %v", name, err)
	}
	werr := pem.Encode(f, &pem.Block{Type: "CERTIFICATE", Bytes: top.Raw})
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(name)
		return fail("could not bootstrap CA cert: writing %s failed: %v", name, werr)
	}
	c.log.Info(fmt.Sprintf("successfully bootstrapped CA cert to %s", name))
	c.log.Info(fmt.Sprintf("Trusting CA cert from %s (%s) (fingerprint %s)", name, oneline(top), fingerprint(top)))
	pool := x509.NewCertPool()
	pool.AddCert(top)
	c.pool, c.bootstrap, c.caStamp = pool, false, statFile(name)
	c.log.Info("killing successful connection to retry using CA cert")
	return errors.New("killing successful connection to retry using CA cert")
}

// Bootstrapping reports whether the CA certificate is still to be
// obtained from the first peer (--bootstrap-ca-cert, file missing).
func (c *Config) Bootstrapping() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bootstrap
}

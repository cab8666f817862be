package raft

// TLS on "ssl:IP:PORT" cluster addresses. A member whose address is ssl:
// listens with TLS, and every connection to an ssl: address (Raft
// streams, commit notices and the cluster RPC with forwarding and
// joining) is TLS: the handshake comes first, before the protocol byte,
// and there is no plaintext fallback. Both sides authenticate with the
// member's own key, certificate and CA (the program's --private-key,
// --certificate and --ca-cert, as C's raft.c uses them through
// stream-ssl): the listener requires a client certificate that chains to
// the CA, the dialer verifies the listener's chain against the same CA,
// and no host name is checked (the CA is the whole trust decision, as in
// C). A refused certificate is logged by the side that refuses it, with
// its subject, issuer and the verification error.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
)

// TLS is the TLS configuration of a member's cluster connections on ssl:
// addresses; internal/tlsconf.Config implements it (the server's one
// Config, shared with its ssl:/pssl: remotes). ServerConfig is taken once
// per listener and must pick its settings per handshake
// (GetConfigForClient); ClientConfig is taken for each connection. Ready
// reports, with C's messages, whether key, certificate and CA are there.
type TLS interface {
	Ready() error
	ServerConfig() *tls.Config
	ClientConfig() *tls.Config
}

// IsSSL reports whether addr is an "ssl:" cluster address.
func IsSSL(addr string) bool { return strings.HasPrefix(addr, "ssl:") }

// CheckTLS returns why address cannot be used with TLS configuration t:
// nil for an address that is not ssl:, an error when t is nil or not
// Ready.
func CheckTLS(address string, t TLS) error {
	if !IsSSL(address) {
		return nil
	}
	return checkTLS(address, t)
}

// tlsHandshakeTimeout bounds the TLS handshake of an accepted cluster
// connection (the dialer's is its dial timeout).
const tlsHandshakeTimeout = 10 * time.Second

// checkTLS returns why address, an ssl: address, cannot be used with t
// (nil when it can).
func checkTLS(address string, t TLS) error {
	if t == nil {
		return fmt.Errorf("%s: an ssl cluster address needs TLS: the member's private key, certificate "+
			"and CA certificate (ovsdb-server --private-key, --certificate and --ca-cert)", address)
	}
	if err := t.Ready(); err != nil {
		return fmt.Errorf("%s: cannot use TLS: %s", address, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return nil
}

// PeerCertError is the refusal of a peer's certificate: the peer's
// subject and issuer (RFC 2253 form) and why it does not verify.
type PeerCertError struct {
	Subject, Issuer string
	Err             error
}

func (e *PeerCertError) Error() string {
	if e.Subject == "" && e.Issuer == "" {
		return fmt.Sprintf("peer certificate refused: %v", e.Err)
	}
	return fmt.Sprintf("peer certificate (subject %q, issuer %q) refused: %v", e.Subject, e.Issuer, e.Err)
}

func (e *PeerCertError) Unwrap() error { return e.Err }

func peerCertError(chain []*x509.Certificate, err error) error {
	var pe *PeerCertError
	if errors.As(err, &pe) {
		return err
	}
	if len(chain) == 0 {
		return &PeerCertError{Err: err}
	}
	return &PeerCertError{Subject: chain[0].Subject.String(), Issuer: chain[0].Issuer.String(), Err: err}
}

// serverTLS is t's listener configuration with the client certificate
// verified by this package (against the same CA pool, for client use,
// as crypto/tls would), so that a refusal names the certificate.
func serverTLS(t TLS) *tls.Config {
	base := t.ServerConfig()
	return &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		cfg := base
		if base.GetConfigForClient != nil {
			c, err := base.GetConfigForClient(hello)
			if err != nil {
				return nil, err
			}
			if c != nil {
				cfg = c
			}
		}
		cfg = cfg.Clone()
		cfg.GetConfigForClient = nil
		if cfg.ClientAuth != tls.RequireAndVerifyClientCert {
			return cfg, nil
		}
		pool, next := cfg.ClientCAs, cfg.VerifyPeerCertificate
		cfg.ClientAuth = tls.RequireAnyClientCert
		cfg.VerifyPeerCertificate = func(raw [][]byte, chains [][]*x509.Certificate) error {
			if err := verifyPeer(raw, pool); err != nil {
				return err
			}
			if next != nil {
				return next(raw, chains)
			}
			return nil
		}
		return cfg, nil
	}}
}

// verifyPeer verifies a client's certificate chain (DER, leaf first)
// against roots, for client authentication.
func verifyPeer(raw [][]byte, roots *x509.CertPool) error {
	chain := make([]*x509.Certificate, 0, len(raw))
	for _, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return peerCertError(chain, fmt.Errorf("bad certificate: %w", err))
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return &PeerCertError{Err: errors.New("peer did not return a certificate")}
	}
	if roots == nil {
		roots = x509.NewCertPool()
	}
	if err := tlsconf.VerifyChain(chain, roots, x509.ExtKeyUsageClientAuth); err != nil {
		return peerCertError(chain, err)
	}
	return nil
}

// clientTLS is t's configuration for one outgoing connection, whose
// refusal of the listener's certificate names the certificate.
func clientTLS(t TLS) *tls.Config {
	cfg := t.ClientConfig()
	if v := cfg.VerifyConnection; v != nil {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if err := v(cs); err != nil {
				return peerCertError(cs.PeerCertificates, err)
			}
			return nil
		}
	}
	return cfg
}

// sslLogger is the logger of TLS failures on cluster connections, under
// C's module of TLS errors.
func sslLogger() *slog.Logger { return slog.Default().With("module", "stream_ssl") }

// Failed handshakes are logged at most once per refusalLogInterval per
// listener and peer host (accepting side) or address (dialing side), and
// error.
var acceptTLSLog, dialTLSLog logLimiter

// logAcceptTLS logs the failed handshake of a connection accepted on
// address (the listener's).
func logAcceptTLS(address string, c net.Conn, err error) {
	remote := c.RemoteAddr().String()
	host := remote
	if h, _, e := net.SplitHostPort(remote); e == nil {
		host = h
	}
	if !acceptTLSLog.allow(address + "|" + host + "|" + err.Error()) {
		return
	}
	var pe *PeerCertError
	if errors.As(err, &pe) {
		sslLogger().Warn(fmt.Sprintf("%s: refused cluster connection from ssl:%s: %v", address, remote, err))
		return
	}
	sslLogger().Warn(fmt.Sprintf("%s: cluster connection from ssl:%s: SSL_accept: %v", address, remote, err))
}

// logDialTLS logs the failed handshake of a connection to address.
func logDialTLS(address string, err error) {
	if !dialTLSLog.allow(address + "|" + err.Error()) {
		return
	}
	var pe *PeerCertError
	if errors.As(err, &pe) {
		sslLogger().Warn(fmt.Sprintf("%s: refused cluster member: %v", address, err))
		return
	}
	sslLogger().Warn(fmt.Sprintf("%s: SSL_connect: %v", address, err))
}

// logRefusedByPeer logs the refusal of this member's certificate by the
// member at address, when err is the TLS alert that says so. With TLS
// 1.3 the listener verifies the client's certificate after the client
// has finished its handshake: the dialer learns of the refusal on its
// first read (the answer to a Raft preamble, the response to a cluster
// RPC).
func logRefusedByPeer(address string, err error) {
	// crypto/tls reports a received alert as a *net.OpError whose Op is
	// "remote error".
	var op *net.OpError
	if err == nil || !IsSSL(address) || !errors.As(err, &op) || op.Op != "remote error" {
		return
	}
	if dialTLSLog.allow(address + "|" + err.Error()) {
		sslLogger().Warn(fmt.Sprintf("%s: the cluster member refused this member's TLS connection: %v", address, err))
	}
}

// handshakeClient makes the client handshake of c, a new connection to
// the ssl: address, with t, by deadline.
func handshakeClient(c net.Conn, address string, t TLS, deadline time.Time) (net.Conn, error) {
	tc := tls.Client(c, clientTLS(t))
	_ = tc.SetDeadline(deadline)
	if err := tc.Handshake(); err != nil {
		c.Close()
		logDialTLS(address, err)
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, nil
}

// handshakeServer makes the server handshake of a connection accepted on
// an ssl: listener; false (logged, closed) when it fails.
func (m *Mux) handshakeServer(c net.Conn) bool {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return true
	}
	_ = tc.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		logAcceptTLS(string(m.address), c, err)
		c.Close()
		return false
	}
	_ = tc.SetWriteDeadline(time.Time{})
	return true
}

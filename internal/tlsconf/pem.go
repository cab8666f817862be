package tlsconf

import (
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// ParseCertificates parses a file of PEM certificates (a CA file, a
// --peer-ca-cert file), as C's read_cert_file: one or more "CERTIFICATE"
// blocks, with only white space around them. Anything else (other block
// types, garbage, no certificate at all, a certificate that does not
// parse) is an error. This is the entry point for certificate data read
// from files the server is told about, and is fuzzed.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n\v\f")
		if len(rest) == 0 {
			break
		}
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("no PEM certificate where one was expected")
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block of type %q where a CERTIFICATE was expected", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate found")
	}
	return out, nil
}

// LoadKeyPair parses a PEM certificate (chain) and its PEM private key, as
// the files of --certificate and --private-key, and checks that the key
// matches the certificate (C's "Private key does not match certificate
// public key").
func LoadKeyPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	certs, err := ParseCertificates(certPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate: %w", err)
	}
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return tls.Certificate{}, errors.New("Private key does not match certificate public key")
		}
		return tls.Certificate{}, err
	}
	kp.Leaf = certs[0]
	return kp, nil
}

// oidCommonName is the X.509 commonName attribute.
var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// PeerCommonName returns the common name of the peer's certificate of a
// connection (what C records as the stream's peer id, and what RBAC
// matches), or "" when the peer sent no certificate or it has no common
// name. As C, the first commonName of the subject is taken.
func PeerCommonName(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return ""
	}
	for _, a := range cs.PeerCertificates[0].Subject.Names {
		if a.Type.Equal(oidCommonName) {
			if s, ok := a.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

// shortNames are OpenSSL's short names of the usual subject attributes.
var shortNames = map[string]string{
	"2.5.4.6": "C", "2.5.4.8": "ST", "2.5.4.7": "L", "2.5.4.10": "O",
	"2.5.4.11": "OU", "2.5.4.3": "CN", "1.2.840.113549.1.9.1": "emailAddress",
}

// oneline renders a subject as OpenSSL's X509_NAME_oneline does
// ("/C=US/O=Example/CN=ca"), for C's log lines.
func oneline(c *x509.Certificate) string {
	var b strings.Builder
	for _, a := range c.Subject.Names {
		n := shortNames[a.Type.String()]
		if n == "" {
			n = a.Type.String()
		}
		fmt.Fprintf(&b, "/%s=%v", n, a.Value)
	}
	return b.String()
}

// fingerprint is the SHA-1 digest of a certificate as C logs it:
// lower-case hex bytes separated by ':'.
func fingerprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	parts := make([]string, len(sum))
	for i, x := range sum {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}

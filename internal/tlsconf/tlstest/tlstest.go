// Package tlstest makes throwaway certificate authorities and
// certificates for tests of TLS remotes: a CA (NewCA), certificates it
// signs for a given common name (CA.Issue), usable as server and client
// certificates alike, as ovs-pki's are, and their PEM files (Write).
// Keys are ECDSA P-256, signatures SHA-256, validity from an hour ago to
// a day ahead. MakeCA, CA.Make and the WriteFile(s) methods are the same
// for programs (benchmarks), returning errors instead of failing a test.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a self-signed certificate authority.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	Key     *ecdsa.PrivateKey
}

// Leaf is a certificate signed by a CA, with its private key.
type Leaf struct {
	Cert    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte
}

// Serial returns the certificate's serial number, in decimal.
func (l *Leaf) Serial() string { return l.Cert.SerialNumber.String() }

func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	return n.Add(n, big.NewInt(1)), nil
}

// newCert makes a P-256 key and a certificate of it for O=ovsdb-go tests,
// CN=cn, with a random serial, valid from an hour ago to a day ahead and
// the rest as in tmpl (which it fills in): signed by issuer, or
// self-signed when issuer is nil. It returns the key, the certificate's
// DER and the certificate parsed.
func newCert(cn string, tmpl *x509.Certificate, issuer *CA) (*ecdsa.PrivateKey, []byte, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl.SerialNumber = sn
	tmpl.Subject = pkix.Name{Organization: []string{"ovsdb-go tests"}, CommonName: cn}
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	parent, signer := tmpl, key
	if issuer != nil {
		parent, signer = issuer.Cert, issuer.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return key, der, cert, nil
}

// NewCA returns a new self-signed CA whose subject is O=ovsdb-go tests,
// CN=cn.
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	ca, err := MakeCA(cn)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// MakeCA is NewCA for programs (benchmarks): it returns the error.
func MakeCA(cn string) (*CA, error) {
	key, der, cert, err := newCert(cn, &x509.Certificate{
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Key: key}, nil
}

// Issue returns a new certificate for common name cn signed by ca, valid
// for TLS servers and clients (and for 127.0.0.1 and localhost, though
// OVSDB checks no host name).
func (ca *CA) Issue(t testing.TB, cn string) *Leaf {
	t.Helper()
	l, err := ca.Make(cn)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Make is Issue for programs (benchmarks): it returns the error.
func (ca *CA) Make(cn string) (*Leaf, error) {
	key, der, cert, err := newCert(cn, &x509.Certificate{
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"localhost"},
	}, ca)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Leaf{
		Cert:    cert,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}, nil
}

// Write writes the CA certificate to dir/NAME.pem and returns its path.
func (ca *CA) Write(t testing.TB, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name+".pem")
	writeFile(t, p, ca.CertPEM)
	return p
}

// Write writes the certificate to dir/NAME-cert.pem and the key to
// dir/NAME-privkey.pem (ovs-pki's names) and returns their paths.
func (l *Leaf) Write(t testing.TB, dir, name string) (certFile, keyFile string) {
	t.Helper()
	certFile = filepath.Join(dir, name+"-cert.pem")
	keyFile = filepath.Join(dir, name+"-privkey.pem")
	writeFile(t, certFile, l.CertPEM)
	writeFile(t, keyFile, l.KeyPEM)
	return certFile, keyFile
}

// WriteFiles is Leaf.Write for programs: it returns the error.
func (l *Leaf) WriteFiles(dir, name string) (certFile, keyFile string, err error) {
	certFile = filepath.Join(dir, name+"-cert.pem")
	keyFile = filepath.Join(dir, name+"-privkey.pem")
	if err := replaceFile(certFile, l.CertPEM); err != nil {
		return "", "", err
	}
	return certFile, keyFile, replaceFile(keyFile, l.KeyPEM)
}

// WriteFile is CA.Write for programs: it returns the error.
func (ca *CA) WriteFile(dir, name string) (string, error) {
	p := filepath.Join(dir, name+".pem")
	return p, replaceFile(p, ca.CertPEM)
}

// writeFile replaces path atomically (a new file renamed over it), as a
// certificate rotation should.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := replaceFile(path, data); err != nil {
		t.Fatal(err)
	}
}

func replaceFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

package tlsconf

import "testing"

// FuzzParseCertificates feeds ParseCertificates (CA and peer CA files)
// and LoadKeyPair (certificate and key files) arbitrary bytes: no panic,
// and what parses is consistent.
func FuzzParseCertificates(f *testing.F) {
	f.Add([]byte(""), []byte(""))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		certs, err := ParseCertificates(certPEM)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificate")
		}
		kp, err := LoadKeyPair(certPEM, keyPEM)
		if err == nil && (kp.Leaf == nil || len(kp.Certificate) == 0) {
			t.Fatal("key pair without a leaf")
		}
	})
}

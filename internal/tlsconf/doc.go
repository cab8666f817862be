// Package tlsconf is the TLS configuration of the server's ssl: and pssl:
// remotes (and of the Raft streams between cluster members): C's
// --private-key, --certificate, --ca-cert, --bootstrap-ca-cert,
// --peer-ca-cert, --ssl-protocols and --ssl-ciphers turned into Go
// crypto/tls settings, with C's behaviour (lib/stream-ssl.c of Open
// vSwitch 3.1):
//
//   - Mutual TLS both ways: a listener requires a client certificate and
//     verifies its chain against the CA certificate (ServerConfig), a
//     client presents its certificate and verifies the server's chain
//     against the same CA (ClientConfig). Host names are not checked, as
//     in C: the CA is the whole trust decision. The peer's certificate
//     common name (PeerCommonName) is what RBAC matches.
//   - A CA file named "none" disables peer verification, with C's warning.
//   - The private key, certificate and CA files are re-read when they
//     change on disk (stat-based, checked at most about once a second,
//     when a handshake needs them), so rotation needs no restart and
//     established connections are not touched. A file that cannot be
//     re-read is logged and the material in use stays.
//   - --bootstrap-ca-cert: while the CA file does not exist, a client
//     accepts the server's chain unverified, saves its top (self-signed)
//     certificate to the CA file, logs it as C does and drops that first
//     connection so that the next one is verified against the saved CA;
//     handshakes that were under way at the same time are rejected (C's
//     "bootstrap race window"). A listener in bootstrap mode refuses its
//     clients (it has no CA to verify them with), as C's does.
//   - Protocols ("TLSv1,TLSv1.1,TLSv1.2", C's names, case-insensitive)
//     become MinVersion/MaxVersion (TLS 1.2 at least, as C gets from
//     OpenSSL 3: TLSv1 and TLSv1.1 are logged as not enabled), cipher strings ("HIGH:!aNULL:!MD5" and
//     OpenSSL names of suites Go implements) become CipherSuites. A value
//     Go cannot honour is an error that names it (ParseProtocols,
//     ParseCiphers): a TLS option is never silently ignored.
//
// A Config is safe for concurrent use; Update replaces its settings (the
// server re-resolves db:DB,TABLE,COLUMN options while it runs). Each
// connection takes its settings when its handshake starts, so an update
// never affects an established connection. Package tlstest makes
// throwaway CAs and certificates for tests.
package tlsconf

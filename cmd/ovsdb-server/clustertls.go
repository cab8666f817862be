package main

import (
	"log/slog"
	"strings"

	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
)

// clusterTLS makes the server's one TLS configuration before the
// databases are opened: the pssl:/ssl: remotes use it (sslWatch) and so
// do the Raft connections of clustered members on "ssl:" addresses
// (cluster.Options.TLS), which listen and dial as soon as they open, as
// C's raft.c uses the same --private-key, --certificate and --ca-cert.
// The options given as files are applied now, an error being fatal as
// in sslWatch.start; "db:DB,TABLE,COLUMN" references can only be read
// once the databases are open, so sslWatch applies them afterwards (a
// member on an ssl: address whose key, certificate or CA is a db:
// reference therefore does not open: conformance/DIFFERENCES.md).
func clusterTLS(o *sslOptions, log *slog.Logger) (*tlsconf.Config, error) {
	file := func(v string) string {
		if strings.HasPrefix(v, "db:") {
			return ""
		}
		return v
	}
	s := sslSettings{PrivateKey: file(o.PrivateKey), Certificate: file(o.Certificate), CACert: file(o.CACert),
		Protocols: file(o.Protocols), Ciphers: file(o.Ciphers), BootstrapCACert: o.BootstrapCACert,
		PeerCACert: o.PeerCACert}
	return tlsconf.New(s.tlsSettings(), log)
}

package main

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/server"
)

// sslOptions are C's SSL options as given on the command line, which
// configure the pssl: and ssl: remotes (through an internal/tlsconf
// Config, see sslWatch). Each of PrivateKey, Certificate, CACert,
// Protocols and Ciphers is either a value (a file name, a protocol or
// cipher list) or, as in C, a "db:DB,TABLE,COLUMN" reference to a string
// column, whose value is read from the database while the server runs
// (resolve). The references are checked as C checks them: one naming a
// missing database, table or column, or a column that is not a string or
// set of strings, is fatal at startup, and logged when it becomes wrong
// later. A value that cannot be honoured at startup (unreadable key or
// certificate, a key that does not match, protocols or ciphers Go cannot
// honour) is fatal too; later, it is logged and the previous settings
// stay.
type sslOptions struct {
	PrivateKey  string // -p, --private-key
	Certificate string // -c, --certificate
	CACert      string // -C, --ca-cert, or --bootstrap-ca-cert
	// BootstrapCACert is set when CACert came from --bootstrap-ca-cert
	// (C: the CA certificate is obtained from the first peer and saved
	// there when the file does not exist).
	BootstrapCACert bool
	PeerCACert      string // --peer-ca-cert (a file name only)
	Protocols       string // --ssl-protocols
	Ciphers         string // --ssl-ciphers
}

// sslSettings are sslOptions with their db: references resolved: the
// values TLS uses now ("" when unset or when the column holds no
// non-empty string).
type sslSettings struct {
	PrivateKey, Certificate, CACert, Protocols, Ciphers string
	BootstrapCACert                                     bool
	PeerCACert                                          string
}

// resolve reads the db: references as C's reconfigure_ssl does (its
// query_db_string): the first non-empty string of the column in any row
// of the table (rows taken in UUID order; C takes them in its hash
// order). errs holds one line per bad reference, each ending in a
// newline, C's texts; a reference to a clustered database that has no
// schema yet is not an error (it resolves to "").
func (o *sslOptions) resolve(srv *server.Server) (s sslSettings, errs string) {
	var b strings.Builder
	q := func(v string) string {
		r, err := queryDBString(srv, v)
		if err != "" {
			b.WriteString(err + "\n")
		}
		return r
	}
	s.PrivateKey = q(o.PrivateKey)
	s.Certificate = q(o.Certificate)
	s.CACert = q(o.CACert)
	s.Protocols = q(o.Protocols)
	s.Ciphers = q(o.Ciphers)
	s.BootstrapCACert = o.BootstrapCACert
	s.PeerCACert = o.PeerCACert
	return s, b.String()
}

// queryDBString is C's query_db_string for one option value.
func queryDBString(srv *server.Server, v string) (string, string) {
	if !strings.HasPrefix(v, "db:") {
		return v, ""
	}
	// C's parse_db_column: strtok_r on ':' then ','.
	_, rest, _ := strings.Cut(v, ":")
	var tok []string
	for _, f := range strings.Split(rest, ",") {
		if f != "" {
			tok = append(tok, f)
		}
	}
	if len(tok) < 3 {
		return "", fmt.Sprintf("\"%s\": invalid syntax", v)
	}
	db := srv.Engine(tok[0])
	if db == nil {
		if srv.Model(tok[0]) == "clustered" {
			// Served but not connected to its cluster yet.
			return "", ""
		}
		return "", fmt.Sprintf("\"%s\": no database named %s", v, tok[0])
	}
	t := db.Schema().Tables[tok[1]]
	if t == nil {
		return "", fmt.Sprintf("\"%s\": no table named %s", v, tok[1])
	}
	c := t.ByName[tok[2]]
	if c == nil {
		return "", fmt.Sprintf("\"%s\": table \"%s\" has no column \"%s\"", v, tok[1], tok[2])
	}
	if c.Type.Key.Type != schema.TypeString || c.Type.Value != nil {
		return "", fmt.Sprintf("\"%s\": table \"%s\" column \"%s\" is not string or set of strings", v, tok[1], tok[2])
	}
	var out string
	db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
		rows := tables[tok[1]]
		ids := make([]schema.UUID, 0, len(rows))
		for id := range rows {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
		for _, id := range ids {
			r := rows[id]
			if c.Index >= r.NumFields() {
				continue
			}
			for _, k := range r.Field(c.Index).Keys {
				if s, ok := k.(string); ok && s != "" {
					out = s
					return
				}
			}
		}
	})
	return out, ""
}

// tlsSettings converts resolved settings for internal/tlsconf.
func (s sslSettings) tlsSettings() tlsconf.Settings {
	return tlsconf.Settings{PrivateKey: s.PrivateKey, Certificate: s.Certificate, CACert: s.CACert,
		BootstrapCACert: s.BootstrapCACert, PeerCACert: s.PeerCACert, Protocols: s.Protocols, Ciphers: s.Ciphers}
}

// sslWatch keeps the resolved SSL settings, and the TLS configuration of
// the remotes (tc) made from them, up to date while the server runs,
// logging (WARN) a new error text when it changes, as C's main loop does
// with report_error_if_changed; settings that cannot be applied are
// logged (ERROR) once per change, and the previous ones stay.
type sslWatch struct {
	opts *sslOptions
	srv  *server.Server
	log  *slog.Logger
	tc   *tlsconf.Config

	mu        sync.Mutex
	current   sslSettings
	lastErr   string
	applied   sslSettings // the settings tc has
	lastApply string      // the last error applying settings
}

// newSSLWatch makes the watch of the TLS configuration tc (made by
// clusterTLS, shared with the clustered members), and gives tc to srv
// (its remotes use it from their first connection).
func newSSLWatch(opts *sslOptions, srv *server.Server, log *slog.Logger, tc *tlsconf.Config) *sslWatch {
	srv.SetTLS(tc)
	return &sslWatch{opts: opts, srv: srv, log: log, tc: tc}
}

// start applies the resolved settings at startup: an error is fatal.
func (w *sslWatch) start() error {
	s, _ := w.opts.resolve(w.srv)
	if err := w.tc.Update(s.tlsSettings()); err != nil {
		return err
	}
	w.mu.Lock()
	w.current, w.applied = s, s
	w.mu.Unlock()
	return nil
}

// check resolves the options once and applies them if they changed.
func (w *sslWatch) check() {
	s, errs := w.opts.resolve(w.srv)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.current = s
	if errs != "" && errs != w.lastErr {
		w.log.Warn(errs)
	}
	w.lastErr = errs
	if s == w.applied {
		return
	}
	if err := w.tc.Update(s.tlsSettings()); err != nil {
		if err.Error() != w.lastApply {
			w.log.Error(err.Error())
		}
		w.lastApply = err.Error()
		return
	}
	w.applied, w.lastApply = s, ""
}

// settings returns the last resolved settings.
func (w *sslWatch) settings() sslSettings {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.current
}

// run checks every interval until stop is closed.
func (w *sslWatch) run(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			w.check()
		}
	}
}

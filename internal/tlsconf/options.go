package tlsconf

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// DefaultProtocols and DefaultCiphers are C's defaults for --ssl-protocols
// and --ssl-ciphers.
const (
	DefaultProtocols = "TLSv1,TLSv1.1,TLSv1.2"
	DefaultCiphers   = "HIGH:!aNULL:!MD5"
)

// protocolNames are the names --ssl-protocols accepts (case-insensitive):
// C's three, and TLSv1.3, which C 3.1 does not name but Go implements.
var protocolNames = []struct {
	name    string
	version uint16
}{
	{"TLSv1", tls.VersionTLS10},
	{"TLSv1.1", tls.VersionTLS11},
	{"TLSv1.2", tls.VersionTLS12},
	{"TLSv1.3", tls.VersionTLS13},
}

// ParseProtocols maps an --ssl-protocols value to Go's MinVersion and
// MaxVersion. The value is a list of protocol names separated by spaces,
// commas or tabs, as C splits it. "" and C's default DefaultProtocols give
// Go's defaults (0, 0: TLS 1.2 and 1.3), which is what C does on OpenSSL 3
// with its default (C applies no protocol option for its default string).
// TLS 1.0 and 1.1 are never enabled: OpenSSL 3, which C 3.1 runs on,
// refuses them at its default security level whatever the list says
// (C's own handshakes with them fail), so a list keeps only its TLSv1.2
// and TLSv1.3 and ignored names the TLS 1.0/1.1 names it had, for the
// caller to log. Errors: an empty list, a name that is not a protocol,
// and a list with neither TLSv1.2 nor TLSv1.3 (no protocol left).
func ParseProtocols(s string) (minV, maxV uint16, ignored []string, err error) {
	if s == "" || s == DefaultProtocols {
		return 0, 0, nil, nil
	}
	words := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	if len(words) == 0 {
		return 0, 0, nil, fmt.Errorf("--ssl-protocols=%q: SSL protocol settings invalid", s)
	}
	for _, w := range words {
		found := false
		for _, p := range protocolNames {
			if !strings.EqualFold(w, p.name) {
				continue
			}
			found = true
			switch {
			case p.version < tls.VersionTLS12:
				ignored = append(ignored, p.name)
			case minV == 0 || p.version < minV:
				minV = p.version
				maxV = max(maxV, p.version)
			default:
				maxV = max(maxV, p.version)
			}
		}
		if !found {
			return 0, 0, nil, fmt.Errorf("--ssl-protocols=%q: %s: SSL protocol not recognized (known: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)", s, w)
		}
	}
	if minV == 0 {
		return 0, 0, nil, fmt.Errorf("--ssl-protocols=%q: no protocol left: TLS 1.0 and 1.1 are refused (as by C on OpenSSL 3), give TLSv1.2 and/or TLSv1.3", s)
	}
	return minV, maxV, ignored, nil
}

// opensslSuites maps the OpenSSL names of the TLS 1.0-1.2 cipher suites
// that Go implements (RC4 and 3DES left out: Go keeps them only for
// compatibility) to Go's identifiers.
var opensslSuites = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
}

// excludedClasses are the OpenSSL cipher classes that none of the suites
// this package enables belongs to, so that excluding them ("!aNULL",
// "-MD5") is honoured by doing nothing.
var excludedClasses = map[string]bool{
	"aNULL": true, "eNULL": true, "NULL": true, "COMPLEMENTOFALL": true,
	"MD5": true, "RC4": true, "DES": true, "3DES": true, "EXPORT": true,
	"EXP": true, "LOW": true, "PSK": true, "SRP": true, "DSS": true,
	"aDSS": true, "ADH": true, "AECDH": true, "SEED": true, "IDEA": true,
	"CAMELLIA": true, "ARIA": true, "DH": true, "DHE": true, "EDH": true,
	"kDHE": true, "kEDH": true, "CCM": true, "CCM8": true,
}

// highSuites is what "HIGH" selects: Go's secure TLS 1.0-1.2 suites
// (ECDHE with AES-GCM, ChaCha20-Poly1305 and AES-CBC-SHA), all of which
// OpenSSL counts as HIGH.
func highSuites() []uint16 {
	var out []uint16
	for _, c := range tls.CipherSuites() {
		for _, v := range c.SupportedVersions {
			if v <= tls.VersionTLS12 {
				out = append(out, c.ID)
				break
			}
		}
	}
	return out
}

// ParseCiphers maps an --ssl-ciphers value (OpenSSL's cipher-list syntax,
// items separated by ':', ',' or spaces) to Go cipher suites for TLS 1.0
// to 1.2 (TLS 1.3 suites are not configurable, in OpenSSL's cipher list
// as in Go). "" and C's default DefaultCiphers give Go's secure suites.
// Accepted items: "HIGH"; the exclusion ("!X" or "-X") of a class none of
// those suites belongs to (aNULL, eNULL, MD5, RC4, 3DES...); the OpenSSL
// name of a suite Go implements, e.g. "ECDHE-RSA-AES128-GCM-SHA256" (or
// "!NAME" to remove it). Anything else (other classes, "+", "@STRENGTH",
// names of suites Go does not implement) is an error naming the item, as
// is a list that selects no suite.
func ParseCiphers(s string) ([]uint16, error) {
	if s == "" || s == DefaultCiphers {
		return highSuites(), nil
	}
	items := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ',' || r == ' ' })
	var out []uint16
	seen := map[uint16]bool{}
	add := func(id uint16) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	removed := map[uint16]bool{}
	for _, it := range items {
		if neg := strings.TrimLeft(it, "!-"); neg != it && len(it)-len(neg) == 1 {
			if excludedClasses[neg] {
				continue
			}
			if id, ok := opensslSuites[neg]; ok {
				removed[id] = true
				continue
			}
			return nil, fmt.Errorf("--ssl-ciphers=%q: %q: cannot honour this exclusion (Go's TLS accepts HIGH, exclusions of aNULL, eNULL, MD5, RC4, 3DES and similar, and OpenSSL names of the suites it implements)", s, it)
		}
		if it == "HIGH" {
			for _, id := range highSuites() {
				add(id)
			}
			continue
		}
		if id, ok := opensslSuites[it]; ok {
			add(id)
			continue
		}
		return nil, fmt.Errorf("--ssl-ciphers=%q: %q: not a cipher Go's TLS implements (use HIGH or OpenSSL names such as ECDHE-RSA-AES128-GCM-SHA256)", s, it)
	}
	kept := out[:0]
	for _, id := range out {
		if !removed[id] {
			kept = append(kept, id)
		}
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("--ssl-ciphers=%q: selects no cipher suite", s)
	}
	return kept, nil
}

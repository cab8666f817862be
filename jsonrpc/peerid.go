// The session's RBAC id (C's stream peer id): the common name of the
// peer's certificate on a TLS connection.

package jsonrpc

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
)

// peerIDKey is the session value (Set/Get) holding an id given with
// SetPeerID.
type peerIDKey struct{}

// SetPeerID sets the session's RBAC id, overriding the one PeerID would
// find in the connection's TLS state.
func (ss *Session) SetPeerID(id string) { ss.Set(peerIDKey{}, id) }

// PeerID returns the session's RBAC id, which transactions carry
// (ovsdb.TransactOptions.ClientID): the one given to SetPeerID, else, on
// a connection that has a TLS state (ConnectionState, as *tls.Conn), the
// first common name in the subject of the peer's certificate, as C's
// stream peer id. ok is false when there is none (a plain connection, no
// client certificate, or no common name): C's NULL id.
func (ss *Session) PeerID() (id string, ok bool) {
	if v, set := ss.Get(peerIDKey{}); set {
		return v.(string), true
	}
	c, isTLS := ss.conn.(interface{ ConnectionState() tls.ConnectionState })
	if !isTLS {
		return "", false
	}
	st := c.ConnectionState()
	if !st.HandshakeComplete || len(st.PeerCertificates) == 0 {
		return "", false
	}
	id, ok = commonName(st.PeerCertificates[0].Subject.Names)
	if ok {
		ss.SetPeerID(id) // the certificate does not change
	}
	return id, ok
}

// oidCommonName is X.509's commonName attribute.
var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// commonName returns the first commonName attribute of a subject, as
// OpenSSL's X509_NAME_get_index_by_NID(..., NID_commonName, -1) finds it
// (Go's pkix.Name.CommonName keeps the last).
func commonName(names []pkix.AttributeTypeAndValue) (string, bool) {
	for _, a := range names {
		if a.Type.Equal(oidCommonName) {
			if s, ok := a.Value.(string); ok {
				return s, true
			}
		}
	}
	return "", false
}

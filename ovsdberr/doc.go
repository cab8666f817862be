// Package ovsdberr is the project's one error vocabulary.
//
// Every error that can reach an OVSDB client is an *Error: a tag (the RFC 7047
// "error" member, such as "syntax error" or "constraint violation"), a free
// text "details" member, and optionally the offending JSON ("syntax"). Lower
// layers wrap causes with %w; the JSON-RPC layer turns any error into the
// C-compatible JSON object with ToJSON, which is the one place where that
// translation happens.
package ovsdberr

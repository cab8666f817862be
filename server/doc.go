// Package server is the embeddable OVSDB server: a set of databases, the
// built-in read-only "_Server" database describing them, and the
// listeners ("remotes") through which JSON-RPC clients reach them.
//
//	srv := server.New(server.Options{})
//	defer srv.Close()
//	if err := srv.AddDatabase("/var/lib/ovn/ovnnb_db.db"); err != nil { ... }
//	if err := srv.AddRemote("punix:/var/run/ovn/ovnnb_db.sock"); err != nil { ... }
//
// Server implements jsonrpc.Backend. Databases are opened through
// Options.Open (by default the standalone file store); list_dbs returns
// the database names sorted bytewise, "_Server" included, as C does.
// See DESIGN.md.
package server

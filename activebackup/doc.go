// Package activebackup is the active-backup replication mode of
// ovsdb-server (C's --sync-from, ovsdb/replication.c): a backup server
// follows an active server, C's or ours, and is promoted or demoted at
// run time.
//
// A Replicator is the replication of one server. Its Opener wraps the
// server's opener (server.Options.Open): every standalone database is
// served through a server.Mode of this package that is the standalone
// mode while the server is active, and while it is a backup refuses
// clients' writes with C's read-only error and receives the active
// server's changes. Clustered databases are not replicated.
//
// On a backup the Replicator connects to the active server (C's
// reconnection backoff, jsonrpc.Redialer), checks that it is not itself
// (get_server_id), and for every database both serve (list_dbs) takes the
// active server's schema (get_schema: a database whose schema differs is
// converted to it, and the server serves the new engine) and its
// contents, through a monitor of every table but the excluded ones
// (monitor_cond_since, falling back to monitor_cond and monitor). The
// initial contents replace the database's in one transaction that
// writes only the rows that differ; each update is then applied as one
// transaction. Both go through the standalone mode, so they are in the
// file before they are visible, and the database's monitors see them as
// any commit. After a reconnection the contents are taken again, or,
// when the active server still has the last transaction applied in its
// history (monitor_cond_since, our server's history), only what followed.
//
// The methods of Replicator are the control commands of C's
// ovsdb-server (set-active-ovsdb-server, connect-active-ovsdb-server,
// disconnect-active-ovsdb-server, set-sync-exclude-tables, sync-status
// and the others), registered by cmd/ovsdb-server. See DESIGN.md for
// the reasons and for where this package differs from C.
package activebackup

// Command ovsdb-server is a drop-in replacement for Open vSwitch's C
// ovsdb-server 3.1, serving standalone and clustered (Raft) databases.
//
//	ovsdb-server [OPTIONS] [DATABASE...]
//
// With no DATABASE, $OVS_DBDIR/conf.db (default /etc/openvswitch/conf.db)
// is served. Options follow C's getopt_long rules ("--opt=VAL" or
// "--opt VAL" for required arguments, "--opt=VAL" only for optional ones):
// --remote (repeatable; punix: and ptcp: are served, other remotes are
// listed but warned about as unsupported), --unixctl, --pidfile[=FILE],
// --detach, --no-chdir, --monitor, --user, --log-file[=FILE],
// -v[SPEC]/--verbose[=SPEC], -h/--help, -V/--version. SSL, sync and replay
// options are accepted and ignored with a warning. A "db:DB,TABLE,COLUMN"
// remote naming a missing database, table or column is fatal at startup
// and refused by ovsdb-server/add-remote, with C's texts; valid ones are
// listed but not served.
//
// --disable-standalone-history (ours, not C's) keeps no transaction
// history for standalone databases and _Server, so monitor_cond_since and
// update3 are exactly C's (all-zeros last-txn-id, found=false, full
// contents on resume). By default every database keeps a history and a
// reconnecting client resumes from its last id (see
// conformance/DIFFERENCES.md).
//
// As C (its config_tmpfile), the remotes and databases added or removed
// with ovs-appctl survive the restart of a crashed daemon by --monitor:
// the first process saves them in an unlinked temporary file that the
// detached child, the monitor and every restarted daemon inherit
// (descriptor in OVSDB_GO_RUN_CONFIG_FD); the daemon rewrites it after
// each change and a restarted daemon reads it instead of the command line.
//
// --version prints two lines: first "ovsdb-server (Open vSwitch) 3.1.0",
// the C server's line, unchanged because tools and scripts parse it (ovs-lib
// takes the last word of the first line of "ovs-appctl version"), then
// "ovsdb-server-go VERSION (BUILD)", which names this project, its version
// and what the binary records of its build (internal/version). The unixctl
// "version" command replies with the same two lines and the log starts with
// them.
//
// Sockets and files are created with C's modes minus the umask
// (internal/fsmode): unix sockets 0770 (others can never connect), database
// and log files 0660, lock files 0600, the pidfile 0666.
//
// The control socket (ovs-appctl -t) serves exit, version, list-commands,
// memory/show, vlog/*, and the ovsdb-server/* commands list-dbs, add-db,
// remove-db, list-remotes, add-remote, remove-remote, compact, reconnect,
// sync-status, with C's output and error texts; once a clustered database is open, C's
// cluster/* commands too (cluster.go: each runs the database mode's
// server.Mode.Control).
//
// This file's package is the wiring: it chooses the replication modes
// (server.Options.Open = cluster.Opener(nil): clustered files open as Raft
// members, others as standalone databases) and the process-wide settings
// the library never changes (internal/gctune's adaptive GC target,
// started in run).
package main

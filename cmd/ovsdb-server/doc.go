// Command ovsdb-server is a drop-in replacement for Open vSwitch's C
// ovsdb-server 3.1, serving standalone and clustered (Raft) databases.
//
//	ovsdb-server [OPTIONS] [DATABASE...]
//
// With no DATABASE, $OVS_DBDIR/conf.db (default /etc/openvswitch/conf.db)
// is served (none with --no-dbs). Options follow C's getopt_long rules
// ("--opt=VAL" or "--opt VAL" for required arguments, "--opt=VAL" only for
// optional ones): --remote (repeatable; punix:, ptcp:, pssl:, unix:,
// tcp:, ssl: and db:DB,TABLE,COLUMN are served as C), --unixctl,
// --pidfile[=FILE], --detach, --no-chdir, --monitor, --user,
// --log-file[=FILE], -v[SPEC]/--verbose[=SPEC], -h/--help, -V/--version,
// --run, --no-dbs, --sync-from, --sync-exclude-tables, --active. A
// "db:DB,TABLE,COLUMN" remote naming a missing database, table or column
// is fatal at startup and refused by ovsdb-server/add-remote, with C's
// texts.
//
// --run=COMMAND (run.go) runs COMMAND with /bin/sh -c once the control
// socket serves, and exits when it ends, as C: status 0 if it succeeded,
// otherwise 1 after "ovsdb-server: COMMAND: child exited, exit status N"
// (or "killed (Terminated)", C's signal descriptions) on stderr. The
// version is not logged then. If the server exits first, the command is
// left running.
//
// --record[=DIR] and --replay[=DIR] (C's stream recording and replay) are
// refused: the server exits with status 1 and "ovsdb-server: --record:
// stream recording and replay are not supported by this server".
//
// SSL options (tls.go): -p/--private-key, -c/--certificate, -C/--ca-cert,
// --bootstrap-ca-cert, --peer-ca-cert, --ssl-protocols and --ssl-ciphers
// configure the pssl: and ssl: remotes (an internal/tlsconf Config given
// to server.Server.SetTLS before the remotes are added); as in
// C each but --peer-ca-cert may be a db:DB,TABLE,COLUMN reference to a
// string column, read (first non-empty string of the column) at startup
// and every 2.5 s while the server runs. A bad reference is fatal at
// startup with C's text ("no database named X", "no table named T",
// "table \"T\" has no column \"C\"", "... is not string or set of strings",
// "invalid syntax"), and logged as a warning when it goes bad later, as C.
// A value that cannot be honoured (an unreadable or mismatched key or
// certificate, an unreadable CA file, protocols or ciphers Go's TLS cannot
// honour) is fatal at startup; when it comes from a db: reference that
// changes later, it is logged and the previous settings stay. Key,
// certificate and CA files are re-read when they change on disk. The same
// Config (clustertls.go: made before the databases open, from the options
// given as files) is cluster.Options.TLS: clustered members on "ssl:"
// cluster addresses talk TLS to each other with it, as C's.
//
// --disable-standalone-history (ours, not C's) keeps no transaction
// history for standalone databases and _Server, so monitor_cond_since and
// update3 are exactly C's (all-zeros last-txn-id, found=false, full
// contents on resume). By default every database keeps a history and a
// reconnecting client resumes from its last id (see
// conformance/DIFFERENCES.md).
//
// Active-backup replication (sync.go, package activebackup):
// --sync-from=SERVER (unix:, tcp:, ssl: with the SSL options) makes the
// server a backup of SERVER unless --active is given;
// --sync-exclude-tables=DB:TABLE,... leaves tables out. A backup's
// sessions are read-only from the start (server.Server.SetReadOnly); it
// follows the active server and is promoted (disconnect-active-ovsdb-
// server) or an active server demoted (set-active-ovsdb-server, then
// connect-active-ovsdb-server) at run time. add-db and remove-db on a
// backup start replication over, as C. See activebackup/doc.go.
//
// As C (its config_tmpfile), the remotes and databases added or removed
// with ovs-appctl, and the active-backup settings (active server,
// excluded tables, backup or not), survive the restart of a crashed daemon by --monitor:
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
// The control socket (ovs-appctl -t) serves every command of C 3.1's
// ovsdb-server with C's output, error texts and exit status: exit,
// version, list-commands, memory/show, vlog/*, coverage/show,
// coverage/read-counter, and the ovsdb-server/* commands list-dbs, add-db,
// remove-db, list-remotes, add-remote, remove-remote, compact,
// memory-trim-on-compaction, reconnect, sync-status, get-db-storage-status,
// tlog-set, tlog-list, perf-counters-show, perf-counters-clear,
// disable-monitor-cond, and the active-backup ones (sync.go):
// set-active-ovsdb-server, get-active-ovsdb-server,
// connect-active-ovsdb-server, disconnect-active-ovsdb-server,
// set-active-ovsdb-server-probe-interval, set-sync-exclude-tables,
// get-sync-exclude-tables; once a clustered database is open, C's cluster/*
// commands too (cluster.go: each runs the database mode's
// server.Mode.Control). Notes on each (control.go, tlog.go, coverage.go):
//
//   - memory/show prints C's keys that apply: atoms, cells, monitors,
//     n-weak-refs, sessions and the Raft figures of the modes (raft-log,
//     raft-connections, raft-backlog-kB); as C, a figure other than
//     monitors and n-weak-refs is omitted when zero. C's triggers, backlog,
//     json-caches, txn-history and txn-history-atoms are not measured (a
//     fresh C cluster member shows txn-history:1, ours omits it).
//   - sync-status prints C's lines ("state: active"; on a backup "state:
//     backup" and "connecting: SERVER", or "replicating: SERVER",
//     "database: DB, ..." and "exclude: DB:TABLE,..." when tables are
//     excluded), then, on a backup that has replicated, two lines of ours:
//     "lag: N transactions received, not yet applied" and "last update: S
//     seconds ago" (ovn-ctl reads the first line only).
//   - The active-backup commands reply as C: an empty reply, or as a
//     successful reply C's "Unable to connect: active server is not
//     specified." and "Invalid probe interval, integer value expected"
//     (C's str_to_int syntax); set-sync-exclude-tables takes C's list
//     forms and never fails, and without an argument empties the list
//     (C crashes).
//   - get-db-storage-status DB prints "status: ok" for a served database
//     (C's storage error is set only for a Raft log found inconsistent),
//     "Failed to find the database." otherwise.
//   - memory-trim-on-compaction on|off (on by default, as C) logs C's
//     "memory trimming after compaction enabled." the first time and at
//     each change; trimming is runtime/debug.FreeOSMemory after
//     ovsdb-server/compact.
//   - tlog-set DB:TABLE on|off logs every committed change of the table's
//     rows at INFO (module transaction) in C's format and column order,
//     rate limited as C (30 a minute, bursts of 60; vlog/disable-rate-limit
//     lifts it); the rows of one transaction are logged by table name then
//     row UUID (C: in the order the transaction touched them). A database
//     that is converted, or removed and added, starts with logging off, as
//     C. tlog-list is C's table.
//   - coverage/show and coverage/read-counter know C's 112 counter names,
//     listed in C's order with C's rates and hash; the counts are ours
//     (coverage.go): unixctl_received/replied, pstream_open, lockfile_lock
//     and process_start count this server's events, the others (C's poll
//     loop, hash maps, allocator) stay at zero.
//   - perf-counters-show: C 3.1's ovsdb-server declares no performance
//     counter, so its reply depends only on whether perf_event_open(2)
//     works ("performance counter has never been hit" or "performance
//     counter is not supported on this platform"); ours makes the same
//     probe. perf-counters-clear replies nothing.
//   - disable-monitor-cond makes monitor_cond and monitor_cond_since
//     answer "unknown method" from then on (it cannot be undone) and
//     disconnects every client, logging C's "NAME: disconnecting (user ran
//     ovsdb-server/disable-monitor-cond)", as C.
//   - cluster/failure-test SCENARIO and cluster/set-backlog-threshold DB
//     N_MSGS N_BYTES check their arguments as C ("unknown test scenario",
//     "test dismissed" for clear; "unknown cluster", "invalid argument",
//     "values out of range") and then run the database mode's Control
//     ("cluster/failure-test" on every clustered database, with the
//     scenario; "cluster/set-backlog-threshold" with the two numbers in
//     decimal); the member side and how each C failure type maps onto
//     hashicorp/raft are in raft/DESIGN.md, "Failure tests". A test crash
//     removes the files C removes at exit, writes "ovsdb-server: LINE" on
//     standard error and exits with status 1, as C's ovs_fatal.
//   - time/stop and time/warp are not registered: C 3.1's ovsdb-server
//     does not register them either (only programs built with its dummy
//     test support do), so both answer C's "\"time/warp\" is not a valid
//     command" with exit status 2.
//
// This file's package is the wiring: it chooses the replication modes
// (server.Options.Open = repl.Opener(cluster.Opener(nil)): clustered files
// open as Raft members, others as standalone databases under the
// active-backup Replicator repl) and the process-wide settings
// the library never changes (internal/gctune's adaptive GC target,
// started in run).
//
// Memory against latency: the adaptive GC target allows about 32 MiB of
// garbage beyond the live heap (GOGC between 75 and 400), so resident
// memory stays close to the database's size. Setting GOGC (or GOMEMLIMIT)
// in the server's environment replaces it. A larger GOGC means fewer
// collections, each of which marks the whole database again: with a
// database growing by 140,000 rows a second (loadgen insert100, one
// client), GOGC=400 cut the single-client p99 from 3.9-5.2 ms (GOGC=100
// or the adaptive target) to 1.7-2.0 ms and CPU per transaction by
// 10-15%, at up to five times the live heap in memory
// (benchmarks/RESULTS.md, "Tried and not kept, 2026-12-07 03:50-04:10").
package main

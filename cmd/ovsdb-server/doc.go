// Command ovsdb-server is a drop-in replacement for Open vSwitch's C
// ovsdb-server 3.1 in standalone mode.
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
// options are accepted and ignored with a warning.
//
// --version prints "ovsdb-server (Open vSwitch) 3.1.0", the same line as
// the C server, because tools and scripts parse it; the unixctl "version"
// command replies with the same text.
//
// The control socket (ovs-appctl -t) serves exit, version, list-commands,
// memory/show, vlog/*, and the ovsdb-server/* commands list-dbs, add-db,
// remove-db, list-remotes, add-remote, remove-remote, compact, reconnect,
// with C's output and error texts.
package main

// Command ovsdb-tool is a drop-in replacement for the Open vSwitch 3.1
// ovsdb-tool: same command line, output, error messages and exit codes.
//
// Commands (C's argument counts; DB defaults to $OVS_DBDIR/conf.db and
// SCHEMA to $OVS_PKGDATADIR/vswitch.ovsschema):
//
//	create [DB [SCHEMA]]                 create a standalone DB
//	create-cluster DB CONTENTS LOCAL     create a clustered DB (--election-timer=MS)
//	join-cluster DB NAME LOCAL REMOTE... prepare to join a cluster (--cid=UUID)
//	cluster-to-standalone DB CLUSTERDB   clustered CLUSTERDB to standalone DB
//	compact [DB [DST]]                   compact in place or to DST
//	convert [DB [SCHEMA [DST]]]          convert to SCHEMA
//	needs-conversion [DB [SCHEMA]]       prints "yes" or "no"
//	db-name, db-version, db-cksum [DB]
//	db-cid, db-sid, db-local-address DB  clustered databases only
//	db-is-clustered, db-is-standalone DB exit 0 if true, 2 if false
//	schema-name, schema-version, schema-cksum [SCHEMA]
//	compare-versions A OP B              exit 0 if true, 2 if false
//	query [DB] TRNS, transact [DB] TRNS  run a transaction on a standalone DB
//	[-m]... show-log [DB]                print the records of a standalone DB
//	help, list-commands
//
// Clustered databases: files written by the C tool ("OVSDB CLUSTER") are
// recognised and their header answers db-name, db-cid, db-sid and
// db-local-address. Our own clustered files (storage/raftstore, bbolt) are
// answered from their metadata through the clusterStore hook (cluster.go).
//
// --version prints two lines: "ovsdb-tool (Open vSwitch) 3.1.0", the line of
// the C tool this program is compatible with, so that scripts that parse it
// keep working, then "ovsdb-server-go VERSION (BUILD)", which names this
// project, its version and build (internal/version).
//
// Files are created with C's modes minus the umask (internal/fsmode):
// databases, standalone or clustered, 0660 (a compacted or converted
// replacement gets that mode anew), lock files 0600.
//
// Known differences from C: JSON syntax error messages (from Go's decoder,
// not C's parser); "query" with a write operation fails the transaction
// with a different I/O error; getopt messages name the program by its base
// name.
package main

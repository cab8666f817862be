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
//	[-m]... show-log [DB]                print the records of a DB
//	check-cluster DB...                  check clustered DBs (silent, exit 0: consistent)
//	--force cluster-recover DB           make DB the only member of its cluster
//	help, list-commands
//
// As in C, the commands that read or write a standalone database's data
// (db-version, db-cksum, needs-conversion, query, transact, compact,
// convert) refuse clustered files with "cannot apply this operation to
// clustered database file".
//
// Clustered databases come in two formats. Files written by the C tool
// ("OVSDB CLUSTER") are read as C reads them: db-name, db-cid, db-sid,
// db-local-address, show-log (C's layout) and check-cluster (C's checks
// and messages) print what C's tool prints, and cluster-to-standalone
// copies their records. Our own files (storage/raftstore, one bbolt file
// per member) answer the same commands: the header commands from the
// file's metadata; check-cluster with C's messages and exit statuses for
// what both formats have, and the checks storage/raftstore/DESIGN.md
// lists for ours; show-log in C's layout where the formats correspond
// (DESIGN.md, "ovsdb-tool show-log"). Our files are read also while a
// server runs on them (raftstore.OpenReadOnly), as C's tool reads a
// running member's log.
//
// Cluster addresses given to create-cluster and join-cluster are checked
// as C checks them (raft.ValidateAddress): "tcp:HOST:PORT", "ssl:HOST:PORT"
// (the server then talks TLS to the other members with its --private-key,
// --certificate and --ca-cert) or "unix:PATH", a relative PATH being in the
// OVS run directory when the server listens. --election-timer takes C's
// 100..600000 ms.
//
// cluster-recover (ours; C has no such command) is for a member whose
// cluster lost its majority for good: it rewrites the member's own file
// (our format only) into a one-member cluster of the same cluster id and
// server id, keeping every entry the member holds, so that it elects
// itself when started and new or wiped members can join it with
// join-cluster. It refuses with exit status 1 unless --force says that the
// other members are gone and will never run again with their files, and
// while a server runs on the file (the file is locked). It changes only
// the file; nothing runs it at start-up. raft/DESIGN.md, "Survivor
// recovery", gives the safety argument.
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
// name; show-log and check-cluster
// of our clustered files describe our format.
package main

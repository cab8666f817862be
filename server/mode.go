package server

// The replication boundary: what every replication mode of a served
// database implements. A Server holds one Mode per database and knows
// nothing else about how the database is stored or replicated.
//
// Implementations in this tree:
//   - standalone (this package, standalone.go, over internal/standalone):
//     one file, group-committed writes;
//   - clustered (package cluster, cluster/member.go): a Raft member;
//   - active-backup (package activebackup): the standalone mode of each
//     database, following an active server's updates while a backup.
//
// To add a mode, write a package whose type implements Mode and make the
// wiring (cmd/ovsdb-server's opener, or Options.Open of an embedding
// program) return it for the files or flags that select it. Nothing in
// Server changes: it has no type switch or assertion on a concrete mode.

import (
	"context"
	"errors"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// Mode is one served database under its replication mode.
//
// Concurrency: every method may be called from any goroutine, and
// Transact, Database and Info concurrently with each other and with
// themselves (one call per client request in flight). Compact, Convert,
// Control and Memory may run concurrently with transactions; the Server
// never runs two Converts of one database at once. Close is called once,
// after which the Server calls nothing else; it may run while
// transactions are still in flight, which must then return (an error
// result or nil) rather than block.
type Mode interface {
	// Database returns the engine holding the state that clients read
	// and monitor. It is the same object for the life of the Mode, except
	// after an online conversion: Convert's result serves the converted
	// engine, and a mode whose conversions are replicated (a Raft
	// member converted through another member) may return a new engine
	// at any time, after which it must close Info's change channel; the
	// Server then serves the new engine as C serves a clustered database
	// whose schema changed (modeConverted: monitors canceled, the
	// _Server row shows the new schema, sessions that are not
	// db-change-aware disconnected if the schema version changed). The
	// old engine must stay readable (readers may still hold it) but is
	// no longer written.
	//
	// Ordering guarantee for monitors: the engine's commit observers
	// (monitors) see every change set in commit order, each exactly once,
	// and see a change set no later than the reply of the transaction
	// that made it is returned by Transact. A mode that applies changes
	// made elsewhere (followers, backups) applies them through this
	// engine, so monitors on every member see the same sequence.
	Database() *ovsdb.Database

	// Transact executes one client transaction (the "transact" params
	// after the database name) and returns its result array, exactly as
	// the C server builds it. The reply is given only when the
	// transaction's effects are as durable as the mode promises
	// (standalone: written to the file; clustered: committed by a
	// majority and applied on this member), so a following request on
	// this member sees them. Errors are part of the result array, as
	// RFC 7047 results: an operation's error object in its slot, or a
	// commit error (for example C's "cluster error" of a member that left
	// its cluster) as the last element. A nil result means ctx was
	// canceled while the transaction waited (the JSON-RPC layer answers
	// "canceled", as C's cancel method does); nothing was committed.
	//
	// A transaction blocked in an unsatisfied "wait" is retried with
	// ovsdb.RetryBlocked, which calls the ctx's ovsdb.BlockHooks.
	Transact(ctx context.Context, ops []any, opts ovsdb.TransactOptions) []any

	// Info returns the facts shown in the database's _Server.Database
	// row and a channel that is closed when they may have changed (nil:
	// they never change). The Server calls Info again after each close;
	// spurious closes are allowed (a mode may poll).
	Info() (Info, <-chan struct{})

	// Convert converts the database online to schema ns (the "convert"
	// method; the Server has checked the schema name and holds no lock):
	// it keeps the data as C's conversion rules say, makes the converted
	// database durable and returns the Mode serving it. The receiver is
	// retired: the Server stops using it and does not Close it (Convert
	// hands its resources to the new Mode or releases them), unless
	// Convert returns the receiver itself, now serving the converted
	// engine (a replicated mode, whose conversion every replica applies;
	// the Server then treats the requester's sessions as modeConverted
	// treats a replica's). The Server never runs two Converts of
	// one database at once. A mode that
	// cannot convert returns an error wrapping ErrUnsupported and stays
	// as it was.
	Convert(ns *schema.DatabaseSchema) (Mode, error)

	// Compact rewrites the stored form as a snapshot of the current
	// contents (ovsdb-server/compact): a standalone file is rewritten, a
	// Raft member takes a snapshot and truncates its log. It may run
	// concurrently with transactions.
	Compact() error

	// Control runs one of the mode's own ovs-appctl commands for this
	// database (for a Raft member: cluster/status, cluster/cid,
	// cluster/sid, cluster/leave, cluster/kick,
	// cluster/change-election-timer) with the arguments after the
	// database name, and returns C's reply text or an error whose text is
	// C's. A command the mode does not have returns an error wrapping
	// ErrUnsupported.
	Control(command string, args []string) (string, error)

	// Memory returns the mode's figures for memory/show (C's names, e.g.
	// "raft-log"), or nil.
	Memory() map[string]int

	// Close stops the mode and releases its files and connections. A Raft
	// leader transfers its leadership first.
	Close() error
}

// Info is what a database's row in _Server.Database shows of its mode.
type Info struct {
	// Model is "standalone", "clustered" or "relay".
	Model string
	// Connected and Leader are C's columns: a standalone database is
	// always both; a Raft member is connected while it is part of a
	// cluster with a known leader (C's raft_is_connected), leader while
	// it leads.
	Connected, Leader bool
	// Index, CID and SID are shown only for the "clustered" model, as C
	// does: the last applied log index, the cluster id (zero: not yet
	// known, the column is then empty) and this member's server id.
	Index    uint64
	CID, SID schema.UUID
	// Refuse, when not empty, is the text of the error every client
	// request naming the database gets (transact, monitor, get_schema,
	// convert...): a mode that serves no clients, such as a Raft arbiter,
	// which holds no data. The database stays listed by list_dbs and in
	// _Server, so that clients learn where to go.
	Refuse string
}

// ErrUnsupported is wrapped by a Mode's errors for operations its
// replication mode does not have (Convert, Control).
var ErrUnsupported = errors.New("not supported by this replication mode")

// Opener opens the database file at path under its replication mode.
type Opener func(path string) (Mode, error)

// Package raftstore keeps one member of a clustered database in a bbolt
// file and, beside it, a write-ahead log directory FILE.wal: the file holds
// Raft's stable store (term, vote), the Raft snapshots, the member's
// metadata (cluster id, server id, local address, database name, schema,
// election timer, and the addresses to join while the member has not joined
// yet) and the WAL's segment list; the directory holds the Raft log in
// hashicorp/raft-wal segment files. It implements hashicorp/raft's
// LogStore, StableStore and SnapshotStore on them.
//
// Durability: StoreLogs appends a whole batch with one write and one
// fdatasync, so when it returns the entries are on disk and group commit
// costs one fsync per batch. Every other write is a bbolt read-write
// transaction committed with fsync (NoSync is never set). Snapshots are
// written in bounded chunks, one short transaction each, and become visible
// only when the final small transaction records their metadata, so a
// snapshot interrupted by a crash is discarded on the next Open.
//
// The file names its WAL directory's random id, so a file re-created at
// the same name never reads an old directory (Create sets such a directory
// aside); Open migrates files whose log is still in their bbolt "log"
// bucket. OpenReadOnly reads a member's file and log without disturbing a
// server that runs on them.
//
// The position of the last entry applied is recorded (RecordApplied) in a
// side file, one pwrite per entry, and with the file's commits, so that a
// restarted member applies its own log up to it (AppliedHints) before it
// hears from a leader.
//
// Standalone databases do not use this package: they stay in the OVSDB log
// format of package storage. IsCluster and Sniff tell the formats apart.
//
// The package imports hashicorp/raft types, hashicorp/raft-wal, bbolt,
// schema, ovsdberr and internal/fsmode; it
// never imports the raft, jsonrpc or ovsdb packages of this module. See
// DESIGN.md for the reasons behind the layout.
package raftstore

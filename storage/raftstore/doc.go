// Package raftstore keeps one member of a clustered database in a single
// bbolt file: the Raft log, Raft's stable store (term, vote), the Raft
// snapshots, and the member's metadata (cluster id, server id, local
// address, database name, schema, election timer, and the addresses to join
// while the member has not joined yet). It implements hashicorp/raft's
// LogStore, StableStore and SnapshotStore on that file.
//
// Durability: every write is a bbolt read-write transaction committed with
// fsync (NoSync is never set), so when StoreLogs returns the entries are on
// disk. StoreLogs writes a whole batch in one transaction, which makes group
// commit cost one fsync per batch. Snapshots are written in bounded chunks,
// one short transaction each, and become visible only when the final small
// transaction records their metadata, so log appends are never held up for
// long and a snapshot interrupted by a crash is discarded on the next Open.
//
// The position of the last entry applied is recorded (RecordApplied) in a
// side file, one pwrite per entry, and with each StoreLogs, so that a
// restarted member applies its own log up to it (AppliedHints) before it
// hears from a leader.
//
// Standalone databases do not use this package: they stay in the OVSDB log
// format of package storage. IsCluster and Sniff tell the formats apart.
//
// The package imports hashicorp/raft types, bbolt, schema, ovsdberr and
// internal/fsmode; it
// never imports the raft, jsonrpc or ovsdb packages of this module. See
// DESIGN.md for the reasons behind the layout.
package raftstore

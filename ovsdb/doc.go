// Package ovsdb is the transaction engine: the in-memory state of one
// database and the execution of RFC 7047 "transact" operations with the
// semantics, results and error texts of the C ovsdb-server 3.1.
//
// Committed rows are immutable (*Row values shared by readers); a
// transaction works on private copies of the rows it touches and, at commit,
// checks referential integrity, garbage-collects unreferenced non-root rows,
// removes dangling weak references, checks maxRows and unique indexes, stamps
// new _version UUIDs, hands the ChangeSet to the Committer and only then
// makes it visible. See DESIGN.md.
package ovsdb

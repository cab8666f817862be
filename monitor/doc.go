// Package monitor implements OVSDB monitors as C ovsdb-server 3.1 does:
// "monitor" (update), "monitor_cond" (update2), "monitor_cond_since"
// (update3, with a bounded transaction history), "monitor_cond_change" and
// "monitor_cancel".
//
// A Manager subscribes to each monitored ovsdb.Database with
// Database.Observe, queues committed change sets in commit order, turns
// them into table-updates once per distinct monitor shape and hands the
// shared bytes to each session's send queue. Server code calls Create,
// CondChange, Cancel from the JSON-RPC handlers, Sync after a transact
// (before its reply), Count for memory/show and CancelDatabase when a
// database goes away. See DESIGN.md.
package monitor

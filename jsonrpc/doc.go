// Package jsonrpc is the JSON-RPC 1.0 stream layer of the OVSDB server.
//
// It reads back-to-back JSON values from stream sockets (punix:, ptcp:),
// validates them with the same rules as Open vSwitch's C library (a bad
// message closes that connection only), dispatches requests to the OVSDB
// methods (list_dbs, get_schema, transact, cancel, echo, get_server_id, plus
// any method registered later with Server.Register, which refuses to replace
// a built-in one; transact has an after-transact hook instead) and writes
// replies with the C serialisation (internal/cjson) and C's member order.
// Passive remotes are opened with Listen and served with Server.Serve (the
// only listener stack; package server's AddRemote is built on it).
//
// Requests of one connection are executed in arrival order (a transact
// blocked in "wait" lets the next ones run, as C's triggers do); different
// connections run in parallel. Each server session has its own read loop,
// which executes a request itself when nothing is before it and nothing was
// sent behind it, and a worker goroutine for pipelined requests (another
// one while a transaction is blocked in a "wait").
//
// The package also has a small client (Dial, on github.com/cenkalti/rpc2) used by tests, conformance
// checks and benchmarks. See DESIGN.md.
package jsonrpc

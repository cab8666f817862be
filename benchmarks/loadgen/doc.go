// Package loadgen is a side-by-side load harness for OVSDB servers.
//
// For each server binary it creates a fresh database with the C
// `ovsdb-tool create`, starts the server on a unix socket in a temporary
// directory, drives it with N concurrent closed-loop clients (a minimal
// JSON-RPC client of its own, one connection per client) for a fixed
// duration, records throughput and latency percentiles, then stops the
// process it started by PID. The same parameters are used for every
// server, one after the other, so the figures can be compared as ratios.
//
// Workloads insert rows into a table of a schema (by default
// Logical_Switch of the OVN northbound schema): "insert1" sends one insert
// per transaction, "insert100" sends 100 inserts per transaction.
//
// The command-line front end is benchmarks/cmd/loadgen.
//
// Monitor benchmarks (front end benchmarks/cmd/monbench), on the OVN
// northbound schema: RunFanout / FanoutOn measure the time from a
// single-row insert until N monitoring clients have all read its update;
// RunInitial loads switches with ports (LoadNB), times fresh clients'
// initial monitor_cond replies and reads the server's RSS. Replies are
// split into messages by a small depth-tracking scanner instead of being
// decoded, so the harness spends little CPU per byte.
package loadgen

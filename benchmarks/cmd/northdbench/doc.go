// Command northdbench measures the large-database scenario OVN users
// meet, on the C ovsdb-server and ours in one invocation: an NB database
// of 1,000 logical switches with 50,000 ports, the SB that ovn-northd
// computes from it, and bulk changes on top.
//
// For each server kind it starts a standalone NB server and a standalone
// SB server of that kind (fresh files created by C's ovsdb-tool, unix
// sockets, temporary directories) and loads the NB through one client
// connection, one switch with its ports per transaction. It then starts
// one ovn-northd (the installed binary, the same for both kinds) on them
// and times, each time until `ovn-nbctl --wait=sb sync` returns:
//
//   - initial: from starting ovn-northd on the loaded NB (it reads the
//     whole NB and writes the whole SB);
//   - idle: no change, the cost of the sync itself;
//   - add-ports: -bulk-ports ports added, spread over the switches, in
//     one transaction;
//   - touch-switches: external_ids set on every Logical_Switch in one
//     update;
//   - del-ports: the added ports removed in one transaction.
//
// It reads RSS and peak RSS (VmHWM) of both servers and northd's RSS from
// /proc after the initial sync and after the last change, and the CPU
// seconds each process used in every phase from /proc/PID/stat. Last,
// with ovn-northd paused (`ovs-appctl pause`, its connections stay open),
// a closed-loop writer inserts one row per transaction (Logical_Switch
// into NB, Address_Set into SB) while `ovs-appctl ovsdb-server/compact`
// runs -compactions times on that database: the compaction times and the
// writer's longest latency during them are reported. The row counts of
// the main SB tables are printed for both kinds as a check that the same
// NB gave the same SB.
//
// From the module root:
//
//	go run ./benchmarks/cmd/northdbench
//
// Flags: -switches, -ports (per switch), -bulk-ports, -compactions, -gap,
// -tail, -sync-timeout, -northd-threads, -sb-schema, -schema (NB), -ours
// PATH, -c PATH, -tool PATH, -northd PATH, -nbctl PATH, -appctl PATH,
// -only c|ours, -json, -v; -from FILE prints the tables of a saved -json
// output. Results and method: benchmarks/RESULTS.md,
// section "Large database with ovn-northd (issue 15, scope 4)".
package main

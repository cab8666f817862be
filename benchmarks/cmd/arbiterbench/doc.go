// Command arbiterbench measures the memory of a Raft arbiter member
// against the data members of the same cluster (issue 13): a cluster of
// our ovsdb-server with 2 data members and 1 arbiter (`ovsdb-tool
// join-cluster --arbiter`), OVN northbound schema, on 127.0.0.1 free
// ports in a temporary directory, is loaded through the leader with
// -switches Logical_Switch rows holding -ports Logical_Switch_Port rows
// in total (one switch with its ports per transaction, as monbench's RSS
// measurement). Once every member's cluster/status shows the leader's log
// end with no entry left to commit or apply, and after -settle, it reads
// VmRSS, VmHWM, RssAnon and RssFile of every member from /proc/PID/status;
// then again after `ovs-appctl -t CTL ovsdb-server/compact` on every
// member and -settle. It prints one row per member (leader, follower,
// arbiter) and the ratio of the arbiter's RSS to the smallest data
// member's. Every process is stopped by PID.
//
// From the module root:
//
//	go run ./benchmarks/cmd/arbiterbench
//	go run ./benchmarks/cmd/arbiterbench -ports 500 -switches 10 -settle 1s
//
// Flags: -ports; -switches; -settle; -election-timer; -apply-timeout;
// -ours PATH; -ours-tool PATH; -appctl PATH; -schema; -json; -v. Results:
// benchmarks/RESULTS.md, "Arbiter memory (issue 13)".
package main

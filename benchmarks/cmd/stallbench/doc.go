// Command stallbench measures whether compaction (snapshots) stalls
// clients, on the C ovsdb-server and ours side by side (OVN northbound
// schema, unix sockets, fresh databases):
//
//   - standalone: a database of 50 switches x 1000 ports is loaded, then
//     one closed-loop client inserts one Logical_Switch per transaction
//     while `ovs-appctl -t CTL ovsdb-server/compact` runs a few times;
//   - cluster: the same on a 3-member cluster, writer and compactions on
//     the leader.
//
// Each transaction that overlaps a compaction window (from the appctl call
// until it returns, plus -tail) counts as "during"; p50, p99.9 and max are
// reported during and outside the windows.
//
// From the module root:
//
//	go run ./benchmarks/cmd/stallbench -mode standalone,cluster
//
// Flags: -mode; -compactions; -gap; -tail; -switches; -ports; -ours PATH;
// -c PATH; -tool PATH; -ours-tool PATH (cluster files of ours); -appctl PATH; -only c|ours; -json; -v. Results and
// method: benchmarks/RESULTS.md.
package main

// Command monbench measures monitors side by side on the C ovsdb-server
// and ours (OVN northbound schema, unix sockets, fresh databases):
//
//   - fanout: N clients monitor Logical_Switch; a writer inserts one row
//     per transaction, K times; latency = transact sent until the last
//     client has read the update;
//   - initial: a database of 50 switches x 1000 ports is loaded, then
//     fresh clients time monitor_cond on all of Logical_Switch_Port;
//   - rss: VmRSS after the load, after the monitor runs, and after a
//     restart on the loaded file.
//
// From the module root:
//
//	go run ./benchmarks/cmd/monbench -rounds 3
//	go run ./benchmarks/cmd/monbench -mode fanout -clients 100,1000
//
// Flags: -mode fanout,initial; -clients; -txns; -warmup; -switches;
// -ports; -runs; -settle; -rounds; -ours PATH; -c PATH; -tool PATH;
// -only c|ours; -json; -v. Results and method: benchmarks/RESULTS.md.
package main

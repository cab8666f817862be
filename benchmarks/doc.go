// Package benchmarks holds performance measurements of the server.
//
// transact_bench_test.go benchmarks the transaction hot path of the
// engine in-process (ovsdb.Database.Transact with a NopCommitter):
// single-row insert, 100-row insert, update by condition and select.
// Run them with `make bench` or
//
//	go test -run XXX -bench . -benchmem ./benchmarks/
//
// The side-by-side harnesses that run the C ovsdb-server and ours in one
// invocation are in benchmarks/loadgen (library) and benchmarks/cmd/*:
// loadgen (transaction load), monbench (monitor fan-out and initial
// replies), clusterbench (3-member clusters, failover), freshbench
// (follower read freshness), stallbench (compaction stalls), syncbench
// (active-backup replication lag and initial sync), tlsbench (TLS
// handshake rate and transaction throughput on pssl:), arbiterbench (RSS
// of a Raft arbiter against data members) and northdbench (a 50,000-port
// NB with ovn-northd: --wait=sb times, RSS, CPU, compaction stalls); loadgen and
// clusterbench report the servers' CPU per committed transaction, and
// clusterbench -via puts the clients on the leader or on a follower.
// benchmarks/loadgen's TestProfileTransactInProcess (TRANSACT_PROFILE_DIR)
// writes a runtime trace and CPU and allocation profiles of single-client
// transactions against the embedded server. Measured figures and the
// commands that reproduce them are in benchmarks/RESULTS.md.
package benchmarks

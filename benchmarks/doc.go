// Package benchmarks holds performance measurements of the server.
//
// transact_bench_test.go benchmarks the transaction hot path of the
// engine in-process (ovsdb.Database.Transact with a NopCommitter):
// single-row insert, 100-row insert, update by condition and select.
// Run them with `make bench` or
//
//	go test -run XXX -bench . -benchmem ./benchmarks/
//
// The side-by-side load harness that runs the C ovsdb-server and ours over
// unix sockets is in benchmarks/loadgen (library) and benchmarks/cmd/loadgen
// (command); measured figures and the commands that reproduce them are in
// benchmarks/RESULTS.md.
package benchmarks

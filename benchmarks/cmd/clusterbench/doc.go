// Command clusterbench compares a 3-member Raft cluster of the C
// ovsdb-server with one of ours on this machine, in one run: both clusters
// are built with their own ovsdb-tool (create-cluster + join-cluster) on
// 127.0.0.1 free ports with the same schema and election timer. For each
// cluster it measures N closed-loop clients (spread over the members' unix
// sockets, single-row inserts) and then the failover time: kill -9 of the
// leader while writing through a follower, until the first successful
// write issued after the kill (median over rounds). Every process is
// stopped by PID.
//
// From the module root:
//
//	go run ./benchmarks/cmd/clusterbench -duration 5s -clients 1,32 -failovers 5
package main

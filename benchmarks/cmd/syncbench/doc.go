// Command syncbench measures active-backup replication side by side, C's
// servers and ours in one invocation (OVN northbound schema, the active
// server on 127.0.0.1 TCP, the backup started with --sync-from=tcp:...):
//
//   - lag: a writer commits single-switch inserts on the active server at
//     a steady rate (-rate per second, one connection, paced); a
//     monitor_cond client of the backup reads each switch; lag = the
//     commit's reply on the active server until the backup's client has
//     read it (p50, p99, mean, max), with the CPU of both servers over the
//     measured window;
//   - initial: an active server is loaded with -switches x -ports
//     Logical_Switch_Port rows (and their switches), then a backup with a
//     fresh database is started: the time from starting its process until
//     a client of the backup reads a switch inserted after the load (the
//     initial contents are applied atomically, so every row is there; the
//     port count is checked), with the backup's CPU.
//
// Each is run for the pairings ACTIVE->BACKUP c->c, ours->ours, c->ours
// and ours->c (-pairs), -rounds times with the pairings alternating;
// medians are reported. The lag mode also runs c->none and ours->none:
// the active server alone at the same rate, the baseline of its CPU. From the module root:
//
//	go run ./benchmarks/cmd/syncbench
//	go run ./benchmarks/cmd/syncbench -mode lag -rate 1000 -duration 20s
//	go run ./benchmarks/cmd/syncbench -mode initial -switches 500 -ports 100
//
// Flags: -mode lag,initial; -pairs; -rate; -duration; -warmup;
// -switches; -ports; -rounds; -ours PATH; -c PATH; -tool PATH; -only
// c|ours (that pairing alone); -json; -v. Results: benchmarks/RESULTS.md.
package main

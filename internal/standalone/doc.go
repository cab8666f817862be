// Package standalone is the "standalone" replication mode of ovsdb-server:
// an ovsdb.Committer that appends every committed transaction to an OVSDB
// log file (package storage) in exactly the format the C server writes,
// replays such files (ours or C's) into an ovsdb.Database on open, and
// compacts the file (manually, or automatically with C's thresholds:
// earliest 10-20 minutes after the previous compaction, when at least 100
// records were read or written and the file is over 10 MiB and more than
// twice its size after the last compaction; or after 24 hours if anything
// was logged at all).
//
// Compaction takes a consistent view of the committed rows and, without
// holding any lock, serialises it and writes and syncs the schema and the
// snapshot into a temporary file (storage.Log.PrepareReplace) while commits
// keep going to the old file and are also queued in a tail. It copies the
// tail into the temporary file in a few rounds without the lock, then
// briefly blocks writers (waits for a write in progress, copies the last
// tail records, fdatasyncs, renames, fsyncs the directory, switches the
// file). Measured with benchmarks/cmd/stallbench at 50,050 rows, the
// worst transaction during a compaction went from 55-92 ms to ~35 ms.
//
// Commits use group commit (ovsdb.GroupCommitter): the engine queues
// committed transactions, and WriteBatch writes the records of all that
// queued while the previous write ran, many per write system call, without
// the engine lock. A transaction becomes visible to readers and monitors
// only once its record is written (and synced if durable); a failed write
// leaves nothing in the file, fails its first transaction with C's I/O
// error and nothing else, and the next write succeeds as soon as there is
// space again (see groupcommit.go).
package standalone

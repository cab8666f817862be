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
// Compaction takes a consistent view of the committed rows, serialises it
// without holding any lock, then briefly blocks writers while it writes the
// new file (schema, snapshot, and the records committed meanwhile) and
// renames it over the old one.
//
// Commits use group commit (ovsdb.GroupCommitter): records are queued
// under the engine lock and written, many per write system call, after
// it is released but before the transactions are answered. A failed write
// differs from C: see groupcommit.go.
package standalone

// Package storage implements the on-disk OVSDB log file format of the C
// ovsdb-server (ovsdb(5)): a sequence of records, each a header line
//
//	OVSDB <magic> <length> <sha1-hex>\n
//
// followed by exactly <length> bytes of JSON (C writes the JSON text plus a
// trailing new-line, and both are covered by length and SHA-1). The magic is
// "JSON" for standalone databases and "CLUSTER" for clustered ones.
//
// A Log reads records one by one. A torn or corrupt record (bad header,
// short read, SHA-1 mismatch, invalid JSON) stops reading with an error; as
// in C, the caller logs it and keeps what was read so far, and the first
// write truncates the file at the end of the last good record. Writers hold
// the C-compatible lock file ".<name>.~lock~" (a POSIX fcntl lock), so a C
// and a Go server cannot both open one file for writing. Replace atomically
// rewrites a log (temporary file, fsync, rename), as compaction needs. It is
// also available in two phases, so that writers need not wait for a large
// snapshot: PrepareReplace writes and syncs "<file>.tmp" while the log stays
// live (it may run concurrently with writes to the log),
// (*Pending).Append adds the records written meanwhile, and
// (*Pending).Commit syncs, renames, fsyncs the directory and switches the
// log to the new file ((*Pending).Abort removes the temporary file).
//
// The package imports only schema, ovsdberr, internal/cjson and
// internal/fsmode.
package storage

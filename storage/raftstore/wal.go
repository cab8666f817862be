package raftstore

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	walfs "github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/segment"
	waltypes "github.com/hashicorp/raft-wal/types"
	bolt "go.etcd.io/bbolt"

	"github.com/ovsdb-go/ovsdb-server/internal/fsmode"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// The Raft log in a write-ahead log (DESIGN.md, "The log: a write-ahead
// log beside the file"): hashicorp/raft-wal segment files in the directory
// FILE.wal, one sequential write and one fdatasync per StoreLogs. The
// segment list (raft-wal's metadata) lives in bucket "walstate" of the
// bbolt file, and the file's bucket "meta" names the directory's random id
// (key "wal"), which the directory repeats in its id file, so that a fresh
// file never reads another file's log.

// walEnv, when set to "0" or "1", overrides walDefault (tests and
// benchmarks). It only decides whether Create makes a WAL and whether Open
// migrates a file without one; a file bound to a WAL always uses it.
const walEnv = "OVSDB_GO_RAFT_WAL"

// walDefault is whether new files get a WAL and old ones are migrated.
var walDefault = true

func useWAL() bool {
	switch os.Getenv(walEnv) {
	case "0":
		return false
	case "1":
		return true
	}
	return walDefault
}

// walSegmentSize is the size of a segment file (preallocated at creation,
// so an append's fdatasync does not change the file's size).
var walSegmentSize = 16 << 20

const walIDFile = "ovsdb-go-wal-id" // in the WAL directory: "ovsdb-go wal ID\n"

var (
	bktWALState = []byte("walstate") // key keyWALState: raft-wal's PersistentState (JSON)
	keyWALState = []byte("state")
	keyWAL      = []byte("wal")        // in bktMeta: the bound WAL directory's id (hex)
	keyWALNew   = []byte("walpending") // in bktMeta: the id of a migration under way
)

// WALDir is the write-ahead log directory of the database file at path.
func WALDir(path string) string { return path + ".wal" }

func newWALID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

func idFileContent(id string) []byte { return []byte("ovsdb-go wal " + id + "\n") }

// readWALID returns the id in the directory's id file ("" if there is none
// or it is not one of ours).
func readWALID(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, walIDFile))
	if err != nil {
		return "", err
	}
	s, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "ovsdb-go wal ")
	if !ok {
		return "", nil
	}
	return s, nil
}

// makeWALDir creates dir holding only the id file, durably.
func makeWALDir(dir, id string) error {
	if err := os.Mkdir(dir, 0o770); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, walIDFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, fsmode.Database)
	if err != nil {
		return err
	}
	_, err = f.Write(idFileContent(id))
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// setAside renames a WAL directory that belongs to no file (or to another
// file) out of the way, keeping its content for an operator, and logs it.
func setAside(dir, why string) error {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if walEmpty(dir) {
		// No entry was ever written to it (a member created and removed
		// before it ran, or a create that failed): nothing to keep.
		logger().Debug(fmt.Sprintf("%s: %s; removing it (it holds no log entry)", dir, why))
		if err := os.RemoveAll(dir); err != nil {
			return ioError(err, "%s: remove failed", dir)
		}
		return syncDir(filepath.Dir(dir))
	}
	aside := fmt.Sprintf("%s.stale-%d", dir, time.Now().UnixNano())
	if err := os.Rename(dir, aside); err != nil {
		return ioError(err, "%s: cannot set aside a stale log directory", dir)
	}
	logger().Warn(fmt.Sprintf("%s: %s; renamed it to %s (it is not read; remove it when not needed)", dir, why, aside))
	return syncDir(filepath.Dir(dir))
}

// walEmpty reports whether the WAL directory dir holds no log entry in
// any segment file (read without writing, as walread.go does).
func walEmpty(dir string) bool {
	n := 0
	err := segment.NewFiler(dir, walfs.New()).DumpLogs(0, 0, func(waltypes.SegmentInfo, waltypes.LogEntry) (bool, error) {
		n++
		return false, nil
	})
	return err == nil && n == 0
}

// walMeta is raft-wal's MetaStore on the bbolt file: the segment list in
// bucket "walstate", committed with fsync as every other write. Raft's
// stable store stays in bucket "stable" (stable.go), so GetStable and
// SetStable are not used.
type walMeta struct{ s *Store }

func (m walMeta) Load(string) (waltypes.PersistentState, error) {
	var ps waltypes.PersistentState
	err := m.s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktWALState)
		if b == nil {
			return nil
		}
		if v := b.Get(keyWALState); v != nil {
			return json.Unmarshal(v, &ps)
		}
		return nil
	})
	return ps, err
}

func (m walMeta) CommitState(ps waltypes.PersistentState) error {
	v, err := json.Marshal(ps)
	if err != nil {
		return err
	}
	return m.s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bktWALState)
		if err != nil {
			return err
		}
		if err := b.Put(keyWALState, v); err != nil {
			return err
		}
		return m.s.putApplied(tx)
	})
}

func (walMeta) GetStable([]byte) ([]byte, error) {
	return nil, errors.New("raftstore: WAL stable store unused")
}
func (walMeta) SetStable([]byte, []byte) error {
	return errors.New("raftstore: WAL stable store unused")
}
func (walMeta) Close() error { return nil }

// slogLines forwards raft-wal's log lines (rotation and deletion errors).
type slogLines struct{}

func (slogLines) Write(p []byte) (int, error) {
	logger().Warn("raft-wal: " + string(bytes.TrimSpace(p)))
	return len(p), nil
}

// openWAL opens the WAL directory bound to the file (id from its meta
// bucket). A missing directory or one with another id is refused: the
// file's log is not there, and nothing else may stand in for it.
func (s *Store) openWAL(id string) error {
	dir := WALDir(s.path)
	got, err := readWALID(dir)
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return errMissingWAL(s.path, dir)
		}
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return ioError(err, "%s: read failed", filepath.Join(dir, walIDFile))
	}
	if got != id {
		return ovsdberr.New(ovsdberr.TagOVSDB,
			"%s: log directory %s belongs to another database file (id %q, this file's is %q)", s.path, dir, got, id)
	}
	w, err := wal.Open(dir, wal.WithMetaStore(walMeta{s}), wal.WithSegmentSize(walSegmentSize),
		wal.WithLogger(hclog.New(&hclog.LoggerOptions{Name: "wal", Level: hclog.Warn, Output: slogLines{}})))
	if err != nil {
		return ovsdberr.New(ovsdberr.TagOVSDB, "%s: cannot open its log %s (%v)", s.path, dir, err)
	}
	s.wal = &walLog{s: s, w: w}
	return nil
}

// walLog is raft.LogStore on the WAL, with the same deferred deletion of a
// tail as the bbolt log (logstore.go's DeleteRange): hashicorp/raft
// deletes a follower's conflicting suffix and then stores the leader's
// entries, and must find its log as it was if that store fails. raft-wal
// truncates a tail with a metadata commit of its own, so the truncation
// is done just before the append, and if the append then fails the
// removed entries are kept in memory ("ghost") and still read, until a
// later StoreLogs succeeds. They were not committed (a conflicting suffix
// never is), so forgetting them at a restart is safe.
type walLog struct {
	s *Store
	w *wal.WAL

	mu        sync.Mutex
	truncFrom uint64      // deferred tail deletion: first index deleted, or 0
	ghost     []*raft.Log // entries truncated by a StoreLogs whose append failed
}

func (l *walLog) FirstIndex() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first, err := l.w.FirstIndex()
	if err == nil && first == 0 && len(l.ghost) > 0 {
		first = l.ghost[0].Index
	}
	return first, err
}

func (l *walLog) LastIndex() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastLocked()
}

func (l *walLog) lastLocked() (uint64, error) {
	last, err := l.w.LastIndex()
	if err != nil {
		return 0, err
	}
	if n := len(l.ghost); n > 0 {
		last = l.ghost[n-1].Index
	}
	if l.truncFrom > 0 && last >= l.truncFrom {
		last = l.truncFrom - 1
	}
	return last, nil
}

func (l *walLog) GetLog(index uint64, out *raft.Log) error {
	l.mu.Lock()
	if l.truncFrom > 0 && index >= l.truncFrom {
		l.mu.Unlock()
		return raft.ErrLogNotFound
	}
	if n := len(l.ghost); n > 0 && index >= l.ghost[0].Index && index <= l.ghost[n-1].Index {
		*out = *l.ghost[index-l.ghost[0].Index]
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	// raft-wal reads compacted entries still in the tail segment.
	if first, err := l.w.FirstIndex(); err != nil || index < first {
		if err == nil {
			err = raft.ErrLogNotFound
		}
		return err
	}
	err := l.w.GetLog(index, out)
	if errors.Is(err, wal.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err == nil && out.Index != index {
		// raft-wal checks a batch's CRC only when it recovers the tail
		// at open; an entry damaged since reads as something else.
		err = fmt.Errorf("%w at index %d: it says index %d", errCorruptLog, index, out.Index)
	}
	return err
}

func (l *walLog) StoreLog(e *raft.Log) error { return l.StoreLogs([]*raft.Log{e}) }

// StoreLogs appends the batch with one write and one fdatasync (raft-wal's
// commit frame), after a deferred tail deletion if there is one.
func (l *walLog) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if from := l.truncFrom; from > 0 {
		// Whatever happens, the deferred deletion is done now or not
		// at all (a failure leaves the log as it read before it).
		l.truncFrom = 0
		last, err := l.w.LastIndex()
		if err != nil {
			return err
		}
		if last >= from {
			saved := make([]*raft.Log, 0, last-from+1)
			for i := from; i <= last; i++ {
				e := new(raft.Log)
				if err := l.w.GetLog(i, e); err != nil {
					return err
				}
				saved = append(saved, e)
			}
			if err := l.w.DeleteRange(from, last); err != nil {
				return l.s.writeFailed(err) // nothing changed: the deletion stays deferred
			}
			l.ghost = append(saved, l.ghost...)
		}
		// Until the append succeeds, the log reads as before the
		// deletion: the WAL and all ghosts.
	}
	batch := logs
	if len(l.ghost) > 0 {
		// Ghost entries below the batch are stored again with it.
		var prefix []*raft.Log
		for _, g := range l.ghost {
			if g.Index < logs[0].Index {
				prefix = append(prefix, g)
			}
		}
		batch = append(prefix, logs...)
	}
	f := l.s.failAppend
	if f == nil {
		f = l.s.failWrite
	}
	if f != nil {
		if err := f(); err != nil {
			return l.s.writeFailed(err)
		}
	}
	if err := l.w.StoreLogs(batch); err != nil {
		return l.s.writeFailed(err)
	}
	l.s.writeSucceeded()
	l.ghost = nil
	return nil
}

// DeleteRange deletes min..max: at once for a head (compaction), deferred
// to the next StoreLogs for a tail (see walLog).
func (l *walLog) DeleteRange(min, max uint64) error {
	if min > max {
		return nil
	}
	first, err := l.FirstIndex()
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	last, err := l.lastLocked()
	if err != nil {
		return err
	}
	if isTailDeletion(first, last, min, max) {
		if l.truncFrom == 0 || min < l.truncFrom {
			l.truncFrom = min
		}
		return nil
	}
	// A compaction: ghost entries it covers go too.
	for len(l.ghost) > 0 && l.ghost[0].Index <= max {
		l.ghost = l.ghost[1:]
	}
	if err := l.w.DeleteRange(min, max); err != nil {
		return l.s.writeFailed(err)
	}
	return nil
}

// IsMonotonic tells hashicorp/raft (raft.MonotonicLogStore) that appends
// must follow the last index: after installing a snapshot it then deletes
// the whole log instead of keeping entries below the snapshot.
func (l *walLog) IsMonotonic() bool { return true }

func (l *walLog) close() error { return l.w.Close() }

package raftstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"sort"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// Reading a member's file without disturbing it (ovsdb-tool's db-sid,
// check-cluster, show-log, cluster-to-standalone...). C's ovsdb-tool reads
// a clustered log without a lock, also while ovsdb-server runs on it;
// scripts rely on that (ovn-kubernetes checks a running member's file with
// check-cluster). A bbolt file is flock'ed exclusively by the server that
// has it open, so OpenReadOnly reads a consistent copy instead.

// ReadOnlyOptions tune OpenReadOnly.
type ReadOnlyOptions struct {
	// LockWait is how long to wait for a shared lock on the file before
	// reading a copy (0: one attempt, no wait).
	LockWait time.Duration
	// CopyTimeout bounds the attempts at a consistent copy of a file that
	// a running server keeps writing (0: 10 s).
	CopyTimeout time.Duration
	// TempDir is where the copy is made ("": os.TempDir()).
	TempDir string
}

// OpenReadOnly opens the clustered database file at path for reading
// only: every write fails (bbolt's "database is in read-only mode"),
// nothing in the file changes (interrupted snapshot chunks are left for
// the server to remove) and no side file is created.
//
// If no server has the file open, the file itself is opened under a
// shared lock. If a server holds it (its exclusive lock), the store reads
// a private copy: the file is copied to a temporary file (removed by
// Close) and the copy is used only if bbolt's meta pages are the same
// before and after the copy. A commit rewrites a meta page last and
// writes its other pages only where the previous meta page points to
// nothing, so with the meta pages unchanged every page the copied meta
// page refers to is as that commit left it. A server that commits during
// every attempt for opts.CopyTimeout makes OpenReadOnly fail with C's
// lock error text.
func OpenReadOnly(path string) (*Store, error) {
	return OpenReadOnlyWithOptions(path, ReadOnlyOptions{})
}

// OpenReadOnlyWithOptions is OpenReadOnly with options.
func OpenReadOnlyWithOptions(path string, opts ReadOnlyOptions) (*Store, error) {
	f, err := Sniff(path)
	if err != nil {
		return nil, err
	}
	if f != FormatBolt {
		return nil, ovsdberrNotOurs(path, f)
	}
	if opts.LockWait <= 0 {
		// bbolt tries once more only while less than its retry
		// interval (50 ms) remains of the timeout.
		opts.LockWait = time.Nanosecond
	}
	if opts.CopyTimeout <= 0 {
		opts.CopyTimeout = 10 * time.Second
	}
	if err := checkWhole(path); err != nil {
		return nil, err
	}
	// A file with a WAL: its segments are read after the metadata that
	// lists them; a running server that compacts or truncates meanwhile
	// makes the two disagree, and a new copy is read.
	deadline := time.Now().Add(opts.CopyTimeout)
	for attempt := 1; ; attempt++ {
		s, err := openReadOnlyOnce(path, opts)
		if err != nil {
			return nil, err
		}
		err = s.loadWALReadOnly()
		if err == nil {
			return s, nil
		}
		copied := s.copyPath != ""
		s.Close()
		if !copied || !errors.Is(err, errWALChanged) || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(time.Duration(min(attempt, 20)) * time.Millisecond)
	}
}

func openReadOnlyOnce(path string, opts ReadOnlyOptions) (*Store, error) {
	db, err := bolt.Open(path, 0, readOnlyOptions(opts.LockWait))
	if err == nil {
		return openedReadOnly(path, db, "")
	}
	if !errors.Is(err, bolt.ErrTimeout) {
		return nil, boltOpenError(path, err)
	}
	// A server has the file: read a consistent copy.
	tmp, err := consistentCopy(path, opts)
	if err != nil {
		return nil, err
	}
	db, err = bolt.Open(tmp, 0, readOnlyOptions(opts.LockWait))
	if err != nil {
		os.Remove(tmp)
		return nil, boltOpenError(path, err)
	}
	return openedReadOnly(path, db, tmp)
}

func readOnlyOptions(wait time.Duration) *bolt.Options {
	return &bolt.Options{ReadOnly: true, Timeout: wait, NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
		// bbolt opens with O_CREATE: never make a file here.
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			return os.OpenFile(name, flag&^os.O_CREATE, perm)
		}}
}

// openedReadOnly checks the format of a read-only bbolt file and makes
// its Store; copy, if not empty, is the temporary copy db reads.
func openedReadOnly(path string, db *bolt.DB, copy string) (*Store, error) {
	s := &Store{path: path, db: db, retain: DefaultRetain, readers: map[string]int{}, readOnly: true,
		copyPath: copy, appliedFailed: true}
	if err := s.loadHeader(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// consistentCopy copies the file at path to a temporary file until a copy
// is made while the meta pages stay unchanged, and returns its name.
func consistentCopy(path string, opts ReadOnlyOptions) (string, error) {
	deadline := time.Now().Add(opts.CopyTimeout)
	for attempt := 0; ; attempt++ {
		name, ok, err := copyOnce(path, opts.TempDir)
		if err != nil {
			return "", err
		}
		if ok {
			if attempt > 0 {
				logger().Debug("consistent copy after retries", "path", path, "attempts", attempt+1)
			}
			return name, nil
		}
		os.Remove(name)
		if time.Now().After(deadline) {
			return "", ioError(syscall.EAGAIN, "%s: failed to lock lockfile", path)
		}
		time.Sleep(time.Duration(min(attempt+1, 20)) * time.Millisecond)
	}
}

// copyOnce copies path to a new temporary file; ok reports that bbolt's
// two meta pages were the same before and after.
func copyOnce(path, dir string) (name string, ok bool, err error) {
	in, err := os.Open(path)
	if err != nil {
		return "", false, ioError(err, "%s: open failed", path)
	}
	defer in.Close()
	before, err := metaPages(in)
	if err != nil {
		return "", false, ovsdberrFormat(path, err)
	}
	out, err := os.CreateTemp(dir, ".ovsdb-tool-copy-*")
	if err != nil {
		return "", false, ioError(err, "%s: copy failed", path)
	}
	name = out.Name()
	if _, err = in.Seek(0, io.SeekStart); err == nil {
		_, err = io.Copy(out, in)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", false, ioError(err, "%s: copy failed", path)
	}
	after, err := metaPages(in)
	if err != nil {
		os.Remove(name)
		return "", false, ovsdberrFormat(path, err)
	}
	return name, bytes.Equal(before, after), nil
}

// metaPages reads bbolt's two meta pages (pages 0 and 1) of f.
func metaPages(f *os.File) ([]byte, error) {
	// The page size is in the first meta page: page header (16 bytes),
	// magic (4), version (4), page size (4).
	var hdr [28]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return nil, err
	}
	ps := int(binary.LittleEndian.Uint32(hdr[24:28]))
	if ps < 512 || ps > 1<<20 {
		return nil, fmt.Errorf("bad page size %d", ps)
	}
	b := make([]byte, 2*ps)
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, err
	}
	return b, nil
}

// TrailingBytes reports bytes at the end of the file at path that are not
// part of a bbolt page: bbolt only ever grows the file by whole pages
// (truncate to a multiple of the page size), so any are a sign that
// something else wrote to the file (such as appending to it, which is how
// Kube-OVN's tests damage a member's file). It returns the offset of the
// first such byte and their count (0: none).
func TrailingBytes(path string) (offset, n int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, ioError(err, "%s: open failed", path)
	}
	defer f.Close()
	var hdr [28]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return 0, 0, ovsdberrFormat(path, err)
	}
	ps := int64(binary.LittleEndian.Uint32(hdr[24:28]))
	if ps < 512 || ps > 1<<20 {
		return 0, 0, ovsdberrFormat(path, fmt.Errorf("bad page size %d", ps))
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, ioError(err, "%s: stat failed", path)
	}
	n = fi.Size() % ps
	return fi.Size() - n, n, nil
}

// checkWhole refuses a file shorter than its pages: bbolt maps the file
// and reads the pages its meta page counts without checking, so a
// truncated file made it panic or fault. The meta page used is bbolt's:
// the valid one (FNV-64a checksum) with the higher transaction id.
func checkWhole(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return ioError(err, "%s: open failed", path)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ioError(err, "%s: stat failed", path)
	}
	b, err := metaPages(f)
	if err != nil {
		return ovsdberrFormat(path, err)
	}
	ps := len(b) / 2
	var best []byte
	var bestTxid uint64
	for i := 0; i < 2; i++ {
		m := b[i*ps+16 : i*ps+80]
		h := fnv.New64a()
		h.Write(m[:56])
		if binary.LittleEndian.Uint32(m[0:4]) != boltMagic || binary.LittleEndian.Uint64(m[56:64]) != h.Sum64() {
			continue
		}
		if txid := binary.LittleEndian.Uint64(m[48:56]); best == nil || txid > bestTxid {
			best, bestTxid = m, txid
		}
	}
	if best == nil {
		return ovsdberrFormat(path, errors.New("no valid meta page"))
	}
	if need := int64(binary.LittleEndian.Uint64(best[40:48])) * int64(ps); fi.Size() < need {
		return ovsdberrFormat(path, fmt.Errorf("truncated: %d bytes, its pages take %d", fi.Size(), need))
	}
	return nil
}

// ReadOnly reports whether the store was opened with OpenReadOnly.
func (s *Store) ReadOnly() bool { return s.readOnly }

// StableState is the content of the stable store: Raft's current term and
// last vote, and the applied position written with the log (Applied.Index
// 0: none).
type StableState struct {
	CurrentTerm  uint64
	LastVoteTerm uint64
	// LastVoteCand is the address of the candidate voted for
	// (hashicorp/raft stores the address, not the server id).
	LastVoteCand string
	Applied      Applied
}

// Stable returns the stable store's content.
func (s *Store) Stable() (StableState, error) {
	var st StableState
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktStable)
		u64 := func(k string) uint64 {
			if v := b.Get([]byte(k)); len(v) == 8 {
				return binary.BigEndian.Uint64(v)
			}
			return 0
		}
		st.CurrentTerm = u64("CurrentTerm")
		st.LastVoteTerm = u64("LastVoteTerm")
		st.LastVoteCand = string(b.Get([]byte("LastVoteCand")))
		if v := b.Get(keyApplied); len(v) == 16 {
			st.Applied = Applied{Index: binary.BigEndian.Uint64(v[:8]), Term: binary.BigEndian.Uint64(v[8:])}
		}
		return nil
	})
	return st, err
}

// SideApplied returns the position recorded in the member's side file
// (see RecordApplied); ok is false when the file is missing, torn or
// another member's.
func (s *Store) SideApplied() (a Applied, ok bool) {
	b, err := os.ReadFile(appliedPath(s.path))
	if err != nil {
		return Applied{}, false
	}
	return decodeApplied(b, s.sid)
}

// SnapshotInfo describes one snapshot record of the file.
type SnapshotInfo struct {
	Meta   raft.SnapshotMeta
	Chunks uint64 // chunks recorded
	Stored uint64 // chunks present in the file
	CRC64  uint64
}

// Snapshots returns every completed snapshot record in the file, newest
// first (also those beyond the retention count not yet deleted), and how
// many chunk buckets have no record (a snapshot interrupted by a crash).
func (s *Store) Snapshots() (infos []SnapshotInfo, torn int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		recs, data := tx.Bucket(bktSnap), tx.Bucket(bktSnapData)
		if err := recs.ForEach(func(k, v []byte) error {
			var r snapRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("snapshot %q: bad metadata: %w", k, err)
			}
			info := SnapshotInfo{Meta: r.Meta, Chunks: r.Chunks, CRC64: r.CRC64}
			if b := data.Bucket(k); b != nil {
				info.Stored = uint64(b.Stats().KeyN)
			}
			infos = append(infos, info)
			return nil
		}); err != nil {
			return err
		}
		return data.ForEach(func(k, v []byte) error {
			if v == nil && recs.Get(k) == nil {
				torn++
			}
			return nil
		})
	})
	sort.Slice(infos, func(i, j int) bool {
		a, b := infos[i].Meta, infos[j].Meta
		if a.Term != b.Term {
			return a.Term > b.Term
		}
		if a.Index != b.Index {
			return a.Index > b.Index
		}
		return a.ID > b.ID
	})
	return infos, torn, err
}

// ForEachLog calls fn for every entry of the log in index order, as
// stored: gaps in the indexes are not filled. An entry that does not
// decode is passed with its index and the decoding error (l.Index set,
// the rest zero). fn's error stops the walk and is returned.
func (s *Store) ForEachLog(fn func(l *raft.Log, decodeErr error) error) error {
	if s.wal == nil && s.walRO == nil {
		return s.forEachBoltLog(fn)
	}
	ls := s.LogStore()
	first, err := ls.FirstIndex()
	if err != nil {
		return err
	}
	last, err := ls.LastIndex()
	if err != nil || first == 0 {
		return err
	}
	for i := first; i <= last; i++ {
		var l raft.Log
		if derr := ls.GetLog(i, &l); derr != nil {
			if errors.Is(derr, raft.ErrLogNotFound) {
				continue
			}
			l = raft.Log{Index: i}
			if err := fn(&l, derr); err != nil {
				return err
			}
			continue
		}
		if err := fn(&l, nil); err != nil {
			return err
		}
	}
	return nil
}

// forEachBoltLog is ForEachLog on bucket "log".
func (s *Store) forEachBoltLog(fn func(l *raft.Log, decodeErr error) error) error {
	// One short read transaction per batch of entries, so a long walk
	// never pins the file's memory map.
	const batch = 1024
	var next []byte
	for {
		var logs []raft.Log
		var errs []error
		done := false
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bktLog).Cursor()
			var k, v []byte
			if next == nil {
				k, v = c.First()
			} else {
				k, v = c.Seek(next)
			}
			for ; k != nil && len(logs) < batch; k, v = c.Next() {
				var l raft.Log
				if len(k) != 8 {
					return fmt.Errorf("log key %x is not an index", k)
				}
				idx := binary.BigEndian.Uint64(k)
				derr := decodeLog(idx, v, &l)
				if derr != nil {
					l = raft.Log{Index: idx}
				}
				logs = append(logs, l)
				errs = append(errs, derr)
			}
			if k == nil {
				done = true
			} else {
				next = append(next[:0], k...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := range logs {
			if err := fn(&logs[i], errs[i]); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
	}
}

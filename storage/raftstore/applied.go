package raftstore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/ovsdb-go/ovsdb-server/internal/fsmode"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// Applied is the position (index and term) of a log entry that the
// member's state machine applied. Entries up to it are committed, so a
// restarted member may apply its own log up to it before it hears from a
// leader (see RecordApplied).
type Applied struct {
	Index, Term uint64
}

// The applied record is kept in two places (DESIGN.md, "Applied
// position"):
//   - a side file next to the database, ".NAME.~applied~", rewritten in
//     place with one pwrite (no fsync) before each entry is applied: it
//     survives a process crash (kill -9), which is what a restarted
//     member needs to serve at once what it served before;
//   - key keyApplied in bucket "stable", written in the same bbolt
//     transaction as each StoreLogs: durable, at no extra commit, but
//     one batch behind (the last batch is committed after it was stored).
//
// Side file layout (44 bytes): magic "OVSDBAP1", server id (16 bytes),
// index and term (8 bytes big-endian each), CRC-32C of the first 40 bytes.
const (
	appliedMagic = "OVSDBAP1"
	appliedSize  = 8 + 16 + 8 + 8 + 4
)

var keyApplied = []byte("ovsdb-go-applied") // in bktStable: index, term (8 bytes BE each)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// appliedPath is the side file of the database file at path.
func appliedPath(path string) string {
	dir, base := filepath.Split(path)
	return filepath.Join(dir, "."+base+".~applied~")
}

func encodeApplied(sid schema.UUID, a Applied) []byte {
	b := make([]byte, 0, appliedSize)
	b = append(b, appliedMagic...)
	b = append(b, sid[:]...)
	b = binary.BigEndian.AppendUint64(b, a.Index)
	b = binary.BigEndian.AppendUint64(b, a.Term)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32c))
}

// decodeApplied returns the record in b if it is whole and belongs to the
// member sid.
func decodeApplied(b []byte, sid schema.UUID) (Applied, bool) {
	if len(b) != appliedSize || string(b[:8]) != appliedMagic ||
		binary.BigEndian.Uint32(b[40:]) != crc32.Checksum(b[:40], crc32c) {
		return Applied{}, false
	}
	var id schema.UUID
	copy(id[:], b[8:24])
	if id != sid {
		return Applied{}, false
	}
	return Applied{Index: binary.BigEndian.Uint64(b[24:32]), Term: binary.BigEndian.Uint64(b[32:40])}, true
}

// RecordApplied records that the entry at a is about to be applied (it is
// committed). The caller calls it before the entry's effects become
// visible, so a member killed after serving them restarts with them (see
// AppliedHints). It costs one pwrite of the side file, created at the
// first call (a store opened only to be read, by ovsdb-tool, makes none);
// the next StoreLogs also writes it into the bbolt file.
func (s *Store) RecordApplied(a Applied) error {
	s.appliedMu.Lock()
	defer s.appliedMu.Unlock()
	s.applied = a
	if s.appliedFile == nil {
		if s.appliedFailed {
			return nil // reported once already
		}
		f, err := os.OpenFile(appliedPath(s.path), os.O_RDWR|os.O_CREATE, fsmode.Database)
		if err != nil {
			s.appliedFailed = true
			return ioError(err, "%s: open failed", appliedPath(s.path))
		}
		s.appliedFile = f
	}
	if _, err := s.appliedFile.WriteAt(encodeApplied(s.sid, a), 0); err != nil {
		return ioError(err, "%s: write failed", appliedPath(s.path))
	}
	return nil
}

// lastApplied is what StoreLogs writes into the file with the entries.
func (s *Store) lastApplied() (Applied, bool) {
	s.appliedMu.Lock()
	defer s.appliedMu.Unlock()
	return s.applied, s.applied.Index > 0
}

// AppliedHints returns the applied positions recorded by an earlier run,
// highest index first: the side file's (if present, whole and this
// member's) and the bbolt file's. They are hints: a caller applies its log
// up to one only if its log holds an entry with that index and term (then
// by Raft's log matching the entries up to it are the committed ones).
func (s *Store) AppliedHints() []Applied {
	var out []Applied
	if f, err := os.Open(appliedPath(s.path)); err == nil {
		b := make([]byte, appliedSize+1)
		n, err := io.ReadFull(f, b)
		f.Close()
		if errors.Is(err, io.ErrUnexpectedEOF) {
			if a, ok := decodeApplied(b[:n], s.sid); ok {
				out = append(out, a)
			}
		}
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bktStable).Get(keyApplied); len(v) == 16 {
			a := Applied{Index: binary.BigEndian.Uint64(v[:8]), Term: binary.BigEndian.Uint64(v[8:])}
			if len(out) == 0 || out[0] != a {
				out = append(out, a)
			}
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Index > out[j].Index })
	return out
}

// putApplied writes the last recorded applied position into tx (bucket
// "stable", which is small enough to live inline in the root page that
// every log commit rewrites anyway).
func (s *Store) putApplied(tx *bolt.Tx) error {
	a, ok := s.lastApplied()
	if !ok {
		return nil
	}
	var v [16]byte
	binary.BigEndian.PutUint64(v[:8], a.Index)
	binary.BigEndian.PutUint64(v[8:], a.Term)
	return tx.Bucket(bktStable).Put(keyApplied, v[:])
}

package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// logStore is raft.LogStore on bucket "log": key = index as 8 big-endian
// bytes (so bbolt's byte order is index order), value = encodeLog.
type logStore struct{ s *Store }

// LogStore returns the Raft log of the file.
func (s *Store) LogStore() raft.LogStore {
	switch {
	case s.wal != nil:
		return s.wal
	case s.walRO != nil:
		return s.walRO
	}
	return &logStore{s}
}

func indexKey(i uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], i)
	return k[:]
}

// logEncodingV1 is the first byte of every encoded entry, so the layout can
// change later without ambiguity.
const logEncodingV1 = 1

// encodeLog lays out an entry (its index is the key): version byte, term
// (uvarint), type byte, data length (uvarint) and data, extensions length
// and extensions, AppendedAt as Unix nanoseconds (varint, 0 = zero time).
func encodeLog(l *raft.Log) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64*4+1+len(l.Data)+len(l.Extensions))
	b = append(b, logEncodingV1)
	b = binary.AppendUvarint(b, l.Term)
	b = append(b, byte(l.Type))
	b = binary.AppendUvarint(b, uint64(len(l.Data)))
	b = append(b, l.Data...)
	b = binary.AppendUvarint(b, uint64(len(l.Extensions)))
	b = append(b, l.Extensions...)
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	b = binary.AppendVarint(b, at)
	return b
}

var errCorruptLog = errors.New("corrupt log entry")

// decodeLog fills l from b, copying the byte slices (b belongs to bbolt's
// memory map and is only valid inside the transaction).
func decodeLog(index uint64, b []byte, l *raft.Log) error {
	if len(b) == 0 || b[0] != logEncodingV1 {
		return fmt.Errorf("%w at index %d: unknown encoding", errCorruptLog, index)
	}
	b = b[1:]
	term, n := binary.Uvarint(b)
	if n <= 0 || len(b) < n+1 {
		return fmt.Errorf("%w at index %d: term", errCorruptLog, index)
	}
	typ := raft.LogType(b[n])
	b = b[n+1:]
	data, b, ok := takeBytes(b)
	if !ok {
		return fmt.Errorf("%w at index %d: data", errCorruptLog, index)
	}
	ext, b, ok := takeBytes(b)
	if !ok {
		return fmt.Errorf("%w at index %d: extensions", errCorruptLog, index)
	}
	at, n := binary.Varint(b)
	if n <= 0 || n != len(b) {
		return fmt.Errorf("%w at index %d: timestamp", errCorruptLog, index)
	}
	*l = raft.Log{Index: index, Term: term, Type: typ, Data: data, Extensions: ext}
	if at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	return nil
}

func takeBytes(b []byte) (val, rest []byte, ok bool) {
	ln, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < ln {
		return nil, nil, false
	}
	b = b[n:]
	if ln > 0 {
		val = append([]byte(nil), b[:ln]...)
	}
	return val, b[ln:], true
}

// FirstIndex returns the first stored index, 0 if the log is empty.
func (ls *logStore) FirstIndex() (uint64, error) { return ls.edge(true) }

// LastIndex returns the last stored index, 0 if the log is empty.
func (ls *logStore) LastIndex() (uint64, error) { return ls.edge(false) }

func (ls *logStore) edge(first bool) (uint64, error) {
	from := ls.s.truncFrom.Load()
	var idx uint64
	err := ls.s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktLog).Cursor()
		var k []byte
		if first {
			k, _ = c.First()
		} else {
			k, _ = c.Last()
		}
		if k != nil {
			idx = binary.BigEndian.Uint64(k)
		}
		if from > 0 && idx >= from {
			// A deferred tail deletion (DeleteRange) hides the tail.
			if first {
				idx = 0
			} else if k, _ = c.Seek(indexKey(from)); k != nil {
				if k, _ = c.Prev(); k != nil {
					idx = binary.BigEndian.Uint64(k)
				} else {
					idx = 0
				}
			}
		}
		return nil
	})
	return idx, err
}

// GetLog reads the entry at index; raft.ErrLogNotFound if there is none.
func (ls *logStore) GetLog(index uint64, l *raft.Log) error {
	if from := ls.s.truncFrom.Load(); from > 0 && index >= from {
		return raft.ErrLogNotFound // deleted (deferred, see DeleteRange)
	}
	return ls.s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bktLog).Get(indexKey(index))
		if v == nil {
			return raft.ErrLogNotFound
		}
		return decodeLog(index, v, l)
	})
}

// StoreLog stores one entry durably.
func (ls *logStore) StoreLog(l *raft.Log) error { return ls.StoreLogs([]*raft.Log{l}) }

// StoreLogs stores a batch durably in one transaction: one fsync for the
// whole batch. Entries are encoded before the write lock is taken.
func (ls *logStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	vals := make([][]byte, len(logs))
	for i, l := range logs {
		vals[i] = encodeLog(l)
	}
	ls.s.truncMu.Lock()
	defer ls.s.truncMu.Unlock()
	// A deferred tail deletion is done with these entries or not at all.
	from := ls.s.truncFrom.Swap(0)
	return ls.s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktLog)
		if from > 0 {
			if err := deleteFrom(b, from, ^uint64(0)); err != nil {
				return err
			}
		}
		// Appends arrive in increasing index order; filling pages fully
		// keeps the file compact.
		b.FillPercent = 0.95
		for i, l := range logs {
			if err := b.Put(indexKey(l.Index), vals[i]); err != nil {
				return err
			}
		}
		// The applied position rides along (applied.go).
		return ls.s.putApplied(tx)
	})
}

// DeleteRange removes the entries min..max inclusive (log compaction after a
// snapshot, or conflicting suffixes on a follower) in one transaction.
//
// A follower's deletion of its log's tail (min above the first entry, max
// at or past the last) is deferred to the StoreLogs that follows it and
// done in the same transaction: hashicorp/raft deletes a conflicting
// suffix and then stores the leader's entries, and when that store fails
// (a full disk) it keeps its old last index and term in memory. Had the
// suffix been deleted, the follower's memory would name entries its log no
// longer holds, and it would refuse every later AppendEntries (it reads
// them back to compare terms) until restarted. Deferred, either both
// happen or neither does, and memory and log agree. Meanwhile reads do not
// see the deleted entries.
func (ls *logStore) DeleteRange(min, max uint64) error {
	if min > max {
		return nil
	}
	first, err := ls.FirstIndex()
	if err != nil {
		return err
	}
	last, err := ls.LastIndex()
	if err != nil {
		return err
	}
	if isTailDeletion(first, last, min, max) {
		ls.s.truncMu.Lock()
		if from := ls.s.truncFrom.Load(); from == 0 || min < from {
			ls.s.truncFrom.Store(min)
		}
		ls.s.truncMu.Unlock()
		return nil
	}
	return ls.s.update(func(tx *bolt.Tx) error { return deleteFrom(tx.Bucket(bktLog), min, max) })
}

// isTailDeletion reports whether deleting min..max from a log holding
// first..last removes its suffix (a follower dropping conflicting entries),
// which both log stores defer to the next append, rather than a prefix (a
// compaction) or the whole log.
func isTailDeletion(first, last, min, max uint64) bool {
	return first > 0 && min > first && max >= last
}

// deleteFrom deletes the entries min..max of bucket b.
func deleteFrom(b *bolt.Bucket, min, max uint64) error {
	c := b.Cursor()
	// Re-seek after each delete: deleting under a cursor and then calling
	// Next can skip keys in bbolt.
	for k, _ := c.Seek(indexKey(min)); k != nil && binary.BigEndian.Uint64(k) <= max; k, _ = c.Seek(indexKey(min)) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

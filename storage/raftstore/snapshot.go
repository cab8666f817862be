package raftstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc64"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// chunkSize bounds one snapshot write transaction: a snapshot of N bytes is
// written in ceil(N/chunkSize) transactions, each holding bbolt's single
// writer lock only for one chunk, so log appends interleave with them.
var chunkSize = 1 << 20

var crcTable = crc64.MakeTable(crc64.ECMA)

// snapRecord is the value in bucket "snap": Raft's metadata plus what is
// needed to read and verify the chunks in bucket "snapdata"/ID.
type snapRecord struct {
	Meta   raft.SnapshotMeta `json:"meta"`
	Chunks uint64            `json:"chunks"`
	CRC64  uint64            `json:"crc64"`
}

// ErrSnapshotNotFound is returned by SnapshotStore.Open for an unknown or
// already reaped snapshot ID.
var ErrSnapshotNotFound = errors.New("snapshot not found")

// errClosed is returned by a sink used after Close or Cancel.
var errClosed = errors.New("snapshot sink already closed")

type snapshotStore struct{ s *Store }

// SnapshotStore returns the snapshot store of the file. It keeps the newest
// Options.Retain (default 2) completed snapshots; older ones are deleted once
// no reader has them open.
func (s *Store) SnapshotStore() raft.SnapshotStore { return &snapshotStore{s} }

var snapSeq struct {
	sync.Mutex
	last int64
}

// snapshotID names a snapshot like hashicorp/raft's file store does
// (term-index-time), with the time strictly increasing within the process so
// two snapshots never share an ID.
func snapshotID(term, index uint64) string {
	snapSeq.Lock()
	now := time.Now().UnixNano()
	if now <= snapSeq.last {
		now = snapSeq.last + 1
	}
	snapSeq.last = now
	snapSeq.Unlock()
	return fmt.Sprintf("%d-%d-%d", term, index, now)
}

// Create starts a snapshot. Nothing is visible to List until the sink is
// closed successfully.
func (ss *snapshotStore) Create(version raft.SnapshotVersion, index, term uint64,
	configuration raft.Configuration, configurationIndex uint64, _ raft.Transport) (raft.SnapshotSink, error) {
	if version != 1 {
		return nil, fmt.Errorf("unsupported snapshot version %d", version)
	}
	id := snapshotID(term, index)
	// Meta.Peers (the pre-v1 peer list) is left empty: it only serves
	// protocol version 0 servers, which never join our clusters.
	return &snapshotSink{
		ss: ss,
		rec: snapRecord{Meta: raft.SnapshotMeta{
			Version:            version,
			ID:                 id,
			Index:              index,
			Term:               term,
			Configuration:      configuration,
			ConfigurationIndex: configurationIndex,
		}},
		hash: crc64.New(crcTable),
	}, nil
}

// records returns the completed snapshots, newest first.
func (ss *snapshotStore) records() ([]snapRecord, error) {
	var recs []snapRecord
	err := ss.s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktSnap).ForEach(func(k, v []byte) error {
			var r snapRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("snapshot %q: bad metadata: %w", k, err)
			}
			recs = append(recs, r)
			return nil
		})
	})
	sort.Slice(recs, func(i, j int) bool {
		a, b := recs[i].Meta, recs[j].Meta
		if a.Term != b.Term {
			return a.Term > b.Term
		}
		if a.Index != b.Index {
			return a.Index > b.Index
		}
		return a.ID > b.ID
	})
	return recs, err
}

// List returns the retained completed snapshots, newest first.
func (ss *snapshotStore) List() ([]*raft.SnapshotMeta, error) {
	recs, err := ss.records()
	if err != nil {
		return nil, err
	}
	if len(recs) > ss.s.retain {
		recs = recs[:ss.s.retain]
	}
	out := make([]*raft.SnapshotMeta, len(recs))
	for i := range recs {
		m := recs[i].Meta
		out[i] = &m
	}
	return out, nil
}

// Open returns a reader of snapshot id. Each Read of a new chunk is a short
// read transaction, so a slow consumer (install-snapshot to a lagging
// member) never pins bbolt's memory map. The reader fails at the end if the
// data does not match the recorded size and CRC-64.
func (ss *snapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	s := ss.s
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if s.closed {
		return nil, nil, bolt.ErrDatabaseNotOpen
	}
	var rec snapRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bktSnap).Get([]byte(id))
		if v == nil {
			return ErrSnapshotNotFound
		}
		return json.Unmarshal(v, &rec)
	})
	if err != nil {
		return nil, nil, err
	}
	s.readers[id]++
	m := rec.Meta
	return &m, &snapshotReader{ss: ss, rec: rec, hash: crc64.New(crcTable)}, nil
}

// reap deletes completed snapshots beyond the retention count that nobody is
// reading, in one transaction.
func (ss *snapshotStore) reap() error {
	s := ss.s
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if s.closed || s.readOnly {
		return nil
	}
	recs, err := ss.records()
	if err != nil || len(recs) <= s.retain {
		return err
	}
	var victims []string
	for _, r := range recs[s.retain:] {
		if s.readers[r.Meta.ID] == 0 {
			victims = append(victims, r.Meta.ID)
		}
	}
	if len(victims) == 0 {
		return nil
	}
	err = s.update(func(tx *bolt.Tx) error {
		for _, id := range victims {
			if err := tx.Bucket(bktSnap).Delete([]byte(id)); err != nil {
				return err
			}
			if err := deleteBucketIfExists(tx.Bucket(bktSnapData), []byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		logger().Debug("deleted old snapshots", "path", s.path, "ids", victims)
	}
	return err
}

func deleteBucketIfExists(parent *bolt.Bucket, name []byte) error {
	if parent.Bucket(name) == nil {
		return nil
	}
	return parent.DeleteBucket(name)
}

// removeOrphans deletes snapshot chunks without a completed record (a crash
// or Close during a snapshot) and records without chunks.
func (s *Store) removeOrphans() error {
	var orphans, dangling [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		recs, data := tx.Bucket(bktSnap), tx.Bucket(bktSnapData)
		if err := data.ForEach(func(k, v []byte) error {
			if v == nil && recs.Get(k) == nil {
				orphans = append(orphans, append([]byte(nil), k...))
			}
			return nil
		}); err != nil {
			return err
		}
		return recs.ForEach(func(k, _ []byte) error {
			if data.Bucket(k) == nil {
				dangling = append(dangling, append([]byte(nil), k...))
			}
			return nil
		})
	})
	if err != nil || len(orphans)+len(dangling) == 0 {
		return err
	}
	err = s.update(func(tx *bolt.Tx) error {
		for _, k := range orphans {
			if err := tx.Bucket(bktSnapData).DeleteBucket(k); err != nil {
				return err
			}
		}
		for _, k := range dangling {
			if err := tx.Bucket(bktSnap).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		logger().Warn("removed interrupted snapshot data", "path", s.path,
			"orphans", len(orphans), "dangling", len(dangling))
	}
	return err
}

// snapshotSink buffers up to chunkSize bytes and writes each full chunk in
// its own transaction under "snapdata"/ID/<chunk number>.
type snapshotSink struct {
	ss   *snapshotStore
	rec  snapRecord
	buf  []byte
	hash hash.Hash64
	done bool
	// closeErr is the result of the first Close (or errClosed after Cancel).
	closeErr error
}

func (sk *snapshotSink) ID() string { return sk.rec.Meta.ID }

func (sk *snapshotSink) Write(p []byte) (int, error) {
	if sk.done {
		return 0, errClosed
	}
	n := 0
	for len(p) > 0 {
		if sk.buf == nil {
			sk.buf = make([]byte, 0, chunkSize)
		}
		k := min(len(p), chunkSize-len(sk.buf))
		sk.buf = append(sk.buf, p[:k]...)
		p = p[k:]
		n += k
		if len(sk.buf) == chunkSize {
			if err := sk.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (sk *snapshotSink) flush() error {
	id := []byte(sk.rec.Meta.ID)
	chunk := sk.rec.Chunks
	buf := sk.buf
	err := sk.ss.s.update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bktSnapData).CreateBucketIfNotExists(id)
		if err != nil {
			return err
		}
		if len(buf) == 0 {
			return nil
		}
		b.FillPercent = 1
		return b.Put(indexKey(chunk), buf)
	})
	if err != nil {
		return err
	}
	if len(buf) > 0 {
		sk.hash.Write(buf)
		sk.rec.Meta.Size += int64(len(buf))
		sk.rec.Chunks++
	}
	sk.buf = sk.buf[:0]
	return nil
}

// Close writes the last chunk, then records the snapshot in one small
// transaction (the moment it becomes visible), then reaps old snapshots.
// A second Close (hashicorp/raft closes the sink after the FSM's Persist,
// which usually closes it too) returns the first Close's result.
func (sk *snapshotSink) Close() error {
	if sk.done {
		return sk.closeErr
	}
	sk.done = true
	sk.closeErr = sk.close()
	return sk.closeErr
}

func (sk *snapshotSink) close() error {
	// The last partial chunk; an empty snapshot still gets its (empty)
	// chunk bucket so that the record always has data to point to.
	if len(sk.buf) > 0 || sk.rec.Chunks == 0 {
		if err := sk.flush(); err != nil {
			sk.discard()
			return err
		}
	}
	sk.rec.CRC64 = sk.hash.Sum64()
	val, err := json.Marshal(sk.rec)
	if err != nil {
		sk.discard()
		return err
	}
	if err := sk.ss.s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bktSnap).Put([]byte(sk.rec.Meta.ID), val)
	}); err != nil {
		sk.discard()
		return err
	}
	logger().Debug("snapshot complete", "path", sk.ss.s.path, "id", sk.rec.Meta.ID,
		"index", sk.rec.Meta.Index, "size", sk.rec.Meta.Size)
	return sk.ss.reap()
}

// Cancel abandons the snapshot and deletes its chunks.
func (sk *snapshotSink) Cancel() error {
	if sk.done {
		return nil
	}
	sk.done = true
	sk.closeErr = errClosed
	return sk.discard()
}

func (sk *snapshotSink) discard() error {
	sk.buf = nil
	id := []byte(sk.rec.Meta.ID)
	return sk.ss.s.update(func(tx *bolt.Tx) error {
		return deleteBucketIfExists(tx.Bucket(bktSnapData), id)
	})
}

type snapshotReader struct {
	ss     *snapshotStore
	rec    snapRecord
	next   uint64
	chunk  []byte // buffer reused across chunks
	buf    []byte // unread part of chunk
	read   int64
	hash   hash.Hash64
	closed bool
}

func (r *snapshotReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errClosed
	}
	for len(r.buf) == 0 {
		if r.next >= r.rec.Chunks {
			if r.read != r.rec.Meta.Size || r.hash.Sum64() != r.rec.CRC64 {
				return 0, fmt.Errorf("snapshot %s: data does not match its checksum", r.rec.Meta.ID)
			}
			return 0, io.EOF
		}
		err := r.ss.s.db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bktSnapData).Bucket([]byte(r.rec.Meta.ID))
			if b == nil {
				return fmt.Errorf("snapshot %s: data missing", r.rec.Meta.ID)
			}
			v := b.Get(indexKey(r.next))
			if v == nil {
				return fmt.Errorf("snapshot %s: chunk %d missing", r.rec.Meta.ID, r.next)
			}
			r.chunk = append(r.chunk[:0], v...)
			r.buf = r.chunk
			return nil
		})
		if err != nil {
			return 0, err
		}
		r.next++
		r.hash.Write(r.buf)
		r.read += int64(len(r.buf))
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *snapshotReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	s := r.ss.s
	s.snapMu.Lock()
	id := r.rec.Meta.ID
	if s.readers[id]--; s.readers[id] <= 0 {
		delete(s.readers, id)
	}
	s.snapMu.Unlock()
	return r.ss.reap()
}

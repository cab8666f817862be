package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// ErrKeyNotFound is returned by the StableStore for a missing key. Its text
// is exactly "not found": hashicorp/raft compares err.Error() with it.
var ErrKeyNotFound = errors.New("not found")

// stableStore is raft.StableStore on bucket "stable". Uint64 values are 8
// big-endian bytes.
type stableStore struct{ s *Store }

// StableStore returns Raft's stable store (current term, last vote) of the
// file.
func (s *Store) StableStore() raft.StableStore { return &stableStore{s} }

// Set stores val under key durably.
func (ss *stableStore) Set(key, val []byte) error {
	return ss.s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bktStable).Put(key, val)
	})
}

// Get returns the value of key, or ErrKeyNotFound.
func (ss *stableStore) Get(key []byte) ([]byte, error) {
	var val []byte
	err := ss.s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bktStable).Get(key)
		if v == nil {
			return ErrKeyNotFound
		}
		val = bytes.Clone(v)
		if val == nil {
			val = []byte{}
		}
		return nil
	})
	return val, err
}

// SetUint64 stores val under key durably.
func (ss *stableStore) SetUint64(key []byte, val uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], val)
	return ss.Set(key, b[:])
}

// GetUint64 returns the value of key, or 0 and ErrKeyNotFound.
func (ss *stableStore) GetUint64(key []byte) (uint64, error) {
	v, err := ss.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, errors.New("stable store: value is not a uint64")
	}
	return binary.BigEndian.Uint64(v), nil
}

package raftstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// migrateHook, if set (tests), is called after each step of a migration;
// its error aborts the migration there, leaving the files as a crash at
// that point would.
var migrateHook func(step string) error

func migrateStep(step string) error {
	if migrateHook != nil {
		return migrateHook(step)
	}
	return nil
}

// migrateBatch is how many entries one WAL append of a migration carries.
const migrateBatch = 1024

// migrate moves the log of a file from bucket "log" into a new WAL
// directory and binds the directory to the file (DESIGN.md, "Migration").
// Steps, each leaving files that open correctly if the process dies after
// it:
//  1. record the new directory's id as pending (one bbolt commit) and
//     forget any WAL segment list: a directory with the pending id is this
//     migration's own, removed by the next attempt;
//  2. create the directory with its id file, synced;
//  3. copy the entries, one synced WAL append per batch;
//  4. in one bbolt commit, empty bucket "log", record the id as the
//     file's WAL and drop the pending id.
//
// Until step 4 the file's log is bucket "log", complete; after it, the WAL.
func (s *Store) migrate() error {
	dir := WALDir(s.path)
	if s.walPending != "" {
		if got, _ := readWALID(dir); got == s.walPending {
			logger().Info(fmt.Sprintf("%s: removing %s left by an interrupted migration of the log", s.path, dir))
			if err := os.RemoveAll(dir); err != nil {
				return ioError(err, "%s: remove failed", dir)
			}
			if err := syncDir(filepath.Dir(dir)); err != nil {
				return ioError(err, "%s: sync of directory failed", dir)
			}
		}
	}
	if err := setAside(dir, "log directory not bound to database file "+s.path); err != nil {
		return err
	}
	id := newWALID()
	if err := s.update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bktMeta).Put(keyWALNew, []byte(id)); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bktWALState)
		if err != nil {
			return err
		}
		return b.Delete(keyWALState)
	}); err != nil {
		return ioError(err, "%s: write failed", s.path)
	}
	s.walPending = id
	if err := migrateStep("pending"); err != nil {
		return err
	}
	if err := makeWALDir(dir, id); err != nil {
		return ioError(err, "%s: create failed", dir)
	}
	if err := migrateStep("dir"); err != nil {
		return err
	}
	if err := s.openWAL(id); err != nil {
		return err
	}
	n, err := s.copyLogToWAL()
	if err != nil {
		return err
	}
	if err := migrateStep("copied"); err != nil {
		return err
	}
	if err := s.update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bktLog); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bktLog); err != nil {
			return err
		}
		mb := tx.Bucket(bktMeta)
		if err := mb.Put(keyWAL, []byte(id)); err != nil {
			return err
		}
		return mb.Delete(keyWALNew)
	}); err != nil {
		return ioError(err, "%s: write failed", s.path)
	}
	s.walID, s.walPending = id, ""
	logger().Info(fmt.Sprintf("%s: moved the Raft log (%d entries) into write-ahead log %s", s.path, n, dir))
	return migrateStep("bound")
}

var errLogGap = errors.New("log indexes are not contiguous")

// copyLogToWAL appends the entries of bucket "log" to the (empty) WAL.
func (s *Store) copyLogToWAL() (int, error) {
	var batch []*raft.Log
	n := 0
	var last uint64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := s.wal.w.StoreLogs(batch); err != nil {
			return ioError(err, "%s: write failed", WALDir(s.path))
		}
		n += len(batch)
		batch = batch[:0]
		return migrateStep("copying")
	}
	err := s.forEachBoltLog(func(l *raft.Log, derr error) error {
		if derr != nil {
			return ovsdberrFormat(s.path, derr)
		}
		if last > 0 && l.Index != last+1 {
			return ovsdberrFormat(s.path, fmt.Errorf("%w: %d after %d", errLogGap, l.Index, last))
		}
		last = l.Index
		e := *l
		batch = append(batch, &e)
		if len(batch) == migrateBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return n, err
}

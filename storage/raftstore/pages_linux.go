package raftstore

import (
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// DropMappedPages tells the kernel this process no longer needs the pages
// of the file's memory map it has read (madvise MADV_DONTNEED on the
// file's extent). The map is shared and read-only, so nothing is lost:
// the pages stay in the page cache and the next read maps them again. It
// only takes them out of the process's resident set, where they count
// although the kernel may reclaim them at will. A read transaction is
// held meanwhile, so bbolt cannot remap the file under the call. An
// arbiter member calls it when idle (cluster/arbiter.go): it reads back
// every entry it stores and never again.
func (s *Store) DropMappedPages() error {
	return s.db.View(func(tx *bolt.Tx) error {
		size := tx.Size()
		if size <= 0 {
			return nil
		}
		addr := s.db.Info().Data
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(size), syscall.MADV_DONTNEED); errno != 0 {
			return errno
		}
		return nil
	})
}

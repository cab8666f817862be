package storage

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/ovsdb-go/ovsdb-server/internal/fsmode"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// lockFile is a held C-compatible lock file: ".<name>.~lock~" beside the
// (symlink-resolved) file, locked with a POSIX fcntl write lock as C's
// lockfile.c does, so C and Go processes exclude each other.
type lockFile struct {
	name string
	f    *os.File
}

var (
	heldMu sync.Mutex
	held   = map[string]bool{} // fcntl locks do not exclude within a process
)

// LockName returns the lock file name C uses for the file at path.
func LockName(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	dir, base := filepath.Split(path)
	return filepath.Join(dir, "."+base+".~lock~")
}

func lock(path string) (*lockFile, error) {
	name := LockName(path)
	abs, err := filepath.Abs(name)
	if err != nil {
		abs = name
	}
	heldMu.Lock()
	defer heldMu.Unlock()
	if held[abs] {
		return nil, ioError(syscall.EDEADLK, "%s: failed to lock lockfile", path)
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, fsmode.Lock)
	if err != nil {
		return nil, ioError(err, "%s: failed to lock lockfile", path)
	}
	fl := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &fl); err != nil {
		f.Close()
		if err == syscall.EACCES {
			err = syscall.EAGAIN
		}
		return nil, ioError(err, "%s: failed to lock lockfile", path)
	}
	held[abs] = true
	return &lockFile{name: abs, f: f}, nil
}

func (lk *lockFile) unlock() {
	if lk == nil || lk.f == nil {
		return
	}
	heldMu.Lock()
	delete(held, lk.name)
	heldMu.Unlock()
	lk.f.Close()
	lk.f = nil
}

// IsLockError reports whether err is a failure to take the lock file.
func IsLockError(err error) bool {
	e, ok := err.(*ovsdberr.Error)
	return ok && e.Tag == ovsdberr.TagIOError && strings.Contains(e.Details, "failed to lock lockfile")
}

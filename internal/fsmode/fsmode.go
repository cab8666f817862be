// Package fsmode holds the permission bits with which C Open vSwitch 3.1
// creates its files and sockets, and the helpers that create them that
// way. As with C, the process umask is applied on top of each mode (open(2)
// and bind(2) do it), so under "umask 022" a database is 0640 and a socket
// 0750, under "umask 000" 0660 and 0770.
//
// C's rules (checked with the C binaries under umask 000, 002, 022, 027
// and 077, see TestModesDifferential in cmd/ovsdb-server):
//
//   - unix domain sockets (punix: remotes, the --unixctl control socket):
//     fchmod(fd, 0770) before bind(2) (socket-util-unix.c), so others never
//     get access whatever the umask;
//   - database files, standalone or clustered, including compacted or
//     converted replacements and every ovsdb-tool output: open(..., 0660)
//     (ovsdb/log.c); a replacement gets the mode anew, not the old file's;
//   - lock files (.NAME.~lock~): open(..., 0600) (lockfile.c);
//   - log files: open(..., 0660) (vlog.c);
//   - pidfiles: fopen(..., "a+"), that is 0666 (daemon-unix.c).
//
// Files that C does not have follow the file they belong to: the raft
// store (one bbolt file per member) and its ".NAME.~applied~" side file
// are database files.
package fsmode

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Modes before the umask.
const (
	Socket   os.FileMode = 0o770
	Database os.FileMode = 0o660
	Lock     os.FileMode = 0o600
	Log      os.FileMode = 0o660
	PidFile  os.FileMode = 0o666
)

// Listen is net.Listen, except that a "unix" socket file is created with
// mode Socket minus the umask, as C does: on Linux a socket's inode mode,
// set with fchmod before bind, becomes the mode of the file bind creates.
// Setting it before bind leaves no moment in which others could connect.
func Listen(network, address string) (net.Listener, error) {
	var lc net.ListenConfig
	if network == "unix" {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var ferr error
			if err := c.Control(func(fd uintptr) { ferr = syscall.Fchmod(int(fd), uint32(Socket)) }); err != nil {
				return err
			}
			if ferr != nil {
				return os.NewSyscallError("fchmod", ferr)
			}
			return nil
		}
	}
	return lc.Listen(context.Background(), network, address)
}

// CreateTemp is os.CreateTemp (a new file in dir, named by pattern whose
// last "*" is replaced by a random string) created with perm minus the
// umask instead of os.CreateTemp's fixed 0600.
func CreateTemp(dir, pattern string, perm os.FileMode) (*os.File, error) {
	if strings.ContainsRune(pattern, os.PathSeparator) {
		return nil, &os.PathError{Op: "createtemp", Path: pattern, Err: errors.New("pattern contains path separator")}
	}
	prefix, suffix := pattern, ""
	if i := strings.LastIndexByte(pattern, '*'); i >= 0 {
		prefix, suffix = pattern[:i], pattern[i+1:]
	}
	for try := 0; ; try++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10)+suffix)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, os.ErrExist) && try < 10000 {
			continue
		}
		return f, err
	}
}

// RunDir is C's ovs_rundir(): $OVS_RUNDIR, or /var/run/openvswitch. A
// relative unix socket path (punix:, unix:, a Raft unix: address, a
// control socket name) is taken in it, as C does.
func RunDir() string {
	if d := os.Getenv("OVS_RUNDIR"); d != "" {
		return d
	}
	return "/var/run/openvswitch"
}

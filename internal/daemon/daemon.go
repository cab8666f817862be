package daemon

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/ovsdb-go/ovsdb-server/internal/fsmode"
)

func logger() *slog.Logger { return slog.Default().With("module", "daemon_unix") }

// readyEnv names the pipe descriptor inherited by a detached child.
const readyEnv = "OVSDB_GO_DAEMON_READY_FD"

// Options are the daemon command-line options.
type Options struct {
	PidFile string // "" = no pidfile; resolve with PidFilePath
	Detach  bool
	NoChdir bool
	Monitor bool
	User    string
}

// RunDir is C's ovs_rundir() (fsmode.RunDir).
func RunDir() string { return fsmode.RunDir() }

// PidFilePath resolves a --pidfile argument as C does: empty gives
// RUNDIR/PROGRAM.pid, a relative name is put in RUNDIR.
func PidFilePath(arg, program string) string {
	switch {
	case arg == "":
		return filepath.Join(RunDir(), program+".pid")
	case filepath.IsAbs(arg):
		return arg
	default:
		return filepath.Join(RunDir(), arg)
	}
}

// Daemon is the state of a started daemon.
type Daemon struct {
	opts    Options
	readyW  *os.File
	pidFile *os.File
	once    sync.Once
}

// IsDetachedChild reports whether this process is the child of --detach.
func IsDetachedChild() bool { return os.Getenv(readyEnv) != "" }

// Start applies the options. In a process started with --detach (and not
// yet detached), it re-executes the program in the background and never
// returns: it exits 0 once the child calls Ready, 1 if the child fails.
// With --monitor, the (detached) process becomes the monitor: it runs the
// daemon as a child process, restarts it after a crash and never returns.
// Otherwise (the daemon itself) it creates the pidfile and returns.
func Start(opts Options) (*Daemon, error) {
	d := &Daemon{opts: opts}
	if opts.User != "" {
		logger().Warn("--user is not supported, ignoring it", "user", opts.User)
	}
	monitored := IsMonitoredChild()
	if opts.Detach && !IsDetachedChild() && !monitored {
		os.Exit(detach())
	}
	if fdStr := os.Getenv(readyEnv); fdStr != "" {
		fd, err := strconv.Atoi(fdStr)
		if err == nil {
			syscall.CloseOnExec(fd)
			d.readyW = os.NewFile(uintptr(fd), "ready-pipe")
		}
		_ = os.Unsetenv(readyEnv)
	}
	_ = os.Unsetenv(monitoredEnv)
	if opts.Monitor && !monitored {
		os.Exit(d.monitor())
	}
	if opts.PidFile != "" {
		if err := d.makePidFile(); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// detach runs the child and waits for its readiness; it returns the exit
// status for the parent.
func detach() int {
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: pipe failed (%v)\n", filepath.Base(os.Args[0]), err)
		return 1
	}
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), readyEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdin = nil
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: could not detach from foreground session (%v)\n", filepath.Base(os.Args[0]), err)
		return 1
	}
	_ = w.Close()
	buf := make([]byte, 1)
	n, _ := io.ReadFull(r, buf)
	if n == 1 {
		_ = cmd.Process.Release()
		return 0
	}
	// The child exited (or closed the pipe) before being ready.
	state, err := cmd.Process.Wait()
	if err == nil && state.Exited() && state.ExitCode() != 0 {
		return state.ExitCode()
	}
	return 1
}

func (d *Daemon) makePidFile() error {
	path := d.opts.PidFile
	if pid, ok := lockedBy(path); ok {
		return fmt.Errorf("%s: already running as pid %d, aborting", path, pid)
	}
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, fsmode.PidFile)
	if err != nil {
		return fmt.Errorf("%s: create failed (%v)", tmp, errnoOf(err))
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("%s: fcntl(F_SETLK) failed (%v)", tmp, err)
	}
	if _, err := fmt.Fprintf(f, "%d\n", os.Getpid()); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("%s: write failed (%v)", tmp, errnoOf(err))
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("failed to rename \"%s\" to \"%s\" (%v)", tmp, path, errnoOf(err))
	}
	d.pidFile = f
	return nil
}

// lockedBy reports the pid recorded in path if a live process holds its
// lock .
func lockedBy(path string) (int, bool) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	data, _ := io.ReadAll(io.LimitReader(f, 64))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err == nil && lk.Type != syscall.F_UNLCK {
		if int(lk.Pid) != 0 {
			return int(lk.Pid), true
		}
		return pid, true
	}
	return 0, false
}

func errnoOf(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// Ready signals that initialisation is complete: a detached child tells
// its parent to exit, redirects its standard descriptors to /dev/null and
// (unless NoChdir) changes directory to "/". Calling it again is a no-op.
func (d *Daemon) Ready() {
	d.once.Do(func() {
		if d.readyW == nil {
			return
		}
		_, _ = d.readyW.Write([]byte{1})
		_ = d.readyW.Close()
		if !d.opts.Detach {
			// A daemon under a foreground --monitor keeps its terminal.
			return
		}
		if !d.opts.NoChdir {
			_ = os.Chdir("/")
		}
		redirectStdio()
	})
}

// Detached reports whether this process runs as a detached daemon.
func (d *Daemon) Detached() bool { return d.readyW != nil && d.opts.Detach }

// Cleanup removes the pidfile. Call it at exit.
func (d *Daemon) Cleanup() {
	if d.pidFile != nil {
		_ = os.Remove(d.opts.PidFile)
		_ = d.pidFile.Close()
		d.pidFile = nil
	}
}

package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is one server process started by the harness, with its own
// temporary directory holding the database file, the sockets and the log.
type Process struct {
	Dir    string // temporary directory owned by this process
	Socket string // path of the punix: remote
	DBFile string
	cmd    *exec.Cmd
	done   chan struct{}
	err    error // exit status, valid once done is closed
}

// StartOptions says how to start one server.
type StartOptions struct {
	Binary     string // server executable
	Tool       string // ovsdb-tool used to create the database
	SchemaPath string // schema file for `ovsdb-tool create`
	// Unixctl passes --unixctl=DIR/ctl. The C server fails to start without
	// a control socket when its run directory does not exist.
	Unixctl bool
	// StartTimeout bounds the wait for the socket to accept connections.
	StartTimeout time.Duration
	// Extra are more command-line options, given before the database.
	Extra []string
}

// Start creates a fresh database in a new temporary directory under
// parent (os.TempDir() if empty) and starts the server on it. The caller
// must call Stop.
func Start(ctx context.Context, parent string, o StartOptions) (*Process, error) {
	dir, err := os.MkdirTemp(parent, "loadgen-")
	if err != nil {
		return nil, err
	}
	p := &Process{
		Dir:    dir,
		Socket: filepath.Join(dir, "db.sock"),
		DBFile: filepath.Join(dir, "db.db"),
		done:   make(chan struct{}),
	}
	if out, err := exec.CommandContext(ctx, o.Tool, "create", p.DBFile, o.SchemaPath).CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("%s create: %v: %s", o.Tool, err, strings.TrimSpace(string(out)))
	}
	args := []string{
		"--remote=punix:" + p.Socket,
		"--no-chdir",
		"--log-file=" + filepath.Join(dir, "server.log"),
	}
	if o.Unixctl {
		args = append(args, "--unixctl="+filepath.Join(dir, "ctl"))
	}
	args = append(append(args, o.Extra...), p.DBFile)
	stderr, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	defer stderr.Close()
	// Not CommandContext: the process must outlive ctx cancellation until
	// Stop is called, so it is stopped by PID in one place.
	p.cmd = exec.Command(o.Binary, args...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir)
	p.cmd.Stdout = stderr
	p.cmd.Stderr = stderr
	if err := p.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	timeout := o.StartTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if err := p.waitReady(ctx, timeout); err != nil {
		msg := p.tail()
		p.Stop()
		return nil, fmt.Errorf("%s did not start: %w%s", o.Binary, err, msg)
	}
	return p, nil
}

// waitReady polls the socket until a connection succeeds, the process
// exits, or the timeout expires.
func (p *Process) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := net.Dial("unix", p.Socket); err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited: %v", p.err)
		case <-deadline.C:
			return fmt.Errorf("socket %s not ready after %v", p.Socket, timeout)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// tail returns the end of the server's stderr and log, for error messages.
func (p *Process) tail() string {
	var b strings.Builder
	for _, f := range []string{"stderr.log", "server.log"} {
		data, err := os.ReadFile(filepath.Join(p.Dir, f))
		if err != nil || len(data) == 0 {
			continue
		}
		if len(data) > 800 {
			data = data[len(data)-800:]
		}
		fmt.Fprintf(&b, "\n--- %s:\n%s", f, strings.TrimSpace(string(data)))
	}
	return b.String()
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has already exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// CPUTime returns the user+system CPU time the process has used so far,
// read from /proc (Linux only; an error elsewhere).
func (p *Process) CPUTime() (time.Duration, error) { return PIDCPUTime(p.PID()) }

// PIDCPUTime returns the user+system CPU time process pid has used so
// far, read from /proc/PID/stat (Linux only; an error elsewhere).
func PIDCPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed /proc stat times")
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// RSSKiB returns the resident set size in KiB, read from /proc.
func (p *Process) RSSKiB() (int64, error) { return PIDStatusKiB(p.PID(), "VmRSS") }

// PIDStatusKiB returns the field of /proc/PID/status given by name
// ("VmRSS", "VmHWM", ...) in KiB.
func PIDStatusKiB(pid int, name string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, name+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", name, pid)
}

// Stop terminates the process (SIGTERM, then SIGKILL after 5 s), waits for
// it, and removes its directory unless keep is set via StopKeep.
func (p *Process) Stop() {
	p.stop()
	_ = os.RemoveAll(p.Dir)
}

// StopKeep is Stop without removing the directory (for post-mortems).
func (p *Process) StopKeep() { p.stop() }

func (p *Process) stop() {
	if !p.Exited() {
		TermThenKill(p.cmd.Process, p.done)
	}
}

// TermThenKill sends SIGTERM to the process (ours, by PID), then SIGKILL
// if it has not exited after 5 s; it returns once done is closed (the
// goroutine waiting for the process closes it).
func TermThenKill(proc *os.Process, done <-chan struct{}) {
	_ = proc.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = proc.Kill()
		<-done
	}
}

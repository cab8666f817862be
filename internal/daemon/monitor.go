package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
	"unicode"
)

// monitoredEnv marks the daemon process started by a --monitor process.
const monitoredEnv = "OVSDB_GO_DAEMON_MONITORED"

// restartInterval is C's minimum delay between two restarts.
const restartInterval = 10 * time.Second

// crashSignals are the signals after which C's monitor restarts the daemon.
var crashSignals = []syscall.Signal{
	syscall.SIGABRT, syscall.SIGALRM, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL,
	syscall.SIGPIPE, syscall.SIGSEGV, syscall.SIGXCPU, syscall.SIGXFSZ,
}

// goCrashStatus is the exit status of a Go program that died of an
// unrecovered panic or a fatal runtime error.
const goCrashStatus = 2

// IsMonitoredChild reports whether this process is the daemon started by a
// --monitor process.
func IsMonitoredChild() bool { return os.Getenv(monitoredEnv) != "" }

// ShouldRestart reports whether a daemon that ended with status crashed
// and must be restarted by the monitor: it was killed by one of C's crash
// signals, or it exited with status 2 (Go's status for a panic or a fatal
// runtime error).
func ShouldRestart(ws syscall.WaitStatus) bool {
	if ws.Exited() {
		return ws.ExitStatus() == goCrashStatus
	}
	if ws.Signaled() {
		for _, s := range crashSignals {
			if ws.Signal() == s {
				return true
			}
		}
	}
	return false
}

// StatusMessage describes a wait status as C's process_status_msg does:
// "exit status N", "killed (Segmentation fault)", with ", core dumped".
func StatusMessage(ws syscall.WaitStatus) string {
	var msg string
	switch {
	case ws.Exited():
		msg = fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		msg = fmt.Sprintf("killed (%s)", signalName(ws.Signal()))
	case ws.Stopped():
		msg = fmt.Sprintf("stopped (%s)", signalName(ws.StopSignal()))
	default:
		msg = fmt.Sprintf("terminated abnormally (%x)", uint32(ws))
	}
	if ws.CoreDump() {
		msg += ", core dumped"
	}
	return msg
}

// signalName gives glibc's description of a signal ("Segmentation fault").
func signalName(s syscall.Signal) string {
	name := s.String()
	if strings.HasPrefix(name, "signal ") || name == "" {
		return fmt.Sprintf("signal %d", int(s))
	}
	r := []rune(name)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// spawnDaemon starts the daemon process and waits until it is ready. It
// returns ready=false (with the process already reaped) if the daemon
// ended before signalling readiness.
func spawnDaemon() (cmd *exec.Cmd, ready bool, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, false, fmt.Errorf("pipe failed (%v)", err)
	}
	defer r.Close()
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd = exec.Command(exe, os.Args[1:]...)
	env := make([]string, 0, len(os.Environ())+2)
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, readyEnv+"=") || strings.HasPrefix(kv, monitoredEnv+"=") {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = append(env, readyEnv+"=3", monitoredEnv+"=1")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdin = os.Stdin
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		_ = w.Close()
		return nil, false, fmt.Errorf("fork failed (%v)", err)
	}
	_ = w.Close()
	buf := make([]byte, 1)
	if n, _ := io.ReadFull(r, buf); n == 1 {
		return cmd, true, nil
	}
	_ = cmd.Wait()
	return cmd, false, nil
}

func waitStatus(cmd *exec.Cmd) syscall.WaitStatus {
	if cmd.ProcessState == nil {
		_ = cmd.Wait()
	}
	if cmd.ProcessState != nil {
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
			return ws
		}
	}
	return syscall.WaitStatus(0)
}

// monitor runs the --monitor loop: it starts the daemon, reports its own
// readiness once the first daemon is ready, restarts the daemon after a
// crash (at most once every 10 seconds) and returns the exit status for
// the monitor when the daemon ends for another reason.
func (d *Daemon) monitor() int {
	// C names the monitor's messages "daemon_unix(monitor)".
	log := slog.Default().With("module", "daemon_unix(monitor)")
	var lastRestart time.Time
	crashes := 0
	first := true
	for {
		cmd, ready, err := spawnDaemon()
		if err != nil {
			log.Error("could not initiate process monitoring: " + err.Error())
			return 1
		}
		pid := cmd.Process.Pid
		var ws syscall.WaitStatus
		if !ready {
			ws = waitStatus(cmd)
			if ws.Exited() && ws.ExitStatus() != 0 && (first || !ShouldRestart(ws)) {
				// As C: convey the daemon's startup error.
				return ws.ExitStatus()
			}
			log.Error(fmt.Sprintf("fork child died before signaling startup (%s)", StatusMessage(ws)))
			if first {
				return 1
			}
		} else {
			if first {
				first = false
				d.monitorReady()
			}
			ws = waitStatus(cmd)
		}
		status := StatusMessage(ws)
		if !ShouldRestart(ws) {
			log.Info(fmt.Sprintf("pid %d died, %s, exiting", pid, status))
			return 0
		}
		crashes++
		msg := fmt.Sprintf("%d crashes: pid %d died, %s", crashes, pid, status)
		if ws.CoreDump() {
			// As C: no further core dumps, to save disk space.
			if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}); err != nil {
				log.Warn(fmt.Sprintf("failed to disable core dumps: %v", err))
			}
		}
		if wait := time.Until(lastRestart.Add(restartInterval)); !lastRestart.IsZero() && wait > 0 {
			log.Warn(msg + ", waiting until 10 seconds since last restart")
			time.Sleep(wait)
		}
		lastRestart = time.Now()
		log.Error(msg + ", restarting")
	}
}

// monitorReady tells the --detach parent (if any) that startup completed
// and, when detached, points the monitor's standard descriptors at
// /dev/null.
func (d *Daemon) monitorReady() {
	if d.readyW == nil {
		return
	}
	_, _ = d.readyW.Write([]byte{1})
	_ = d.readyW.Close()
	d.readyW = nil
	redirectStdio()
}

func redirectStdio() {
	if devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
		for fd := 0; fd <= 2; fd++ {
			_ = syscall.Dup3(int(devnull.Fd()), fd, 0)
		}
		_ = devnull.Close()
	}
}

package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// runChild is the process of --run=COMMAND: C's ovsdb-server runs
// COMMAND with /bin/sh -c once its control socket serves, and exits when
// the command exits: with status 0 if the command succeeded, otherwise
// with status 1 after printing
//
//	ovsdb-server: COMMAND: child exited, exit status N
//	ovsdb-server: COMMAND: child exited, killed (Terminated)[, core dumped]
//
// on stderr. The command inherits the server's standard input, output and
// error. If the server exits first (ovs-appctl exit, a signal), the
// command is left running, as in C.
type runChild struct {
	command string
	cmd     *exec.Cmd
	done    chan struct{}
	state   *os.ProcessState
}

// startRun starts command; the error is C's "COMMAND: process failed to
// start (REASON)".
func startRun(command string, stdout, stderr io.Writer) (*runChild, error) {
	c := exec.Command("/bin/sh", "-c", command)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, stdout, stderr
	if err := c.Start(); err != nil {
		reason := err.Error()
		var errno syscall.Errno
		if pe, ok := err.(*os.PathError); ok {
			if e, ok := pe.Err.(syscall.Errno); ok {
				errno = e
			}
		}
		if errno != 0 {
			reason = capitalize(errno.Error())
		}
		return nil, fmt.Errorf("%s: process failed to start (%s)", command, reason)
	}
	r := &runChild{command: command, cmd: c, done: make(chan struct{})}
	go func() {
		_ = c.Wait()
		r.state = c.ProcessState
		close(r.done)
	}()
	return r, nil
}

// failure returns C's message for a command that ended unsuccessfully,
// or "" if it succeeded or has not ended.
func (r *runChild) failure() string {
	select {
	case <-r.done:
	default:
		return ""
	}
	ws, ok := r.state.Sys().(syscall.WaitStatus)
	if !ok || ws == 0 {
		return ""
	}
	return fmt.Sprintf("%s: child exited, %s", r.command, processStatusMsg(ws))
}

// processStatusMsg is C's process_status_msg: "exit status N", "killed
// (SIGNAL)", "stopped (SIGNAL)", plus ", core dumped".
func processStatusMsg(ws syscall.WaitStatus) string {
	var s string
	switch {
	case ws.Exited():
		s = fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		s = fmt.Sprintf("killed (%s)", signalName(ws.Signal()))
	case ws.Stopped():
		s = fmt.Sprintf("stopped (%s)", signalName(ws.StopSignal()))
	default:
		s = fmt.Sprintf("terminated abnormally (%x)", uint32(ws))
	}
	if ws.CoreDump() {
		s += ", core dumped"
	}
	return s
}

// signalName is glibc's description of a signal ("Terminated",
// "Segmentation fault"), as C's signal_name, or "signal N".
func signalName(sig syscall.Signal) string {
	s := sig.String()
	if strings.HasPrefix(s, "signal ") {
		return s
	}
	return capitalize(s)
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

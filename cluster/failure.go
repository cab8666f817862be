package cluster

// cluster/failure-test and cluster/set-backlog-threshold on a member.
// The faults themselves are raft's (raft/failure.go); what each test does
// here is in raft/DESIGN.md, "Failure tests".

import (
	"errors"
	"strconv"

	"github.com/ovsdb-go/ovsdb-server/raft"
)

// failureTest is cluster/failure-test SCENARIO as the member's Control
// command. As C's, the test is one for the whole process (raft's
// ProcessFaults, shared by every member), so engaging it through one
// member engages it for all; cmd/ovsdb-server calls it for each clustered
// database. "clear" dismisses the test.
func (c *Member) failureTest(args []string) (string, error) {
	if len(args) != 1 {
		return "", errors.New("cluster/failure-test takes one scenario")
	}
	t, ok := raft.ParseFailureTest(args[0])
	if !ok {
		return "", errors.New("unknown test scenario")
	}
	raft.ProcessFaults().Set(t)
	if t == raft.FailNone {
		return "test dismissed", nil
	}
	return "test engaged", nil
}

// SetFailureCrash sets what a failure test's crash does in this process
// (nil: raft's default, which writes "PROGRAM: LINE" on standard error and
// exits with status 1). fn is called after the members' unix socket files
// are removed; it should remove the process's other files that C removes
// on exit (pid file, control socket, unix remotes), write "PROGRAM: LINE"
// on standard error and exit with status 1, never returning.
func SetFailureCrash(fn func(msg string)) {
	if fn == nil {
		raft.ProcessFaults().SetCrash(nil)
		return
	}
	raft.ProcessFaults().SetCrash(func(msg string) {
		raft.RemoveSocketFiles()
		fn(msg)
	})
}

// setBacklogThreshold is cluster/set-backlog-threshold DB N_MSGS N_BYTES
// (args: the two numbers, in decimal): C's limits of the member's Raft
// connections' send backlog, recorded (BacklogThreshold) but not applied:
// the member's connections never queue messages (raft.Mux.SetBacklogThreshold).
// C replies nothing.
func (c *Member) setBacklogThreshold(args []string) (string, error) {
	if len(args) != 2 {
		return "", errors.New("invalid argument")
	}
	msgs, err1 := strconv.ParseUint(args[0], 10, 64)
	nbytes, err2 := strconv.ParseUint(args[1], 10, 64)
	if err1 != nil || err2 != nil {
		return "", errors.New("invalid argument")
	}
	if msgs < 50 {
		return "", errors.New("values out of range")
	}
	c.mux.SetBacklogThreshold(msgs, nbytes)
	return "", nil
}

// BacklogThreshold returns the member's backlog thresholds (messages,
// bytes): C's defaults, 500 and 4294967295, until
// cluster/set-backlog-threshold changes them.
func (c *Member) BacklogThreshold() (msgs, bytes uint64) { return c.mux.BacklogThreshold() }

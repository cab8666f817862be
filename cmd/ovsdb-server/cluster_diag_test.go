package main

// Diagnoses for the multi-process cluster tests: every bounded wait that
// fails says which step, and shows each member's process state, the key
// lines of its cluster/status and the tail of its log, so that a stall
// under load can be told from a slow machine without re-running.

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// statusKeys are the cluster/status lines a diagnosis shows.
var statusKeys = []string{"Status:", "Role:", "Term:", "Leader:", "Vote:", "Log:", "Entries not yet committed:",
	"Entries not yet applied:", "Connections:", "Disconnections:"}

// logTailLines is how many of a member's last log lines a diagnosis shows.
const logTailLines = 15

// alive reports whether the member's process is running.
func (m *member) alive() bool {
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// diagnose describes every member: process, cluster/status (asked with a
// short timeout: a member that does not answer says so) and log tail.
func (tc *testCluster) diagnose() string {
	var b strings.Builder
	b.WriteString("cluster state:")
	for i, m := range tc.members {
		fmt.Fprintf(&b, "\n--- member %d (%s, %s): ", i, filepath.Base(m.db), m.addr)
		if !m.alive() {
			b.WriteString("not running")
		} else {
			fmt.Fprintf(&b, "pid %d; ", m.cmd.Process.Pid)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			r, err := call(ctx, m.ctl, "cluster/status", tc.dbName)
			cancel()
			if err != nil {
				fmt.Fprintf(&b, "cluster/status: %v", err)
			} else {
				s, _ := r.(string)
				lines := strings.Split(s, "\n")
				keep := []string{"sid " + lines[0]}
				for _, l := range lines[1:] {
					for _, k := range statusKeys {
						if strings.HasPrefix(l, k) {
							keep = append(keep, l)
						}
					}
				}
				b.WriteString(strings.Join(keep, "; "))
			}
		}
		fmt.Fprintf(&b, "\n%s", logTail(m.log, logTailLines))
	}
	return b.String()
}

// logTail returns the last n lines of the file at path, indented.
func logTail(path string, n int) string {
	return "    " + strings.ReplaceAll(testutil.LogTail(path, n), "\n", "\n    ")
}

// waitFor is the package's waitFor with the cluster's diagnosis on failure.
func (tc *testCluster) waitFor(what string, limit time.Duration, cond func() bool) {
	tc.t.Helper()
	waitFor(tc.t, what, limit, cond, tc.diagnose)
}

// clusterWatchdogLimit bounds a whole multi-process cluster test: past it
// the members are killed (by PID) and the test binary panics with their
// states, rather than wait for go test's own timeout.
const clusterWatchdogLimit = 10 * time.Minute

// watchdog arms clusterWatchdogLimit for tc's test.
func (tc *testCluster) watchdog() {
	name := tc.t.Name()
	timer := time.AfterFunc(clusterWatchdogLimit, func() {
		diag := tc.diagnose()
		for _, m := range tc.members {
			if m.alive() {
				_ = m.cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		panic(fmt.Sprintf("%s: still running after %v (cluster watchdog)\n%s", name, clusterWatchdogLimit, diag))
	})
	tc.t.Cleanup(func() { timer.Stop() })
}

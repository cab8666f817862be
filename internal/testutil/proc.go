package testutil

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ProcAlive reports whether pid exists and is not a zombie (Linux /proc).
func ProcAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// ProcParent returns the parent pid of pid (Linux /proc).
func ProcParent(t testing.TB, pid int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	require.NoError(t, err)
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ppid, err := strconv.Atoi(fields[1])
	require.NoError(t, err)
	return ppid
}

// WaitPidfile polls pidfile until it names a live process other than not,
// for at most 20 s, and returns that pid; on time out the test fails with
// what the pidfile held last.
func WaitPidfile(t testing.TB, pidfile string, not int) int {
	t.Helper()
	last := "nothing read yet"
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		data, err := os.ReadFile(pidfile)
		if err != nil {
			last = err.Error()
			continue
		}
		p, err := strconv.Atoi(strings.TrimSpace(string(data)))
		switch {
		case err != nil:
			last = fmt.Sprintf("content %q", data)
		case p == not:
			last = fmt.Sprintf("still the old pid %d", p)
		case !ProcAlive(p):
			last = fmt.Sprintf("pid %d not running", p)
		default:
			return p
		}
	}
	t.Fatalf("pidfile %s named no live process other than %d within 20 s (last: %s)", pidfile, not, last)
	return 0
}

// LogTail returns the last n lines of the file at path, for the diagnosis
// of a failed test ("(log: ERROR)" when it cannot be read).
func LogTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

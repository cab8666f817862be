package testutil

import (
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
// for at most 20 s, and returns that pid.
func WaitPidfile(t testing.TB, pidfile string, not int) int {
	t.Helper()
	var pid int
	require.Eventually(t, func() bool {
		data, err := os.ReadFile(pidfile)
		if err != nil {
			return false
		}
		p, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || p == not || !ProcAlive(p) {
			return false
		}
		pid = p
		return true
	}, 20*time.Second, 20*time.Millisecond)
	return pid
}

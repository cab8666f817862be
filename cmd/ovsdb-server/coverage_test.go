package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOVSHash checks the hash against a coverage/show header of C's
// ovsdb-server 3.1 and the totals it listed.
func TestOVSHash(t *testing.T) {
	c := newCoverage()
	for name, n := range map[string]uint64{
		"hmap_pathological": 2, "hmap_expand": 952, "lockfile_lock": 1, "poll_create_node": 19,
		"poll_zero_timeout": 1, "seq_change": 3, "pstream_open": 2, "unixctl_received": 1,
		"unixctl_replied": 1, "util_xalloc": 13118,
	} {
		c.add(name, n)
	}
	out := c.show()
	require.True(t, strings.HasPrefix(out, "Event coverage, avg rate over last: 5 seconds, last minute, last hour,  hash=27769abb:\n"), out)
	require.True(t, strings.HasSuffix(out, "\n102 events never hit\n"), out)
	// C's order of registration.
	require.Contains(t, out, "\nhmap_pathological          0.0/sec     0.000/sec        0.0000/sec   total: 2\nhmap_expand ")
}

// TestCoverageRates checks C's rate arithmetic: counts spread over the
// elapsed 5-second slots, per-second rate of the last slot, of the last
// minute and of the last hour.
func TestCoverageRates(t *testing.T) {
	c := newCoverage()
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	c.run()
	c.add("process_start", 10)
	now = now.Add(5 * time.Second)
	c.run()
	require.Contains(t, c.show(), "process_start              2.0/sec     0.167/sec        0.0028/sec   total: 10\n")
	// Three slots elapsed: 7 events spread 2, 2, 3.
	c.add("process_start", 7)
	now = now.Add(15 * time.Second)
	c.run()
	require.Contains(t, c.show(), "process_start              0.6/sec     0.283/sec        0.0047/sec   total: 17\n")
	r, err := c.read("process_start")
	require.NoError(t, err)
	require.Equal(t, "17\n", r)
	_, err = c.read("nope")
	require.EqualError(t, err, "No such counter")
}

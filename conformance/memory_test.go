package conformance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
)

// Hostile load of TestHostileInputMemory.
const (
	nestingConns   = 4         // connections sending an endless "[[[[..."
	nestingMax     = 64 << 20  // bytes each sends at most
	stringConns    = 6         // connections sending an unterminated string
	stringSize     = 200 << 20 // bytes of each string
	hostileTimeout = 3 * time.Minute
)

// memoryBound is the documented bound on our server's peak RSS under
// this load (jsonrpc/DESIGN.md, "Input limits"): its RSS before the load
// plus one and a half times the input budget (what the sessions hold,
// plus the chunks of disconnected sessions until they are collected, which
// happens at once). Measured: about the budget (540 MiB), C 1.2 GB.
func memoryBound(base int64) int64 { return base + jsonrpc.DefaultInputBudget*3/2 }

// TestHostileInputMemory runs each server (C and ours, default settings)
// under unauthenticated hostile input: connections that open arrays
// without end and connections that send 200 MB strings without closing
// them, all at once, while a normal client keeps transacting. It reads
// each server's peak RSS (VmHWM) and requires ours to stay under
// memoryBound, every normal request to be answered, and the server to
// serve afterwards. C's figures are logged for comparison: it drops the
// nesting at depth 1000 but holds every string whole.
func TestHostileInputMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 1.2 GB to each server")
	}
	ref, test := startPair(t)
	var peaks [2]int64
	for i, srv := range []*server{ref, test} {
		t.Run(srv.name, func(t *testing.T) {
			peaks[i] = hostileLoad(t, srv)
		})
	}
	t.Logf("peak RSS: C %d MiB, ours %d MiB", peaks[0]>>20, peaks[1]>>20)
}

// hostileLoad runs the load against srv and returns its peak RSS.
func hostileLoad(t *testing.T, srv *server) int64 {
	pid := srv.cmd.Process.Pid
	base := procStatus(t, pid, "VmRSS")

	// The normal client: transact and echo, one after another, until the
	// hostile senders are done; each must be answered in time.
	stop := make(chan struct{})
	normalDone := make(chan error, 1)
	var normalOps atomic.Int64
	var slowest atomic.Int64
	go func() { normalDone <- normalClient(srv.sock, stop, &normalOps, &slowest) }()

	var wg sync.WaitGroup
	var sentNesting, sentStrings atomic.Int64
	var closedNesting, closedStrings atomic.Int64
	deadline := time.Now().Add(hostileTimeout)
	for i := 0; i < nestingConns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, closed := sendUntilClosed(srv.sock, nil, []byte(strings.Repeat("[", 64<<10)), nestingMax, deadline)
			sentNesting.Add(n)
			if closed {
				closedNesting.Add(1)
			}
		}()
	}
	for i := 0; i < stringConns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, closed := sendUntilClosed(srv.sock, []byte(`{"method":"echo","params":["`), []byte(strings.Repeat("x", 1<<20)), stringSize, deadline)
			sentStrings.Add(n)
			if closed {
				closedStrings.Add(1)
			}
		}()
	}
	// Sample the RSS while the load runs (VmHWM has the peak anyway).
	sampling := make(chan struct{})
	var maxRSS atomic.Int64
	go func() {
		defer close(sampling)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			maxRSS.Store(max(maxRSS.Load(), procStatus(t, pid, "VmRSS")))
		}
	}()
	wg.Wait()
	// The hostile connections that were not closed hold their messages
	// until the end of the test: the normal client goes on meanwhile.
	time.Sleep(500 * time.Millisecond)
	peak := procStatus(t, pid, "VmHWM")
	close(stop)
	<-sampling
	require.NoError(t, <-normalDone, "%s: the normal client failed", srv.name)
	t.Logf("%s: RSS before %d MiB, peak %d MiB (sampled %d MiB); nesting: %d MiB sent on %d connections, %d closed by the server; strings: %d MiB sent on %d, %d closed; normal client: %d requests, slowest %v",
		srv.name, base>>20, peak>>20, maxRSS.Load()>>20, sentNesting.Load()>>20, nestingConns, closedNesting.Load(),
		sentStrings.Load()>>20, stringConns, closedStrings.Load(), normalOps.Load(), time.Duration(slowest.Load()))
	require.Positive(t, normalOps.Load())
	require.Equal(t, int64(nestingConns), closedNesting.Load(), "%s: every unclosed nesting is dropped", srv.name)
	require.Less(t, sentNesting.Load(), int64(nestingConns*16<<20), "%s: nesting dropped early", srv.name)
	if srv.name == "Go" {
		require.Less(t, peak, memoryBound(base), "our peak RSS %d MiB exceeds the bound %d MiB", peak>>20, memoryBound(base)>>20)
		require.Positive(t, closedStrings.Load(), "the input budget disconnected string senders")
	}
	// Still serving.
	out, err := rawSession(newNormalizer(), srv.sock, []string{`{"method":"echo","params":["after"],"id":1}`})
	require.NoError(t, err)
	require.Equal(t, `{"error":null,"id":1,"result":["after"]}`, out)
	return peak
}

// sendUntilClosed writes head and then body repeatedly, up to total
// bytes, until the server closes the connection or the deadline passes. It
// then keeps the connection open (holding what was sent) until the server
// closes it or the deadline. It returns the bytes written and whether the
// server closed the connection.
func sendUntilClosed(sock string, head, body []byte, total int, deadline time.Time) (int64, bool) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return 0, true
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	var n int64
	if len(head) > 0 {
		k, err := c.Write(head)
		n += int64(k)
		if err != nil {
			return n, !isTimeout(err)
		}
	}
	for n < int64(total) {
		k, err := c.Write(body)
		n += int64(k)
		if err != nil {
			return n, !isTimeout(err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, err = c.Read(make([]byte, 1))
	return n, err != nil && !isTimeout(err)
}

// normalClient transacts and echoes on one connection until stop,
// requiring each reply within 10 s.
func normalClient(sock string, stop <-chan struct{}, ops, slowest *atomic.Int64) error {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return err
	}
	defer c.Close()
	dec := json.NewDecoder(bufio.NewReader(c))
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		default:
		}
		req := fmt.Sprintf(`{"method":"echo","params":[%d],"id":%d}`, i, i)
		if i%2 == 0 {
			req = fmt.Sprintf(`{"method":"transact","params":["Conf",{"op":"insert","table":"Atoms","row":{"i":%d}},{"op":"select","table":"Atoms","where":[["i","==",%d]],"columns":["i"]}],"id":%d}`, i, i, i)
		}
		start := time.Now()
		_ = c.SetDeadline(start.Add(10 * time.Second))
		if _, err := c.Write([]byte(req)); err != nil {
			return fmt.Errorf("request %d: %v", i, err)
		}
		var reply struct {
			ID     json.Number     `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := dec.Decode(&reply); err != nil {
			return fmt.Errorf("reply to request %d: %v", i, err)
		}
		if reply.ID.String() != strconv.Itoa(i) || string(reply.Error) != "null" {
			return fmt.Errorf("request %d: unexpected reply id %s error %s", i, reply.ID, reply.Error)
		}
		if i%2 == 0 && !strings.Contains(string(reply.Result), fmt.Sprintf(`[{"i":%d}]`, i)) {
			return fmt.Errorf("request %d: unexpected result %s", i, reply.Result)
		}
		slowest.Store(max(slowest.Load(), int64(time.Since(start))))
		ops.Add(1)
		time.Sleep(5 * time.Millisecond)
	}
}

// procStatus reads a "kB" field of /proc/PID/status, in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

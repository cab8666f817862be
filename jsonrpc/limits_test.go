package jsonrpc

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestUnclosedNestingClosesAtDepthLimit sends an endless "[[[[..." on a
// session: as C, the server answers what came before and closes the
// connection at the 1001st bracket, having buffered no more than its read
// buffer; another client is served meanwhile.
func TestUnclosedNestingClosesAtDepthLimit(t *testing.T) {
	f := newFixture(t, Options{})
	other := f.raw(t)
	c := f.raw(t)
	c.send(`{"method":"echo","params":["before"],"id":1}`)
	require.Equal(t, `{"id":1,"result":["before"],"error":null}`, c.next())
	// Keep writing brackets until the server closes: it must do so after
	// about one read buffer (the socket buffers hold what is in flight).
	sent := 0
	chunk := []byte(strings.Repeat("[", 4096))
	var werr error
	for sent < 64<<20 {
		require.NoError(t, c.conn.SetWriteDeadline(time.Now().Add(waitLimit)))
		var n int
		n, werr = c.conn.Write(chunk)
		sent += n
		if werr != nil {
			break
		}
	}
	require.Error(t, werr, "the server never closed the connection (%d bytes sent)", sent)
	require.Less(t, sent, 16<<20, "the server read %d bytes of nesting", sent)
	require.Equal(t, `{"id":"a","result":[],"error":null}`, other.roundTrip(`{"method":"echo","params":[],"id":"a"}`))
	require.Zero(t, f.srv.InputBuffered())
}

// TestDepthLimitIsC checks the limit itself: 1000 nested arrays and
// objects are read (the message is then judged as usual), 1001 close the
// connection (C: "input exceeds maximum nesting depth 1000").
func TestDepthLimitIsC(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.raw(t)
	params := strings.Repeat("[", 999) + strings.Repeat("]", 999)
	want := `{"id":1,"result":` + params + `,"error":null}`
	require.Equal(t, want, c.roundTrip(`{"method":"echo","params":`+params+`,"id":1}`))
	c.send(`{"method":"echo","params":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `,"id":2}`)
	c.closed()
}

// TestInputBudgetEvictsLargestIncomplete opens sessions that send large
// unterminated strings; the budget is never exceeded, the sessions holding
// the largest incomplete messages are disconnected, a normal client keeps
// working throughout, and every charge is returned at the end.
func TestInputBudgetEvictsLargestIncomplete(t *testing.T) {
	const budgetSize = 4 << 20
	f := newFixture(t, Options{InputBudget: budgetSize, MaxMessageSize: 3 << 20})
	normal := f.raw(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var peak int64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			peak = max(peak, f.srv.InputBuffered())
			mu.Unlock()
			time.Sleep(100 * time.Microsecond)
		}
	}()
	const hostile = 6
	sentBy := make([]int, hostile)
	for i := 0; i < hostile; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("unix", f.sock)
			if err != nil {
				return
			}
			defer c.Close()
			_ = c.SetWriteDeadline(time.Now().Add(waitLimit))
			if _, err := c.Write([]byte(`{"method":"echo","params":["`)); err != nil {
				return
			}
			chunk := []byte(strings.Repeat("x", 64<<10))
			for sentBy[i] < 3<<20-(64<<10) {
				n, err := c.Write(chunk)
				sentBy[i] += n
				if err != nil {
					return
				}
			}
			// Hold the incomplete message until closed by the server.
			_ = c.SetReadDeadline(time.Now().Add(waitLimit))
			_, _ = c.Read(make([]byte, 1))
		}(i)
	}
	// The normal client is served while the hostile ones send.
	for i := 0; i < 20; i++ {
		id := fmt.Sprint(i)
		require.Equal(t, `{"id":"`+id+`","result":[],"error":null}`, normal.roundTrip(`{"method":"echo","params":[],"id":"`+id+`"}`))
	}
	// Two hostile sessions fit; the others are disconnected as they come,
	// either evicted or refused (but the budget is never exceeded).
	time.Sleep(100 * time.Millisecond)
	for i := 0; i < 20; i++ {
		require.Equal(t, `{"id":1,"result":["ok"],"error":null}`, normal.roundTrip(`{"method":"echo","params":["ok"],"id":1}`))
	}
	f.srv.Close()
	wg.Wait()
	close(stop)
	mu.Lock()
	defer mu.Unlock()
	require.LessOrEqual(t, peak, int64(budgetSize))
	require.Greater(t, peak, int64(budgetSize/2), "the hostile sessions were charged")
	require.Zero(t, f.srv.InputBuffered())
}

// TestQueuedInputPausesReading checks that a session stops reading while
// the requests it read and has not started hold maxQueuedInput bytes (as C
// reads nothing while it has a reply to send): a client that sends large
// requests behind a slow one cannot make the server buffer them all.
func TestQueuedInputPausesReading(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.raw(t)
	// A slow transaction holds the session's worker.
	c.send(`{"method":"transact","params":["OVN_Northbound",{"op":"block","key":"slow"}],"id":"slow"}`)
	f.db.waitStarted(t, "slow")
	// Then 40 requests of 100 KB: the server reads about 1 MiB of them.
	big := `{"method":"transact","params":["OVN_Northbound",{"op":"log","v":"` + strings.Repeat("y", 100<<10) + `"}],"id":%d}`
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 40; i++ {
			if _, err := fmt.Fprintf(c.conn, big, i); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	deadline := time.Now().Add(waitLimit)
	for f.srv.InputBuffered() < maxQueuedInput && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // would it read more?
	held := f.srv.InputBuffered()
	require.GreaterOrEqual(t, held, int64(maxQueuedInput))
	require.Less(t, held, int64(maxQueuedInput+2*(100<<10)+readBufSize), "read past the pause")
	f.db.release("slow")
	require.Contains(t, c.next(), `"id":"slow"`)
	for i := 0; i < 40; i++ {
		require.Equal(t, fmt.Sprintf(`{"id":%d,"result":[{}],"error":null}`, i), c.next())
	}
	require.NoError(t, <-done)
	require.Len(t, f.db.Log(), 40)
	require.Zero(t, f.srv.InputBuffered())
}

// TestInputBudgetDefaults checks the documented defaults.
func TestInputBudgetDefaults(t *testing.T) {
	srv := NewServer(&fakeBackend{}, Options{})
	defer srv.Close()
	require.Equal(t, DefaultMaxMessageSize, srv.opts.MaxMessageSize)
	require.Equal(t, int64(DefaultInputBudget), srv.budget.limit)
	srv2 := NewServer(&fakeBackend{}, Options{InputBudget: -1})
	defer srv2.Close()
	require.Nil(t, srv2.budget)
	require.Zero(t, srv2.InputBuffered())
}

// TestInputBudgetRefusesWhenNothingToEvict: when complete requests hold
// the budget, a session that needs more is disconnected (nothing waits),
// as for any protocol error: its transactions still waiting are canceled.
func TestInputBudgetRefusesWhenNothingToEvict(t *testing.T) {
	f := newFixture(t, Options{InputBudget: 32 << 10})
	other := f.raw(t)
	c := f.raw(t)
	c.send(`{"method":"transact","params":["OVN_Northbound",{"op":"block","key":"slow"}],"id":"slow"}`)
	f.db.waitStarted(t, "slow")
	// Requests of 10 KB queue behind the slow one; the fourth does not
	// fit in 32 KiB and closes the session.
	req := `{"method":"transact","params":["OVN_Northbound",{"op":"log","v":"` + strings.Repeat("z", 10<<10) + `"}],"id":%d}`
	for i := 0; i < 4; i++ {
		_, err := fmt.Fprintf(c.conn, req, i)
		require.NoError(t, err)
	}
	c.closed()
	require.Equal(t, []string{"slow"}, f.db.Canceled())
	require.Empty(t, f.db.Log())
	require.Zero(t, f.srv.InputBuffered())
	require.Equal(t, `{"id":0,"result":[],"error":null}`, other.roundTrip(`{"method":"echo","params":[],"id":0}`))
}

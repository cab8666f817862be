package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ClusterLoad drives n closed-loop clients, client i connected to the unix
// socket of member i mod len(members), each sending single-row inserts
// into table (string column set) for warmup+duration. The Result's
// ServerCPU is the CPU used by all members together during the
// measurement; RSSKiB is the largest member's RSS.
func ClusterLoad(ctx context.Context, c *Cluster, name, table, column string, n int, warmup, duration time.Duration) (Result, error) {
	return ClusterLoadOn(ctx, c, c.Members, name, table, column, n, warmup, duration)
}

// ClusterLoadOn is ClusterLoad with the clients spread over the given
// members only (the leader alone, or one follower: see Cluster.Pick).
func ClusterLoadOn(ctx context.Context, c *Cluster, on []*Member, name, table, column string, n int, warmup, duration time.Duration) (Result, error) {
	res := Result{Server: name, Workload: "insert1", RowsPerTxn: 1, Clients: n, Rounds: 1}
	clients := make([]*Client, n)
	defer func() {
		for _, cl := range clients {
			if cl != nil {
				_ = cl.Close()
			}
		}
	}()
	params := make([]json.RawMessage, n)
	for i := range n {
		m := on[i%len(on)]
		cl, err := Dial(m.Socket, 5*time.Second)
		if err != nil {
			return res, fmt.Errorf("%s member %d: connect: %w", name, m.Index, err)
		}
		clients[i] = cl
		if params[i], err = buildParams(c.DBName, table, column, fmt.Sprintf("cl-%d-%d", n, i), 1); err != nil {
			return res, err
		}
	}
	var cpu0 time.Duration
	lp := loop{
		clients: clients, params: params, rowsPerTxn: 1, warmup: warmup, duration: duration,
		onMeasure: func() { cpu0 = c.cpuTime() },
	}
	stats, measured := lp.run(ctx)
	res.ServerCPU = (c.cpuTime() - cpu0).Seconds()
	for _, m := range c.Members {
		if m.Alive() {
			p := &Process{cmd: m.cmd}
			if rss, err := p.RSSKiB(); err == nil {
				res.RSSKiB = max(res.RSSKiB, rss)
			}
		}
	}
	res.summarize(stats, measured, 1)
	for _, m := range c.Members {
		if !m.Alive() {
			return res, fmt.Errorf("%s member %d exited during the run%s", name, m.Index, c.tails())
		}
	}
	return res, nil
}

// Pick returns the members clients connect to: "spread" (or ""): all of
// them; "leader": the leader; "follower": one follower.
func (c *Cluster) Pick(ctx context.Context, via string, timeout time.Duration) ([]*Member, error) {
	switch via {
	case "", "spread":
		return c.Members, nil
	case "leader", "follower":
	default:
		return nil, fmt.Errorf("via %q: want spread, leader or follower", via)
	}
	leader, err := c.WaitHealthy(ctx, timeout)
	if err != nil {
		return nil, err
	}
	if via == "leader" {
		return []*Member{leader}, nil
	}
	for _, m := range c.Members {
		if m != leader && m.Alive() {
			return []*Member{m}, nil
		}
	}
	return nil, errors.New("no follower")
}

// cpuTime sums the CPU time of the live members.
func (c *Cluster) cpuTime() time.Duration {
	var sum time.Duration
	for _, m := range c.Members {
		if m.Alive() {
			p := &Process{cmd: m.cmd}
			if d, err := p.CPUTime(); err == nil {
				sum += d
			}
		}
	}
	return sum
}

// FailoverRound is one leader kill.
type FailoverRound struct {
	Leader   int           `json:"leader"`   // index of the killed member
	Via      int           `json:"via"`      // index of the follower written through
	Recovery time.Duration `json:"recovery"` // kill until the first successful write issued after it
	Errors   int64         `json:"errors"`   // failed writes (error replies or dropped connections) meanwhile
	First    string        `json:"first_error,omitempty"`
}

// FailoverOptions configure Failover.
type FailoverOptions struct {
	Table, Column string
	// ProbeInterval is the spacing of extra single-write probes started
	// after the kill, each on its own connection, so a write stuck in the
	// dead leader does not decide the figure (default 20 ms).
	ProbeInterval time.Duration
	// Timeout bounds one round (default 30 s).
	Timeout time.Duration
	// Before is how long writes run through the follower before the kill
	// (default 300 ms, longer until the first of them has succeeded); they
	// must succeed.
	Before time.Duration
}

// firstSuccess records the earliest completion of a successful write
// started at or after the kill.
type firstSuccess struct {
	mu     sync.Mutex
	killed time.Time // zero until the kill
	at     time.Time
	done   chan struct{}
	errs   int64
	first  string
}

func newFirstSuccess() *firstSuccess { return &firstSuccess{done: make(chan struct{})} }

func (f *firstSuccess) kill(t time.Time) {
	f.mu.Lock()
	f.killed = t
	f.mu.Unlock()
}

// report records the outcome of a write started at t0 and finished at t1.
// It returns true once a qualifying success has been recorded.
func (f *firstSuccess) report(t0, t1 time.Time, err error) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.killed.IsZero() || t0.Before(f.killed) {
		return !f.at.IsZero()
	}
	if err != nil && !f.at.IsZero() {
		return true // connections closed after the round was decided
	}
	if err != nil {
		f.errs++
		if f.first == "" {
			f.first = err.Error()
		}
		return !f.at.IsZero()
	}
	if f.at.IsZero() || t1.Before(f.at) {
		first := f.at.IsZero()
		f.at = t1
		if first {
			close(f.done)
		}
	}
	return true
}

// Failover runs one round: it waits for a healthy cluster, writes in a
// closed loop through a follower, kills the leader with SIGKILL, and
// measures the time from the kill until the first successful write issued
// after the kill completes through that follower (closed loop plus probes
// every ProbeInterval). It then restarts the killed member and waits for
// the cluster to be healthy again.
func (c *Cluster) Failover(ctx context.Context, o FailoverOptions) (FailoverRound, error) {
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = 20 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Before <= 0 {
		o.Before = 300 * time.Millisecond
	}
	var round FailoverRound
	leader, err := c.WaitHealthy(ctx, o.Timeout)
	if err != nil {
		return round, err
	}
	var via *Member
	for _, m := range c.Members {
		if m != leader && m.Alive() {
			via = m
			break
		}
	}
	if via == nil {
		return round, errors.New("no follower")
	}
	round.Leader, round.Via = leader.Index, via.Index
	params, err := buildParams(c.DBName, o.Table, o.Column, fmt.Sprintf("fo-%d", time.Now().UnixNano()), 1)
	if err != nil {
		return round, err
	}
	fs := newFirstSuccess()
	rctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	write := func(cl *Client) error {
		_ = cl.SetDeadline(time.Now().Add(o.Timeout))
		r, err := cl.Call("transact", params)
		if err == nil {
			err = checkInsertResult(r, 1)
		}
		return err
	}
	started := time.Now()
	var wg sync.WaitGroup
	var okBefore atomic.Int64
	var beforeErr atomic.Pointer[error]
	// Closed-loop writer on one connection, redialled after connection errors.
	wg.Add(1)
	go func() {
		defer wg.Done()
		var cl *Client
		defer func() {
			if cl != nil {
				_ = cl.Close()
			}
		}()
		for rctx.Err() == nil {
			if cl == nil {
				var err error
				if cl, err = Dial(via.Socket, time.Second); err != nil {
					cl = nil
					time.Sleep(10 * time.Millisecond)
					continue
				}
				conn := cl
				context.AfterFunc(rctx, func() { _ = conn.Close() })
			}
			t0 := time.Now()
			err := write(cl)
			if fs.report(t0, time.Now(), err) {
				return
			}
			fs.mu.Lock()
			killed := !fs.killed.IsZero()
			fs.mu.Unlock()
			if !killed {
				if err == nil {
					okBefore.Add(1)
				} else {
					beforeErr.CompareAndSwap(nil, &err)
				}
			}
			if err != nil && !errors.Is(err, errOpFailed) {
				_ = cl.Close()
				cl = nil
			}
		}
	}()
	select {
	case <-time.After(o.Before):
	case <-rctx.Done():
	}
	// A member restarted by the previous round may still be applying its
	// backlog; wait for its first write (not part of the measurement).
	for okBefore.Load() == 0 && beforeErr.Load() == nil && rctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if wait := time.Since(started); wait > 2*o.Before {
		logger().Warn("first write through the follower was slow", "follower", via.Index, "ms", wait.Milliseconds())
	}
	if p := beforeErr.Load(); p != nil {
		cancel()
		wg.Wait()
		return round, fmt.Errorf("write through follower %d before the kill: %w", via.Index, *p)
	}
	if okBefore.Load() == 0 {
		cancel()
		wg.Wait()
		return round, fmt.Errorf("no write through follower %d succeeded before the kill%s", via.Index, c.tails())
	}
	killedAt := time.Now()
	fs.kill(killedAt)
	leader.Kill()
	// Probes: one write each on a fresh connection, at most 64 in flight.
	sem := make(chan struct{}, 64)
	tick := time.NewTicker(o.ProbeInterval)
	defer tick.Stop()
loop:
	for {
		select {
		case <-fs.done:
			break loop
		case <-rctx.Done():
			break loop
		case <-tick.C:
			select {
			case sem <- struct{}{}:
			default:
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				t0 := time.Now()
				cl, err := Dial(via.Socket, time.Second)
				if err != nil {
					fs.report(t0, time.Now(), err)
					return
				}
				defer cl.Close()
				stop := context.AfterFunc(rctx, func() { _ = cl.Close() })
				defer stop()
				err = write(cl)
				fs.report(t0, time.Now(), err)
			}()
		}
	}
	fs.mu.Lock()
	at := fs.at
	fs.mu.Unlock()
	cancel() // closes the writer's and every probe's connection
	if at.IsZero() {
		wg.Wait()
		return round, fmt.Errorf("no write succeeded through member %d within %v of killing leader %d", via.Index, o.Timeout, leader.Index)
	}
	round.Recovery = at.Sub(killedAt)
	waitCh := make(chan struct{})
	go func() { wg.Wait(); close(waitCh) }()
	// Stragglers hold per-call deadlines of o.Timeout at most.
	select {
	case <-waitCh:
	case <-time.After(o.Timeout + 5*time.Second):
		return round, errors.New("writers did not finish")
	}
	fs.mu.Lock()
	round.Errors, round.First = fs.errs, fs.first
	fs.mu.Unlock()
	if err := c.Restart(leader); err != nil {
		return round, err
	}
	if _, err := c.WaitHealthy(ctx, o.Timeout); err != nil {
		return round, fmt.Errorf("after restarting member %d: %w", leader.Index, err)
	}
	return round, nil
}

// MedianDuration returns the median (lower middle for an even count) of
// ds, or 0 for none.
func MedianDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

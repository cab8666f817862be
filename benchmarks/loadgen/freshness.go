package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// FreshnessOptions configure ReadFreshness.
type FreshnessOptions struct {
	Table, Column string
	// Samples is the number of probe writes per phase (default 200).
	Samples int
	// LoadClients is the number of closed-loop insert clients, spread over
	// every member, running during the "load" phase (default 16; <0: no
	// load phase).
	LoadClients int
	// Timeout bounds one probe (default 10 s).
	Timeout time.Duration
}

// FreshnessResult is one phase of ReadFreshness: the time from a write
// acknowledged by the leader until a read on a follower returns it, over
// every (probe, follower) pair.
type FreshnessResult struct {
	Server   string        `json:"server"`
	Phase    string        `json:"phase"` // "idle" or "load"
	Samples  int           `json:"samples"`
	P50      time.Duration `json:"p50"`
	P90      time.Duration `json:"p90"`
	P99      time.Duration `json:"p99"`
	Max      time.Duration `json:"max"`
	ReadP50  time.Duration `json:"read_p50"`  // one follower read's round trip (the figure's floor)
	Polls    float64       `json:"polls"`     // reads per sample until the row was seen (mean)
	LoadTxns float64       `json:"load_txns"` // background inserts per second during the phase
}

// ReadFreshness measures read freshness on followers: a probe client
// inserts a row with a unique key through the leader; as soon as the reply
// arrives, one client per follower (each on its own connection to that
// follower) reads the key in a tight loop until a read returns the row.
// The sample is the time from the write's acknowledgement to the end of
// that read. The "idle" phase runs the probes alone, the "load" phase with
// LoadClients closed-loop inserters on every member.
func ReadFreshness(ctx context.Context, c *Cluster, name string, o FreshnessOptions) ([]FreshnessResult, error) {
	if o.Samples <= 0 {
		o.Samples = 200
	}
	if o.LoadClients == 0 {
		o.LoadClients = 16
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	leader, err := c.WaitHealthy(ctx, 30*time.Second)
	if err != nil {
		return nil, err
	}
	writer, err := Dial(leader.Socket, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer writer.Close()
	var readers []*Client
	defer func() {
		for _, r := range readers {
			r.Close()
		}
	}()
	for _, m := range c.Members {
		if m == leader {
			continue
		}
		r, err := Dial(m.Socket, 5*time.Second)
		if err != nil {
			return nil, fmt.Errorf("%s member %d: %w", name, m.Index, err)
		}
		readers = append(readers, r)
	}
	phases := []string{"idle"}
	if o.LoadClients > 0 {
		phases = append(phases, "load")
	}
	var out []FreshnessResult
	for _, phase := range phases {
		res := FreshnessResult{Server: name, Phase: phase}
		var stop func() (float64, error)
		if phase == "load" {
			stop, err = startInsertLoad(c, o, name)
			if err != nil {
				return out, err
			}
			time.Sleep(300 * time.Millisecond) // warm-up
		}
		res.ReadP50, err = readRTT(readers[0], c.DBName, o)
		var lags []time.Duration
		var polls int64
		for s := 0; s < o.Samples && err == nil; s++ {
			var l []time.Duration
			var p int64
			l, p, err = freshnessSample(ctx, writer, readers, c.DBName, o, fmt.Sprintf("fresh-%s-%s-%d", name, phase, s))
			lags = append(lags, l...)
			polls += p
		}
		if stop != nil {
			rate, serr := stop()
			res.LoadTxns = rate
			err = errors.Join(err, serr)
		}
		if err != nil {
			return out, fmt.Errorf("%s %s: %w", name, phase, err)
		}
		slices.Sort(lags)
		res.Samples = len(lags)
		res.P50, res.P90, res.P99 = percentile(lags, 50), percentile(lags, 90), percentile(lags, 99)
		res.Max = lags[len(lags)-1]
		res.Polls = float64(polls) / float64(len(lags))
		out = append(out, res)
	}
	return out, nil
}

func selectKeyParams(db string, o FreshnessOptions, key string) json.RawMessage {
	b, _ := json.Marshal([]any{db, map[string]any{"op": "select", "table": o.Table,
		"where": []any{[]any{o.Column, "==", key}}, "columns": []any{o.Column}}})
	return b
}

// readRTT is the median round trip of a read on r (a key nobody writes).
func readRTT(r *Client, db string, o FreshnessOptions) (time.Duration, error) {
	p := selectKeyParams(db, o, "no-such-key")
	var ds []time.Duration
	for range 100 {
		t := time.Now()
		if _, err := r.Call("transact", p); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t))
	}
	slices.Sort(ds)
	return percentile(ds, 50), nil
}

// freshnessSample writes key through w and returns, per reader, the time
// from the acknowledgement until a read returned the row, and the reads
// issued.
func freshnessSample(ctx context.Context, w *Client, readers []*Client, db string, o FreshnessOptions, key string) ([]time.Duration, int64, error) {
	ins, err := json.Marshal([]any{db, map[string]any{"op": "insert", "table": o.Table, "row": map[string]any{o.Column: key}}})
	if err != nil {
		return nil, 0, err
	}
	_ = w.SetDeadline(time.Now().Add(o.Timeout))
	res, err := w.Call("transact", ins)
	if err == nil {
		err = checkInsertResult(res, 1)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("probe write: %w", err)
	}
	acked := time.Now()
	sel := selectKeyParams(db, o, key)
	want := []byte(strconv.Quote(key))
	lags := make([]time.Duration, len(readers))
	var polls atomic.Int64
	errs := make([]error, len(readers))
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = r.SetDeadline(acked.Add(o.Timeout))
			for {
				polls.Add(1)
				res, err := r.Call("transact", sel)
				if err != nil {
					errs[i] = fmt.Errorf("follower read: %w", err)
					return
				}
				if bytes.Contains(res, want) {
					lags[i] = time.Since(acked)
					return
				}
				if ctx.Err() != nil {
					errs[i] = ctx.Err()
					return
				}
			}
		}()
	}
	wg.Wait()
	return lags, polls.Load(), errors.Join(errs...)
}

// startInsertLoad starts o.LoadClients closed-loop single-row inserters,
// client i on member i mod n; stop ends them and returns their rate.
func startInsertLoad(c *Cluster, o FreshnessOptions, name string) (stop func() (float64, error), err error) {
	var clients []*Client
	for i := range o.LoadClients {
		cl, err := Dial(c.Members[i%len(c.Members)].Socket, 5*time.Second)
		if err != nil {
			for _, x := range clients {
				x.Close()
			}
			return nil, err
		}
		clients = append(clients, cl)
	}
	var done atomic.Bool
	var txns atomic.Int64
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	start := time.Now()
	for i, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !done.Load(); n++ {
				p, err := buildParams(c.DBName, o.Table, o.Column, fmt.Sprintf("load-%s-%d-%d", name, i, n), 1)
				if err == nil {
					_ = cl.SetDeadline(time.Now().Add(o.Timeout))
					var res json.RawMessage
					res, err = cl.Call("transact", p)
					if err == nil {
						err = checkInsertResult(res, 1)
					}
				}
				if err != nil {
					errs[i] = err
					return
				}
				txns.Add(1)
			}
		}()
	}
	return func() (float64, error) {
		done.Store(true)
		wg.Wait()
		el := time.Since(start)
		for _, cl := range clients {
			cl.Close()
		}
		return float64(txns.Load()) / el.Seconds(), errors.Join(errs...)
	}, nil
}

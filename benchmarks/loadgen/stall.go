package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Stall measurement: one closed-loop writer of single-row inserts runs
// while `ovs-appctl -t CTL ovsdb-server/compact` is triggered a few
// times; transaction latencies that overlap a compaction window are
// reported apart from the others. See benchmarks/RESULTS.md.

// stallPrefix prefixes the name of every Logical_Switch the stall writer
// inserts.
const stallPrefix = "stall-"

// StallOptions configure one stall measurement.
type StallOptions struct {
	Appctl      string // ovs-appctl executable
	Load        LoadOptions
	Compactions int           // compactions triggered (default 3)
	Gap         time.Duration // writer-only time before, between and after compactions (default 2 s)
	// Tail extends each window after ovs-appctl returns, to catch work a
	// server finishes in the background after replying (default 500 ms).
	Tail time.Duration
	// TxnTimeout bounds one transaction (default 60 s): a stall longer
	// than that fails the run.
	TxnTimeout time.Duration
	// Txn, when set, builds the writer's k-th transact params instead of
	// the default insert of one Logical_Switch into the OVN northbound
	// database; each must be a single-row insert.
	Txn func(k int) (json.RawMessage, error)
}

func (o *StallOptions) defaults() {
	if o.Compactions <= 0 {
		o.Compactions = 3
	}
	if o.Gap <= 0 {
		o.Gap = 2 * time.Second
	}
	if o.Tail < 0 {
		o.Tail = 0
	} else if o.Tail == 0 {
		o.Tail = 500 * time.Millisecond
	}
	if o.TxnTimeout <= 0 {
		o.TxnTimeout = 60 * time.Second
	}
}

// Span is a time interval [Start, End].
type Span struct{ Start, End time.Time }

// overlaps reports whether s and w share an instant.
func (s Span) overlaps(w Span) bool { return !s.End.Before(w.Start) && !w.End.Before(s.Start) }

// LatencySummary summarises a set of transaction latencies.
type LatencySummary struct {
	N         int     `json:"n"`
	P50Milli  float64 `json:"p50_ms"`
	P999Milli float64 `json:"p99_9_ms"`
	MaxMilli  float64 `json:"max_ms"`
}

// summarize returns the nearest-rank p50 and p99.9 and the maximum of
// lat (zeros for none). It sorts lat.
func summarize(lat []time.Duration) LatencySummary {
	if len(lat) == 0 {
		return LatencySummary{}
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration {
		rank := int(math.Ceil(p * float64(len(lat))))
		rank = min(max(rank, 1), len(lat))
		return lat[rank-1]
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return LatencySummary{N: len(lat), P50Milli: ms(q(0.50)), P999Milli: ms(q(0.999)), MaxMilli: ms(lat[len(lat)-1])}
}

// SplitByWindows summarises the latencies of txns that overlap any of
// windows (in) apart from the others (out).
func SplitByWindows(txns []Span, windows []Span) (in, out LatencySummary) {
	var li, lo []time.Duration
	for _, t := range txns {
		d := t.End.Sub(t.Start)
		hit := false
		for _, w := range windows {
			if t.overlaps(w) {
				hit = true
				break
			}
		}
		if hit {
			li = append(li, d)
		} else {
			lo = append(lo, d)
		}
	}
	return summarize(li), summarize(lo)
}

// StallResult is one stall measurement on one server.
type StallResult struct {
	Server string `json:"server"`
	Mode   string `json:"mode"` // "standalone" or "cluster"
	Rows   int    `json:"rows"` // rows loaded before the measurement
	// CompactMillis is how long each ovs-appctl compact call took.
	CompactMillis []float64 `json:"compact_ms"`
	// WindowMaxMillis is the longest txn overlapping each window.
	WindowMaxMillis []float64      `json:"window_max_ms"`
	During          LatencySummary `json:"during"`  // txns overlapping a window
	Outside         LatencySummary `json:"outside"` // the other txns
	DBFileBytes     int64          `json:"db_file_bytes,omitempty"`
}

// compactCmd runs `appctl -t ctl ovsdb-server/compact` and returns its
// output.
func compactCmd(ctx context.Context, appctl, ctl string) (string, error) {
	out, err := exec.CommandContext(ctx, appctl, "-t", ctl, "ovsdb-server/compact").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s -t %s ovsdb-server/compact: %v: %s", appctl, ctl, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// StallOn runs the writer against socket and triggers compactions through
// the unixctl socket ctl. The database must already be loaded.
func StallOn(ctx context.Context, socket, ctl string, o StallOptions) (windows []Span, txns []Span, compact []time.Duration, err error) {
	o.defaults()
	w, err := Dial(socket, 5*time.Second)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("writer: %w", err)
	}
	defer w.Close()
	wctx, stop := context.WithCancel(ctx)
	var (
		wg   sync.WaitGroup
		werr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; wctx.Err() == nil; k++ {
			var params json.RawMessage
			var err error
			if o.Txn != nil {
				params, err = o.Txn(k)
			} else {
				params, err = json.Marshal([]any{nbDB, map[string]any{
					"op": "insert", "table": "Logical_Switch",
					"row": map[string]any{"name": stallPrefix + strconv.Itoa(k)},
				}})
			}
			if err != nil {
				werr = err
				return
			}
			_ = w.SetDeadline(time.Now().Add(o.TxnTimeout))
			t0 := time.Now()
			res, err := w.Call("transact", params)
			t1 := time.Now()
			if err == nil {
				err = checkInsertResult(res, 1)
			}
			if err != nil {
				werr = fmt.Errorf("transact %d: %w", k, err)
				return
			}
			txns = append(txns, Span{t0, t1})
		}
	}()
	sleep := func(d time.Duration) bool {
		select {
		case <-time.After(d):
			return true
		case <-ctx.Done():
			return false
		}
	}
	for i := 0; i < o.Compactions && sleep(o.Gap); i++ {
		t0 := time.Now()
		_, cerr := compactCmd(ctx, o.Appctl, ctl)
		t1 := time.Now()
		if cerr != nil {
			err = cerr
			break
		}
		compact = append(compact, t1.Sub(t0))
		windows = append(windows, Span{t0, t1.Add(o.Tail)})
		logger().Info("compacted", "ctl", filepath.Base(ctl), "ms", t1.Sub(t0).Milliseconds())
	}
	if err == nil {
		sleep(o.Gap)
	}
	stop()
	wg.Wait()
	if err == nil {
		err = werr
	}
	if err == nil {
		err = ctx.Err()
	}
	return windows, txns, compact, err
}

// RunStallStandalone loads a fresh standalone server with o.Load and
// measures it.
func RunStallStandalone(ctx context.Context, srv ServerSpec, so StartOptions, tempDir string, o StallOptions) (StallResult, error) {
	res := StallResult{Server: srv.Name, Mode: "standalone", Rows: o.Load.Ports() + o.Load.Switches}
	so.Binary = srv.Binary
	so.Unixctl = true
	p, err := Start(ctx, tempDir, so)
	if err != nil {
		return res, fmt.Errorf("server %s: %w", srv.Name, err)
	}
	defer p.Stop()
	if err := LoadNB(p.Socket, o.Load); err != nil {
		return res, fmt.Errorf("server %s: %w", srv.Name, err)
	}
	windows, txns, compact, err := StallOn(ctx, p.Socket, filepath.Join(p.Dir, "ctl"), o)
	if err != nil {
		return res, fmt.Errorf("server %s: %w%s", srv.Name, err, p.tail())
	}
	res.fill(windows, txns, compact)
	if st, err := statSize(p.DBFile); err == nil {
		res.DBFileBytes = st
	}
	return res, nil
}

// RunStallCluster starts a cluster of srv (co gives tool, schema,
// members), loads it through the leader and measures with the writer and
// the compactions on the leader.
func RunStallCluster(ctx context.Context, srv ServerSpec, co ClusterOptions, o StallOptions) (StallResult, error) {
	res := StallResult{Server: srv.Name, Mode: "cluster", Rows: o.Load.Ports() + o.Load.Switches}
	co.Server = srv.Binary
	c, err := StartCluster(ctx, co)
	if err != nil {
		return res, fmt.Errorf("server %s: %w", srv.Name, err)
	}
	defer c.Stop()
	leader, err := c.WaitHealthy(ctx, 30*time.Second)
	if err != nil {
		return res, fmt.Errorf("server %s: %w", srv.Name, err)
	}
	if err := LoadNB(leader.Socket, o.Load); err != nil {
		return res, fmt.Errorf("server %s: %w", srv.Name, err)
	}
	windows, txns, compact, err := StallOn(ctx, leader.Socket, leader.Ctl, o)
	if err != nil {
		return res, fmt.Errorf("server %s: %w%s", srv.Name, err, c.tails())
	}
	res.fill(windows, txns, compact)
	if st, err := statSize(leader.DBFile); err == nil {
		res.DBFileBytes = st
	}
	return res, nil
}

func (r *StallResult) fill(windows, txns []Span, compact []time.Duration) {
	for _, d := range compact {
		r.CompactMillis = append(r.CompactMillis, float64(d)/float64(time.Millisecond))
	}
	r.During, r.Outside = SplitByWindows(txns, windows)
	for _, w := range windows {
		in, _ := SplitByWindows(txns, []Span{w})
		r.WindowMaxMillis = append(r.WindowMaxMillis, in.MaxMilli)
	}
}

// statSize returns the size of the file at path.
func statSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

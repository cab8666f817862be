package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// logger is resolved at call time so a default set by main applies.
func logger() *slog.Logger { return slog.Default().With("module", "loadgen") }

// Workload is one kind of transaction sent in a closed loop.
type Workload struct {
	Name       string
	RowsPerTxn int // number of insert operations per transaction
}

// DefaultWorkloads are the single-row and the 100-row insert transactions.
var DefaultWorkloads = []Workload{
	{Name: "insert1", RowsPerTxn: 1},
	{Name: "insert100", RowsPerTxn: 100},
}

// ServerSpec names a server binary under test.
type ServerSpec struct {
	Name   string // label in reports, e.g. "c" or "ours"
	Binary string
}

// Options configure a run.
type Options struct {
	Servers   []ServerSpec
	Clients   []int // concurrent client counts, e.g. 1, 8, 32
	Workloads []Workload
	Duration  time.Duration // measured time per (server, workload, clients)
	Warmup    time.Duration // unmeasured time before each measurement
	Tool      string        // ovsdb-tool path
	// SchemaPath is the schema file; DBName is read from it. Rows are
	// inserted into Table with the string column Column set.
	SchemaPath string
	Table      string
	Column     string
	Unixctl    bool
	TempDir    string // parent of the per-server temp dirs ("" = os.TempDir())
	// Rounds repeats each cell, alternating the servers, and reports the
	// run with the median throughput (default 1).
	Rounds int
}

// Result is the measurement of one (server, workload, clients) cell.
type Result struct {
	Server     string  `json:"server"`
	Workload   string  `json:"workload"`
	RowsPerTxn int     `json:"rows_per_txn"`
	Clients    int     `json:"clients"`
	Seconds    float64 `json:"seconds"`
	Txns       int64   `json:"txns"`
	Rows       int64   `json:"rows"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	TxnPerSec  float64 `json:"txn_per_s"`
	RowsPerSec float64 `json:"rows_per_s"`
	P50Micros  float64 `json:"p50_us"`
	P99Micros  float64 `json:"p99_us"`
	MeanMicros float64 `json:"mean_us"`
	// ServerCPU is the server's user+system CPU seconds during the
	// measurement; on a shared machine it shows how much the server got.
	ServerCPU float64 `json:"server_cpu_s"`
	RSSKiB    int64   `json:"server_rss_kib"`
	// Rounds is the number of runs of this cell; with more than one, the
	// figures are those of the median-throughput run and TxnPerSecRuns
	// lists every run's throughput in run order.
	Rounds        int       `json:"rounds"`
	TxnPerSecRuns []float64 `json:"txn_per_s_runs,omitempty"`
}

// SchemaName reads the "name" member of a schema file.
func SchemaName(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var s struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if s.Name == "" {
		return "", fmt.Errorf("%s: schema has no name", path)
	}
	return s.Name, nil
}

// Run measures every server for every workload and client count (for each
// workload and client count, the servers one after the other), starting a fresh server with a fresh database for each
// cell. It stops at the first failure to start a server; transaction
// errors are counted in the results instead.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if len(o.Servers) == 0 || len(o.Clients) == 0 || len(o.Workloads) == 0 {
		return nil, errors.New("loadgen: no servers, clients or workloads")
	}
	dbName, err := SchemaName(o.SchemaPath)
	if err != nil {
		return nil, err
	}
	var results []Result
	// Servers are innermost so that each pair of cells to compare runs
	// back to back: on a shared machine the load drifts over minutes.
	rounds := max(o.Rounds, 1)
	for _, wl := range o.Workloads {
		for _, n := range o.Clients {
			runs := make([][]Result, len(o.Servers))
			for range rounds {
				for si, srv := range o.Servers {
					if err := ctx.Err(); err != nil {
						return results, err
					}
					r, err := runCell(ctx, o, dbName, srv, wl, n)
					if err != nil {
						return results, err
					}
					logger().Info("measured", "server", r.Server, "workload", r.Workload,
						"clients", r.Clients, "txn_per_s", int64(r.TxnPerSec), "p50_us", int64(r.P50Micros),
						"p99_us", int64(r.P99Micros), "errors", r.Errors)
					runs[si] = append(runs[si], r)
				}
			}
			for _, rs := range runs {
				results = append(results, MedianRun(rs))
			}
		}
	}
	return results, nil
}

// buildParams encodes the transact params of one transaction.
func buildParams(dbName, table, column, prefix string, rows int) (json.RawMessage, error) {
	params := make([]any, 0, rows+1)
	params = append(params, dbName)
	for i := range rows {
		params = append(params, map[string]any{
			"op":    "insert",
			"table": table,
			"row":   map[string]any{column: prefix + "-" + strconv.Itoa(i)},
		})
	}
	return json.Marshal(params)
}

type clientStats struct {
	txns, errs int64
	firstErr   error
	lat        []time.Duration
}

func runCell(ctx context.Context, o Options, dbName string, srv ServerSpec, wl Workload, n int) (Result, error) {
	res := Result{Server: srv.Name, Workload: wl.Name, RowsPerTxn: wl.RowsPerTxn, Clients: n}
	p, err := Start(ctx, o.TempDir, StartOptions{
		Binary: srv.Binary, Tool: o.Tool, SchemaPath: o.SchemaPath, Unixctl: o.Unixctl,
	})
	if err != nil {
		return res, fmt.Errorf("server %s: %w", srv.Name, err)
	}
	defer p.Stop()
	logger().Debug("started", "server", srv.Name, "pid", p.PID(), "dir", p.Dir)

	clients := make([]*Client, n)
	defer func() {
		for _, c := range clients {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	params := make([]json.RawMessage, n)
	for i := range n {
		c, err := Dial(p.Socket, 5*time.Second)
		if err != nil {
			return res, fmt.Errorf("server %s: connect: %w", srv.Name, err)
		}
		clients[i] = c
		params[i], err = buildParams(dbName, o.Table, o.Column, fmt.Sprintf("lg-%d", i), wl.RowsPerTxn)
		if err != nil {
			return res, err
		}
	}

	var cpu0 time.Duration
	lp := loop{
		clients: clients, params: params, rowsPerTxn: wl.RowsPerTxn, warmup: o.Warmup, duration: o.Duration,
		onMeasure: func() { cpu0, _ = p.CPUTime() }, countWarmupDrops: true,
	}
	stats, measured := lp.run(ctx)
	if cpu1, err := p.CPUTime(); err == nil {
		res.ServerCPU = (cpu1 - cpu0).Seconds()
	}
	if rss, err := p.RSSKiB(); err == nil {
		res.RSSKiB = rss
	}
	res.summarize(stats, measured, wl.RowsPerTxn)
	if p.Exited() {
		return res, fmt.Errorf("server %s exited during the run%s", srv.Name, p.tail())
	}
	return res, nil
}

// loop drives clients[i] with params[i] in closed loops: each client
// sends its transaction, waits for the reply and sends it again, for
// warmup+duration. Replies are checked to hold rowsPerTxn successful
// inserts.
type loop struct {
	clients    []*Client
	params     []json.RawMessage
	rowsPerTxn int
	warmup     time.Duration
	duration   time.Duration
	// onMeasure runs once, when the first call of the measured window
	// starts (to sample the servers' CPU time).
	onMeasure func()
	// countWarmupDrops counts a connection-level failure during warm-up
	// as an error; otherwise warm-up failures are not counted. Either way
	// such a failure ends that client.
	countWarmupDrops bool
}

// run runs the loops and returns each client's measured figures and the
// measured time (at least 1 ns). Failed operations (error replies) are
// counted and the client goes on; a connection-level failure ends the
// client.
func (l loop) run(ctx context.Context) ([]clientStats, time.Duration) {
	measureFrom := time.Now().Add(l.warmup)
	deadline := measureFrom.Add(l.duration)
	// Bound every call so a stuck server cannot hang the harness.
	ioDeadline := deadline.Add(30 * time.Second)
	var measureOnce sync.Once
	stats := make([]clientStats, len(l.clients))
	var wg sync.WaitGroup
	for i := range l.clients {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, st := l.clients[i], &stats[i]
			_ = c.SetDeadline(ioDeadline)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				measured := !t0.Before(measureFrom)
				if measured {
					measureOnce.Do(l.onMeasure)
				}
				result, err := c.Call("transact", l.params[i])
				if err == nil {
					err = checkInsertResult(result, l.rowsPerTxn)
				}
				if err != nil {
					dropped := !errors.Is(err, errOpFailed)
					if measured || (dropped && l.countWarmupDrops) {
						st.errs++
						if st.firstErr == nil {
							st.firstErr = err
						}
					}
					if dropped {
						return // connection-level failure
					}
					continue
				}
				if measured {
					st.txns++
					st.lat = append(st.lat, time.Since(t0))
				}
			}
		}(i)
	}
	wg.Wait()
	return stats, max(time.Since(measureFrom), time.Nanosecond)
}

// summarize adds up the clients' figures into res and derives the rates
// and latencies over the measured time.
func (res *Result) summarize(stats []clientStats, measured time.Duration, rowsPerTxn int) {
	var all []time.Duration
	for i := range stats {
		res.Txns += stats[i].txns
		res.Errors += stats[i].errs
		if stats[i].firstErr != nil && res.FirstError == "" {
			res.FirstError = stats[i].firstErr.Error()
		}
		all = append(all, stats[i].lat...)
	}
	res.Rows = res.Txns * int64(rowsPerTxn)
	res.Seconds = measured.Seconds()
	res.TxnPerSec = float64(res.Txns) / res.Seconds
	res.RowsPerSec = float64(res.Rows) / res.Seconds
	res.P50Micros, res.P99Micros, res.MeanMicros = latencyStats(all)
}

// latencyStats returns p50, p99 and mean in microseconds (nearest-rank
// percentiles); zeros for no samples. It sorts lat.
func latencyStats(lat []time.Duration) (p50, p99, mean float64) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return us(percentile(lat, 50)), us(percentile(lat, 99)), us(sum) / float64(len(lat))
}

// percentile returns the nearest-rank p-th percentile of sorted samples.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

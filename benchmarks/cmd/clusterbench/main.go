package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
)

func logger() *slog.Logger { return slog.Default().With("module", "clusterbench") }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "clusterbench:", err)
		os.Exit(1)
	}
}

// report is everything measured, per server kind.
type report struct {
	Load      []loadgen.Result                   `json:"load"`
	Failovers map[string][]loadgen.FailoverRound `json:"failovers"`
}

func run() error {
	var f loadgen.Flags
	f.Register(flag.CommandLine)
	var (
		duration  = flag.Duration("duration", 5*time.Second, "measured time per cluster and client count")
		warmup    = flag.Duration("warmup", 500*time.Millisecond, "unmeasured warm-up before each measurement")
		clientsF  = flag.String("clients", "1,32", "comma-separated concurrent client counts")
		rounds    = flag.Int("rounds", 1, "repeat the load cells (alternating C and ours, fresh clusters) and report the median-throughput run")
		failovers = flag.Int("failovers", 5, "leader kills per cluster kind (per round)")
		election  = flag.Int("election-timer", 1000, "election timer in ms for both clusters")
		oursTool  = flag.String("ours-tool", "", "our ovsdb-tool (default: go build ./cmd/ovsdb-tool)")
		cTool     = flag.String("c-tool", "", "C ovsdb-tool (default: from PATH)")
		table     = flag.String("table", "Logical_Switch", "table to insert into")
		column    = flag.String("column", "name", "string column set in inserted rows")
		via       = flag.String("via", "spread", "members the clients connect to: spread (all), leader, follower (one)")
	)
	flag.Parse()
	if err := f.Setup(); err != nil {
		return err
	}
	clients, err := loadgen.ParseCounts(*clientsF)
	if err != nil {
		return fmt.Errorf("-clients: %w", err)
	}
	tmp, err := os.MkdirTemp("", "clusterbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	kinds, err := f.ClusterKinds(tmp, *cTool, *oursTool)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := report{Failovers: map[string][]loadgen.FailoverRound{}}
	runs := map[string][]loadgen.Result{} // by kind and client count
	var runErr error
outer:
	for r := range max(*rounds, 1) {
		for _, k := range kinds {
			c, err := loadgen.StartCluster(ctx, loadgen.ClusterOptions{
				Server: k.Server, Tool: k.Tool, SchemaPath: f.Schema,
				ElectionTimerMS: *election, TempDir: tmp,
			})
			if err != nil {
				runErr = fmt.Errorf("%s: %w", k.Name, err)
				break outer
			}
			logger().Info("cluster up", "server", k.Name, "round", r, "pids", pids(c))
			on, err := c.Pick(ctx, *via, time.Minute)
			if err != nil {
				c.Stop()
				runErr = fmt.Errorf("%s: -via %s: %w", k.Name, *via, err)
				break outer
			}
			for _, n := range clients {
				res, err := loadgen.ClusterLoadOn(ctx, c, on, k.Name, *table, *column, n, *warmup, *duration)
				if err != nil {
					c.Stop()
					runErr = err
					break outer
				}
				logger().Info("measured", "server", k.Name, "clients", n, "txn_per_s", int64(res.TxnPerSec),
					"p50_us", int64(res.P50Micros), "p99_us", int64(res.P99Micros), "errors", res.Errors)
				key := k.Name + "/" + strconv.Itoa(n)
				runs[key] = append(runs[key], res)
			}
			for i := range *failovers {
				fr, err := c.Failover(ctx, loadgen.FailoverOptions{Table: *table, Column: *column})
				if err != nil {
					c.Stop()
					runErr = fmt.Errorf("%s failover %d: %w", k.Name, i, err)
					break outer
				}
				logger().Info("failover", "server", k.Name, "round", i, "recovery_ms", fr.Recovery.Milliseconds(), "errors", fr.Errors)
				rep.Failovers[k.Name] = append(rep.Failovers[k.Name], fr)
			}
			c.Stop()
		}
	}
	for _, k := range kinds {
		for _, n := range clients {
			if rs := runs[k.Name+"/"+strconv.Itoa(n)]; len(rs) > 0 {
				rep.Load = append(rep.Load, loadgen.MedianRun(rs))
			}
		}
	}
	if f.JSON {
		if err := loadgen.WriteJSON(os.Stdout, rep); err != nil {
			return err
		}
	} else {
		fmt.Printf("3-member clusters, election timer %d ms, schema %s, table %s, %v per cell (warm-up %v), %d round(s)\n",
			*election, f.Schema, *table, *duration, *warmup, max(*rounds, 1))
		for _, k := range kinds {
			fmt.Printf("  %s: %s (tool %s)\n", k.Name, k.Server, k.Tool)
		}
		writeReport(os.Stdout, rep, clients)
	}
	return runErr
}

func pids(c *loadgen.Cluster) []int {
	var out []int
	for _, m := range c.Members {
		out = append(out, m.PID())
	}
	return out
}

// writeReport prints markdown tables: load per client count with ours/C
// ratios, then failover rounds and medians.
func writeReport(w io.Writer, rep report, clients []int) {
	byKey := map[string]loadgen.Result{}
	for _, r := range rep.Load {
		byKey[r.Server+"/"+strconv.Itoa(r.Clients)] = r
	}
	fmt.Fprintln(w, "\n| clients | server | txn/s | p50 ms | p99 ms | server CPU s | CPU us/txn | errors | runs txn/s |")
	fmt.Fprintln(w, "|--:|---|--:|--:|--:|--:|--:|--:|---|")
	for _, n := range clients {
		for _, k := range []string{"c", "ours"} {
			r, ok := byKey[k+"/"+strconv.Itoa(n)]
			if !ok {
				continue
			}
			var rs []string
			for _, x := range r.TxnPerSecRuns {
				rs = append(rs, strconv.Itoa(int(x)))
			}
			fmt.Fprintf(w, "| %d | %s | %.0f | %.2f | %.2f | %.2f | %.0f | %d | %s |\n", n, k, r.TxnPerSec,
				r.P50Micros/1000, r.P99Micros/1000, r.ServerCPU, usPerTxn(r), r.Errors, strings.Join(rs, " "))
		}
		c, okc := byKey["c/"+strconv.Itoa(n)]
		o, oko := byKey["ours/"+strconv.Itoa(n)]
		if okc && oko {
			fmt.Fprintf(w, "| %d | ours/C | %s | %s | %s | | %s | | |\n", n, loadgen.Ratio(o.TxnPerSec, c.TxnPerSec),
				loadgen.Ratio(o.P50Micros, c.P50Micros), loadgen.Ratio(o.P99Micros, c.P99Micros), loadgen.Ratio(usPerTxn(o), usPerTxn(c)))
		}
	}
	fmt.Fprintln(w, "\n| server | failover ms per round | median ms | errors |")
	fmt.Fprintln(w, "|---|---|--:|--:|")
	medians := map[string]time.Duration{}
	for _, k := range []string{"c", "ours"} {
		frs := rep.Failovers[k]
		if len(frs) == 0 {
			continue
		}
		var ds []time.Duration
		var ms []string
		var errs int64
		for _, f := range frs {
			ds = append(ds, f.Recovery)
			ms = append(ms, strconv.FormatInt(f.Recovery.Milliseconds(), 10))
			errs += f.Errors
		}
		medians[k] = loadgen.MedianDuration(ds)
		fmt.Fprintf(w, "| %s | %s | %d | %d |\n", k, strings.Join(ms, " "), medians[k].Milliseconds(), errs)
	}
	if c, o := medians["c"], medians["ours"]; c > 0 && o > 0 {
		fmt.Fprintf(w, "| ours/C | | %s | |\n", loadgen.Ratio(float64(o), float64(c)))
	}
	for _, k := range []string{"c", "ours"} {
		for _, f := range rep.Failovers[k] {
			if f.First != "" {
				fmt.Fprintf(w, "\nfirst failover write error (%s): %.300s\n", k, f.First)
				break
			}
		}
	}
}

// usPerTxn is the CPU of the three members together per committed
// transaction, in microseconds.
func usPerTxn(r loadgen.Result) float64 {
	if r.Txns == 0 {
		return 0
	}
	return r.ServerCPU * 1e6 / float64(r.Txns)
}

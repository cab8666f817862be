// Command freshbench measures read freshness on 3-member clusters, C and
// ours in one run: the time from a write acknowledged by the leader until
// a read on each follower returns it, idle and under insert load
// (loadgen.ReadFreshness).
//
//	go run ./benchmarks/cmd/freshbench [-samples 200] [-load-clients 16]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "freshbench:", err)
		os.Exit(1)
	}
}

func run() error {
	var f loadgen.Flags
	f.Register(flag.CommandLine)
	var (
		samples  = flag.Int("samples", 200, "probe writes per phase")
		loadN    = flag.Int("load-clients", 16, "insert clients over all members during the load phase (-1: idle only)")
		election = flag.Int("election-timer", 1000, "election timer in ms for both clusters")
		oursTool = flag.String("ours-tool", "", "our ovsdb-tool (default: go build ./cmd/ovsdb-tool)")
		cTool    = flag.String("c-tool", "", "C ovsdb-tool (default: from PATH)")
		table    = flag.String("table", "Logical_Switch", "table to insert into")
		column   = flag.String("column", "name", "string column set in inserted rows")
	)
	flag.Parse()
	if err := f.Setup(); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "freshbench-")
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
	var all []loadgen.FreshnessResult
	for _, k := range kinds {
		c, err := loadgen.StartCluster(ctx, loadgen.ClusterOptions{Server: k.Server, Tool: k.Tool,
			SchemaPath: f.Schema, ElectionTimerMS: *election, TempDir: tmp})
		if err != nil {
			return fmt.Errorf("%s: %w", k.Name, err)
		}
		rs, err := loadgen.ReadFreshness(ctx, c, k.Name, loadgen.FreshnessOptions{Table: *table, Column: *column,
			Samples: *samples, LoadClients: *loadN})
		c.Stop()
		if err != nil {
			return err
		}
		all = append(all, rs...)
	}
	if f.JSON {
		return loadgen.WriteJSON(os.Stdout, all)
	}
	fmt.Printf("3-member clusters, election timer %d ms, schema %s, table %s, %d probes per phase, %d load clients\n",
		*election, f.Schema, *table, *samples, *loadN)
	writeReport(os.Stdout, all)
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }

// writeReport prints one markdown row per server and phase.
func writeReport(w io.Writer, rs []loadgen.FreshnessResult) {
	fmt.Fprintln(w, "\n| phase | server | samples | p50 ms | p90 ms | p99 ms | max ms | read RTT p50 ms | reads per sample | load txn/s |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, phase := range []string{"idle", "load"} {
		for _, r := range rs {
			if r.Phase != phase {
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s | %.1f | %.0f |\n", r.Phase, r.Server, r.Samples,
				ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), ms(r.ReadP50), r.Polls, r.LoadTxns)
		}
	}
}

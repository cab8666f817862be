package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "stallbench:", err)
		os.Exit(1)
	}
}

func run() error {
	var f loadgen.Flags
	f.Register(flag.CommandLine)
	var (
		mode        = flag.String("mode", "standalone,cluster", "comma-separated: standalone, cluster")
		compactions = flag.Int("compactions", 3, "compactions triggered per server")
		gap         = flag.Duration("gap", 2*time.Second, "writer-only time before, between and after compactions")
		tail        = flag.Duration("tail", 500*time.Millisecond, "time after ovs-appctl returns still counted as the window")
		switches    = flag.Int("switches", 50, "Logical_Switch rows loaded first")
		ports       = flag.Int("ports", 1000, "Logical_Switch_Port rows per switch")
		timer       = flag.Int("election-timer", 0, "cluster: --election-timer ms (0 = tool default)")
		toolPath    = flag.String("tool", "", "C ovsdb-tool (default: from PATH)")
		oursTool    = flag.String("ours-tool", "", "cluster: our ovsdb-tool (default: go build ./cmd/ovsdb-tool)")
		appctlPath  = flag.String("appctl", "", "ovs-appctl (default: from PATH)")
	)
	flag.Parse()
	if err := f.Setup(); err != nil {
		return err
	}
	log := slog.Default().With("module", "stallbench")
	modes, err := parseModes(*mode)
	if err != nil {
		return err
	}
	tool, err := loadgen.ResolveTool(*toolPath, "ovsdb-tool")
	if err != nil {
		return err
	}
	appctl, err := loadgen.ResolveTool(*appctlPath, "ovs-appctl")
	if err != nil {
		return err
	}
	tmp, servers, cleanup, err := f.TempServers("stallbench-")
	if err != nil {
		return err
	}
	defer cleanup()
	// A cluster's files are created by the tool of the same kind.
	clusterTool := map[string]string{"c": tool}
	if slices.Contains(modes, "cluster") {
		if f.Runs("ours") {
			t, err := loadgen.BuildOurs(*oursTool, tmp, "ovsdb-tool-ours", "./cmd/ovsdb-tool")
			if err != nil {
				return err
			}
			clusterTool["ours"] = t
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	so := loadgen.StartOptions{Tool: tool, SchemaPath: f.Schema, StartTimeout: 30 * time.Second}
	o := loadgen.StallOptions{
		Appctl: appctl, Compactions: *compactions, Gap: *gap, Tail: *tail,
		Load: loadgen.LoadOptions{Switches: *switches, PortsPerSwitch: *ports},
	}
	var results []loadgen.StallResult
	for _, m := range modes {
		for _, srv := range servers {
			var res loadgen.StallResult
			if m == "standalone" {
				res, err = loadgen.RunStallStandalone(ctx, srv, so, tmp, o)
			} else {
				res, err = loadgen.RunStallCluster(ctx, srv, loadgen.ClusterOptions{
					Tool: clusterTool[srv.Name], SchemaPath: f.Schema, ElectionTimerMS: *timer, TempDir: tmp,
				}, o)
			}
			if err != nil {
				return err
			}
			log.Info("stall", "mode", m, "server", srv.Name, "during_max_ms", res.During.MaxMilli,
				"outside_max_ms", res.Outside.MaxMilli, "compact_ms", res.CompactMillis)
			results = append(results, res)
		}
	}
	if f.JSON {
		return loadgen.WriteJSON(os.Stdout, results)
	}
	fmt.Printf("schema %s, %d compactions per server, gap %v, tail %v\n", f.Schema, *compactions, *gap, *tail)
	loadgen.PrintServers(os.Stdout, servers)
	return writeTable(os.Stdout, results)
}

func parseModes(s string) ([]string, error) {
	var out []string
	for _, m := range strings.Split(s, ",") {
		m = strings.TrimSpace(m)
		if m != "standalone" && m != "cluster" {
			return nil, fmt.Errorf("-mode: unknown %q", m)
		}
		out = append(out, m)
	}
	return out, nil
}

func writeTable(w io.Writer, rs []loadgen.StallResult) error {
	fmt.Fprintln(w, "\nsingle-row insert latency (ms), closed loop, during vs outside compaction windows")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tserver\trows\tcompact ms\tmax per window\tn in\tp50 in\tp99.9 in\tmax in\tn out\tp50 out\tp99.9 out\tmax out\t")
	for _, r := range rs {
		var cs []string
		for _, c := range r.CompactMillis {
			cs = append(cs, fmt.Sprintf("%.0f", c))
		}
		var ws []string
		for _, m := range r.WindowMaxMillis {
			ws = append(ws, fmt.Sprintf("%.0f", m))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%.2f\t%.2f\t%.2f\t%d\t%.2f\t%.2f\t%.2f\t\n", r.Mode, r.Server, r.Rows,
			strings.Join(cs, " "), strings.Join(ws, " "), r.During.N, r.During.P50Milli, r.During.P999Milli, r.During.MaxMilli,
			r.Outside.N, r.Outside.P50Milli, r.Outside.P999Milli, r.Outside.MaxMilli)
	}
	return tw.Flush()
}

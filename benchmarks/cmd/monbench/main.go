package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "monbench:", err)
		os.Exit(1)
	}
}

type report struct {
	Fanout  []loadgen.FanoutResult  `json:"fanout,omitempty"`
	Initial []loadgen.InitialResult `json:"initial,omitempty"`
}

func run() error {
	var f loadgen.Flags
	f.Register(flag.CommandLine)
	var (
		mode     = flag.String("mode", "fanout,initial", "comma-separated: fanout, initial (initial includes RSS)")
		clientsF = flag.String("clients", "100,1000", "fan-out monitoring client counts")
		txns     = flag.Int("txns", 50, "measured fan-out transactions per round")
		warm     = flag.Int("warmup", 5, "unmeasured fan-out transactions before them")
		switches = flag.Int("switches", 50, "initial: Logical_Switch rows")
		ports    = flag.Int("ports", 1000, "initial: Logical_Switch_Port rows per switch")
		runs     = flag.Int("runs", 5, "initial: fresh monitor clients timed per round")
		settle   = flag.Duration("settle", time.Second, "wait before reading RSS")
		rounds   = flag.Int("rounds", 3, "rounds per measurement, servers alternating; medians reported")
		toolPath = flag.String("tool", "", "C ovsdb-tool (default: from PATH)")
	)
	flag.Parse()
	if err := f.Setup(); err != nil {
		return err
	}
	log := slog.Default().With("module", "monbench")

	clients, err := loadgen.ParseCounts(*clientsF)
	if err != nil {
		return fmt.Errorf("-clients: %w", err)
	}
	modes := map[string]bool{}
	for _, m := range strings.Split(*mode, ",") {
		m = strings.TrimSpace(m)
		if m != "fanout" && m != "initial" {
			return fmt.Errorf("-mode: unknown %q", m)
		}
		modes[m] = true
	}
	lim, err := loadgen.RaiseFDLimit()
	if err != nil {
		return fmt.Errorf("raising RLIMIT_NOFILE: %w", err)
	}
	for _, n := range clients {
		if uint64(n)+64 > lim {
			return fmt.Errorf("RLIMIT_NOFILE %d is too low for %d clients", lim, n)
		}
	}
	tool, err := loadgen.ResolveTool(*toolPath, "ovsdb-tool")
	if err != nil {
		return err
	}
	tmp, servers, cleanup, err := f.TempServers("monbench-")
	if err != nil {
		return err
	}
	defer cleanup()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	so := loadgen.StartOptions{Tool: tool, SchemaPath: f.Schema, Unixctl: true, StartTimeout: 30 * time.Second}
	nr := max(*rounds, 1)

	var rep report
	if modes["fanout"] {
		for _, n := range clients {
			per := make([][]loadgen.FanoutResult, len(servers))
			for r := range nr {
				for si, srv := range servers {
					res, err := loadgen.RunFanout(ctx, srv, loadgen.FanoutOptions{
						Start: so, TempDir: tmp, Clients: n, Txns: *txns, Warmup: *warm,
					})
					if err != nil {
						return err
					}
					log.Info("fanout", "server", srv.Name, "clients", n, "round", r,
						"p50_us", int(res.P50Micros), "p99_us", int(res.P99Micros), "mean_us", int(res.MeanMicros))
					per[si] = append(per[si], res)
				}
			}
			for _, rs := range per {
				rep.Fanout = append(rep.Fanout, loadgen.MedianFanout(rs))
			}
		}
	}
	if modes["initial"] {
		per := make([][]loadgen.InitialResult, len(servers))
		for r := range nr {
			for si, srv := range servers {
				res, err := loadgen.RunInitial(ctx, srv, loadgen.InitialOptions{
					Start: so, TempDir: tmp, Runs: *runs, Settle: *settle,
					Load: loadgen.LoadOptions{Switches: *switches, PortsPerSwitch: *ports},
				})
				if err != nil {
					return err
				}
				log.Info("initial", "server", srv.Name, "round", r, "runs_ms", res.RunsMillis,
					"rss_loaded_kib", res.RSSLoadedKiB, "rss_reopened_kib", res.RSSReopenedKiB)
				per[si] = append(per[si], res)
			}
		}
		for _, rs := range per {
			rep.Initial = append(rep.Initial, loadgen.MedianInitial(rs))
		}
	}
	if f.JSON {
		return loadgen.WriteJSON(os.Stdout, rep)
	}
	fmt.Printf("%d round(s), servers alternating, medians over rounds; schema %s\n", nr, f.Schema)
	loadgen.PrintServers(os.Stdout, servers)
	return writeTables(os.Stdout, rep, *txns)
}

func writeTables(w io.Writer, rep report, txns int) error {
	if len(rep.Fanout) > 0 {
		fmt.Fprintf(w, "\nfanout (%d single-row inserts per round; ms from transact sent to last client's update)\n", txns)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "clients\tserver\tp50 ms\tp99 ms\tmean ms\tcpu s\tharness cpu s\trss MiB\tours/c p50\tours/c mean\t")
		byN := map[int]map[string]loadgen.FanoutResult{}
		var order []int
		for _, r := range rep.Fanout {
			if byN[r.Clients] == nil {
				byN[r.Clients] = map[string]loadgen.FanoutResult{}
				order = append(order, r.Clients)
			}
			byN[r.Clients][r.Server] = r
		}
		for _, n := range order {
			c, hasC := byN[n]["c"]
			for _, s := range []string{"c", "ours"} {
				r, ok := byN[n][s]
				if !ok {
					continue
				}
				rp50, rmean := "", ""
				if s == "ours" && hasC {
					rp50, rmean = loadgen.Ratio(r.P50Micros, c.P50Micros), loadgen.Ratio(r.MeanMicros, c.MeanMicros)
				}
				fmt.Fprintf(tw, "%d\t%s\t%.3f\t%.3f\t%.3f\t%.2f\t%.2f\t%.1f\t%s\t%s\t\n", n, s, r.P50Micros/1000,
					r.P99Micros/1000, r.MeanMicros/1000, r.ServerCPU, r.HarnessCPU, float64(r.RSSKiB)/1024, rp50, rmean)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(rep.Initial) > 0 {
		fmt.Fprintf(w, "\ninitial monitor_cond on Logical_Switch_Port (%d ports) and RSS\n", rep.Initial[0].Ports)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "server\tfirst ms\tmedian ms\treply MB\tload s\tRSS loaded MiB\tRSS after mon MiB\tRSS reopened MiB\tdb file MB\t")
		var c *loadgen.InitialResult
		for i, r := range rep.Initial {
			if r.Server == "c" {
				c = &rep.Initial[i]
			}
			fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.2f\t%.2f\t%.1f\t%.1f\t%.1f\t%.2f\t\n", r.Server, r.FirstMilli, r.MedianMilli,
				float64(r.ReplyBytes)/1e6, r.LoadSeconds, float64(r.RSSLoadedKiB)/1024, float64(r.RSSMonitorKiB)/1024,
				float64(r.RSSReopenedKiB)/1024, float64(r.DBFileBytes)/1e6)
		}
		for _, r := range rep.Initial {
			if r.Server == "ours" && c != nil {
				fmt.Fprintf(tw, "ours/c\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
					loadgen.Ratio(r.FirstMilli, c.FirstMilli), loadgen.Ratio(r.MedianMilli, c.MedianMilli),
					loadgen.Ratio(float64(r.ReplyBytes), float64(c.ReplyBytes)), loadgen.Ratio(r.LoadSeconds, c.LoadSeconds),
					loadgen.Ratio(float64(r.RSSLoadedKiB), float64(c.RSSLoadedKiB)), loadgen.Ratio(float64(r.RSSMonitorKiB), float64(c.RSSMonitorKiB)),
					loadgen.Ratio(float64(r.RSSReopenedKiB), float64(c.RSSReopenedKiB)), loadgen.Ratio(float64(r.DBFileBytes), float64(c.DBFileBytes)))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

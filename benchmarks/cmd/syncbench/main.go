package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "syncbench:", err)
		os.Exit(1)
	}
}

type report struct {
	Lag     []loadgen.LagResult         `json:"lag,omitempty"`
	Initial []loadgen.InitialSyncResult `json:"initial,omitempty"`
}

func run() error {
	var f loadgen.Flags
	f.Register(flag.CommandLine)
	var (
		mode   = flag.String("mode", "lag,initial", "comma-separated: lag, initial")
		pairsF = flag.String("pairs", "c->c,ours->ours,c->ours,ours->c,c->none,ours->none",
			"ACTIVE->BACKUP pairings; ACTIVE->none: the active server alone (lag mode: its CPU at the rate without a backup)")
		rate     = flag.Int("rate", 1000, "lag: transactions per second")
		duration = flag.Duration("duration", 20*time.Second, "lag: measured time per run")
		warmup   = flag.Duration("warmup", 2*time.Second, "lag: paced, unmeasured time before it")
		switches = flag.Int("switches", 500, "initial: Logical_Switch rows")
		ports    = flag.Int("ports", 100, "initial: Logical_Switch_Port rows per switch")
		rounds   = flag.Int("rounds", 3, "runs per measurement, pairings alternating; medians reported")
		toolPath = flag.String("tool", "", "C ovsdb-tool (default: from PATH)")
	)
	flag.Parse()
	if err := f.Setup(); err != nil {
		return err
	}
	log := slog.Default().With("module", "syncbench")
	modes := map[string]bool{}
	for _, m := range strings.Split(*mode, ",") {
		m = strings.TrimSpace(m)
		if m != "lag" && m != "initial" {
			return fmt.Errorf("-mode: unknown %q", m)
		}
		modes[m] = true
	}
	tool, err := loadgen.ResolveTool(*toolPath, "ovsdb-tool")
	if err != nil {
		return err
	}
	tmp, servers, cleanup, err := f.TempServers("syncbench-")
	if err != nil {
		return err
	}
	defer cleanup()
	byName := map[string]loadgen.ServerSpec{}
	for _, s := range servers {
		byName[s.Name] = s
	}
	var pairs []loadgen.SyncPair
	for _, p := range strings.Split(*pairsF, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(p), "->")
		if !ok {
			return fmt.Errorf("-pairs: %q is not ACTIVE->BACKUP", p)
		}
		sa, okA := byName[a]
		sb, okB := byName[b]
		if b == "none" {
			sb, okB = loadgen.ServerSpec{}, true
		}
		if !okA || !okB {
			continue // not selected by -only
		}
		pairs = append(pairs, loadgen.SyncPair{Active: sa, Backup: sb})
	}
	if len(pairs) == 0 {
		return fmt.Errorf("no pairing selected")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	so := loadgen.StartOptions{Tool: tool, SchemaPath: f.Schema, Unixctl: true, StartTimeout: 30 * time.Second}
	nr := max(*rounds, 1)

	var rep report
	if modes["lag"] {
		per := make([][]loadgen.LagResult, len(pairs))
		for r := range nr {
			for i, p := range pairs {
				res, err := loadgen.RunLag(ctx, p, loadgen.LagOptions{Start: so, TempDir: tmp, Rate: *rate,
					Duration: *duration, Warmup: *warmup})
				if err != nil {
					return fmt.Errorf("lag %s: %w", p.Name(), err)
				}
				log.Info("lag", "pair", p.Name(), "round", r, "p50_us", int(res.P50Micros), "p99_us", int(res.P99Micros),
					"rate", int(res.Rate), "active_core", res.ActiveCore, "backup_core", res.BackupCore)
				per[i] = append(per[i], res)
			}
		}
		for _, rs := range per {
			rep.Lag = append(rep.Lag, medianLag(rs))
		}
	}
	if modes["initial"] {
		load := loadgen.LoadOptions{Switches: *switches, PortsPerSwitch: *ports}
		// One loaded active server per active kind; the backups of the
		// pairings with that active alternate on it.
		per := map[string][]loadgen.InitialSyncResult{}
		var actives []string
		for _, p := range pairs {
			if !contains(actives, p.Active.Name) {
				actives = append(actives, p.Active.Name)
			}
		}
		for _, an := range actives {
			if !hasBackup(pairs, an) {
				continue
			}
			a, err := loadgen.StartLoadedActive(ctx, byName[an], so, tmp, load)
			if err != nil {
				return err
			}
			log.Info("loaded", "active", an, "ports", a.Ports, "load_s", a.LoadSeconds)
			for r := range nr {
				for _, p := range pairs {
					if p.Active.Name != an || p.Backup.Binary == "" {
						continue
					}
					res, err := loadgen.RunInitialSync(ctx, a, p.Backup, so, tmp)
					if err != nil {
						a.Stop()
						return fmt.Errorf("initial %s: %w", p.Name(), err)
					}
					log.Info("initial", "pair", p.Name(), "round", r, "ms", int(res.Millis), "backup_cpu_s", res.BackupCPU)
					per[p.Name()] = append(per[p.Name()], res)
				}
			}
			a.Stop()
		}
		for _, p := range pairs {
			if p.Backup.Binary != "" {
				rep.Initial = append(rep.Initial, medianInitial(per[p.Name()]))
			}
		}
	}
	if f.JSON {
		return loadgen.WriteJSON(os.Stdout, rep)
	}
	fmt.Printf("%d round(s), pairings alternating, medians over rounds; schema %s\n", nr, f.Schema)
	loadgen.PrintServers(os.Stdout, servers)
	return writeTables(os.Stdout, rep, *rate, *duration)
}

// hasBackup reports whether a pairing with active server an has a backup.
func hasBackup(pairs []loadgen.SyncPair, an string) bool {
	for _, p := range pairs {
		if p.Active.Name == an && p.Backup.Binary != "" {
			return true
		}
	}
	return false
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// medianLag is the run with the median p50 lag.
func medianLag(rs []loadgen.LagResult) loadgen.LagResult {
	s := append([]loadgen.LagResult(nil), rs...)
	sort.Slice(s, func(i, j int) bool { return s[i].P50Micros < s[j].P50Micros })
	return s[len(s)/2]
}

// medianInitial is the run with the median sync time.
func medianInitial(rs []loadgen.InitialSyncResult) loadgen.InitialSyncResult {
	s := append([]loadgen.InitialSyncResult(nil), rs...)
	sort.Slice(s, func(i, j int) bool { return s[i].Millis < s[j].Millis })
	return s[len(s)/2]
}

func writeTables(w io.Writer, rep report, rate int, d time.Duration) error {
	if len(rep.Lag) > 0 {
		fmt.Fprintf(w, "\nreplication lag at %d txn/s for %v (ms from the commit's reply on the active until the backup's monitor client read the row; early: rows read there before the reply, counted as 0; from send: from sending the transaction)\n", rate, d)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "active->backup\ttxns\trate/s\tp50 ms\tp99 ms\tmean ms\tmax ms\tearly\tfrom send p50\tfrom send p99\tcommit p50 ms\tactive cpu\tbackup cpu\t")
		for _, r := range rep.Lag {
			if strings.HasSuffix(r.Pair, "->none") {
				fmt.Fprintf(tw, "%s\t%d\t%.0f\t\t\t\t\t\t\t\t%.3f\t%.1f%%\t\t\n", r.Pair, r.Txns, r.Rate,
					r.CommitP50Micros/1000, 100*r.ActiveCore)
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.3f\t%.3f\t%.3f\t%.2f\t%d\t%.3f\t%.3f\t%.3f\t%.1f%%\t%.1f%%\t\n", r.Pair, r.Txns, r.Rate,
				r.P50Micros/1000, r.P99Micros/1000, r.MeanMicros/1000, r.MaxMicros/1000, r.Early,
				r.SendP50Micros/1000, r.SendP99Micros/1000, r.CommitP50Micros/1000,
				100*r.ActiveCore, 100*r.BackupCore)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(rep.Initial) > 0 {
		fmt.Fprintf(w, "\ninitial sync of %d Logical_Switch_Port rows (ms from starting the backup until its client reads the row written after the load)\n", rep.Initial[0].Ports)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "active->backup\tsync ms\tsocket ready ms\tbackup cpu s\tactive cpu s\tbackup RSS MiB\t")
		for _, r := range rep.Initial {
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2f\t%.2f\t%.1f\t\n", r.Pair, r.Millis, r.ReadyMillis, r.BackupCPU, r.ActiveCPU, float64(r.RSSKiB)/1024)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

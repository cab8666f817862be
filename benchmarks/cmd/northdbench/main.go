package main

import (
	"context"
	"encoding/json"
	"errors"
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
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "northdbench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("northdbench", flag.ContinueOnError)
	var f loadgen.Flags
	f.Register(fs)
	var (
		switches    = fs.Int("switches", 1000, "Logical_Switch rows loaded (one switch with its ports per transaction)")
		ports       = fs.Int("ports", 50, "Logical_Switch_Port rows per switch")
		bulk        = fs.Int("bulk-ports", 1000, "ports added in one transaction (spread over the switches), later deleted in one")
		sbSchema    = fs.String("sb-schema", "/usr/share/ovn/ovn-sb.ovsschema", "southbound schema file")
		syncTimeout = fs.Duration("sync-timeout", 10*time.Minute, "bound for one ovn-nbctl --wait=sb sync")
		compactions = fs.Int("compactions", 3, "compactions triggered per database")
		gap         = fs.Duration("gap", 2*time.Second, "writer-only time before, between and after compactions")
		tail        = fs.Duration("tail", 500*time.Millisecond, "time after ovs-appctl returns still counted as the window")
		threads     = fs.Int("northd-threads", 0, "ovn-northd --n-threads (0: its default)")
		toolPath    = fs.String("tool", "", "C ovsdb-tool, creates both database files for both kinds (default: from PATH)")
		northdPath  = fs.String("northd", "", "ovn-northd (default: from PATH)")
		nbctlPath   = fs.String("nbctl", "", "ovn-nbctl (default: from PATH)")
		appctlPath  = fs.String("appctl", "", "ovs-appctl (default: from PATH)")
		from        = fs.String("from", "", "print the tables of a saved -json run from this file, run nothing")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from != "" {
		data, err := os.ReadFile(*from)
		if err != nil {
			return err
		}
		var rs []result
		if err := json.Unmarshal(data, &rs); err != nil {
			return fmt.Errorf("%s: %w", *from, err)
		}
		return writeTables(stdout, rs)
	}
	if *switches < 1 || *ports < 0 || *bulk < 0 {
		return errors.New("-switches must be positive, -ports and -bulk-ports not negative")
	}
	if err := f.Setup(); err != nil {
		return err
	}
	log := slog.Default().With("module", "northdbench")
	o := options{
		NBSchema: f.Schema, SBSchema: *sbSchema, SyncTimeout: *syncTimeout, BulkPorts: *bulk, NorthdThreads: *threads,
		Load:  loadgen.LoadOptions{Switches: *switches, PortsPerSwitch: *ports},
		Stall: loadgen.StallOptions{Compactions: *compactions, Gap: *gap, Tail: *tail},
	}
	for _, t := range []struct {
		dst        *string
		given, exe string
	}{
		{&o.Tool, *toolPath, "ovsdb-tool"}, {&o.Northd, *northdPath, "ovn-northd"},
		{&o.Nbctl, *nbctlPath, "ovn-nbctl"}, {&o.Appctl, *appctlPath, "ovs-appctl"},
	} {
		p, err := loadgen.ResolveTool(t.given, t.exe)
		if err != nil {
			return err
		}
		*t.dst = p
	}
	o.Stall.Appctl = o.Appctl
	tmp, servers, cleanup, err := f.TempServers("northdbench-")
	if err != nil {
		return err
	}
	defer cleanup()
	o.TempDir = tmp
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var results []result
	for _, srv := range servers {
		log.Info("start", "server", srv.Name, "switches", *switches, "ports", o.Load.Ports())
		res, err := runKind(ctx, srv, o)
		if err != nil {
			return err
		}
		results = append(results, res)
	}
	if f.JSON {
		return loadgen.WriteJSON(stdout, results)
	}
	fmt.Fprintf(stdout, "NB %s: %d switches x %d ports = %d ports; bulk change %d ports; %d compactions per database\n",
		f.Schema, *switches, *ports, o.Load.Ports(), *bulk, *compactions)
	loadgen.PrintServers(stdout, servers)
	return writeTables(stdout, results)
}

// figure is one measured quantity, lower is better.
type figure struct {
	name string
	get  func(result) float64
}

func mib(k int64) float64 { return float64(k) / 1024 }

// figures lists what the main table compares.
func figures(rs []result) []figure {
	fs := []figure{}
	for _, ph := range []struct{ key, label string }{
		{"initial", "initial: northd start to --wait=sb (s)"},
		{"idle", "no change: --wait=sb (s)"},
		{"add-ports", "add ports in one txn to --wait=sb (s)"},
		{"touch-switches", "external_ids on every switch to --wait=sb (s)"},
		{"del-ports", "delete those ports to --wait=sb (s)"},
	} {
		fs = append(fs, figure{ph.label, func(r result) float64 { return r.Sync[ph.key] }})
	}
	fs = append(fs,
		figure{"NB RSS after initial sync (MiB)", func(r result) float64 { return mib(r.Loaded.NBRSS) }},
		figure{"SB RSS after initial sync (MiB)", func(r result) float64 { return mib(r.Loaded.SBRSS) }},
		figure{"NB RSS at end (MiB)", func(r result) float64 { return mib(r.End.NBRSS) }},
		figure{"SB RSS at end (MiB)", func(r result) float64 { return mib(r.End.SBRSS) }},
		figure{"NB peak RSS (MiB)", func(r result) float64 { return mib(r.End.NBHWM) }},
		figure{"SB peak RSS (MiB)", func(r result) float64 { return mib(r.End.SBHWM) }},
		figure{"northd RSS at end (MiB, context)", func(r result) float64 { return mib(r.End.NorthdRSS) }},
	)
	// Phases in run order, from the first result.
	if len(rs) > 0 {
		for _, p := range rs[0].CPU {
			name := p.Phase
			if db, ok := strings.CutPrefix(name, "compact-"); ok {
				// The closed-loop writer completes as many transactions
				// as the server lets it: CPU per transaction compares.
				db = strings.ToUpper(db)
				fs = append(fs, figure{"CPU " + name + ": NB+SB servers per writer txn (ms)", func(r result) float64 {
					c, st := phaseOf(r, name), stallOf(r, db)
					if n := st.During.N + st.Outside.N; n > 0 {
						return (c.NB + c.SB) * 1000 / float64(n)
					}
					return 0
				}})
				continue
			}
			fs = append(fs,
				figure{"CPU " + name + ": NB+SB servers (s)", func(r result) float64 {
					c := phaseOf(r, name)
					return c.NB + c.SB
				}},
				figure{"CPU " + name + ": northd (s, context)", func(r result) float64 { return phaseOf(r, name).Northd }})
		}
		for _, st := range rs[0].Stalls {
			db := st.DB
			fs = append(fs,
				figure{db + " compaction, no writer (ms)", func(r result) float64 { return stallOf(r, db).IdleCompactMillis }},
				figure{db + " file right after it (MiB)", func(r result) float64 { return mib(stallOf(r, db).CompactedFileBytes / 1024) }},
				figure{db + " compaction with writer, longest (ms)", func(r result) float64 { return slices.Max(append([]float64{0}, stallOf(r, db).CompactMillis...)) }},
				figure{db + " writer max latency during compaction (ms)", func(r result) float64 { return stallOf(r, db).During.MaxMilli }},
				figure{db + " writer p50 outside compaction (ms)", func(r result) float64 { return stallOf(r, db).Outside.P50Milli }},
			)
		}
	}
	fs = append(fs,
		figure{"NB file at end (MiB, context: writer rows since the last compaction)", func(r result) float64 { return mib(r.NBFileBytes / 1024) }},
		figure{"SB file at end (MiB, context)", func(r result) float64 { return mib(r.SBFileBytes / 1024) }},
	)
	return fs
}

func phaseOf(r result, name string) phaseCPU {
	for _, p := range r.CPU {
		if p.Phase == name {
			return p
		}
	}
	return phaseCPU{}
}

func stallOf(r result, db string) stall {
	for _, s := range r.Stalls {
		if s.DB == db {
			return s
		}
	}
	return stall{}
}

// writeTables prints every figure for each server side by side with
// ours/C when both ran, then the southbound row counts.
func writeTables(w io.Writer, rs []result) error {
	idx := map[string]int{}
	for i, r := range rs {
		idx[r.Server] = i
	}
	_, hasC := idx["c"]
	_, hasOurs := idx["ours"]
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"figure"}
	for _, r := range rs {
		head = append(head, r.Server)
	}
	if hasC && hasOurs {
		head = append(head, "ours/C")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, f := range figures(rs) {
		row := []string{f.name}
		for _, r := range rs {
			row = append(row, fmt.Sprintf("%.3f", f.get(r)))
		}
		if hasC && hasOurs {
			row = append(row, loadgen.Ratio(f.get(rs[idx["ours"]]), f.get(rs[idx["c"]])))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nsouthbound rows after the initial sync (the same NB must give the same SB)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(head[:len(head)-boolInt(hasC && hasOurs)], "\t")+"\t")
	for _, t := range sbCounted {
		row := []string{t}
		for _, r := range rs {
			row = append(row, fmt.Sprint(r.SBRows[t]))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if hasC && hasOurs && !equalCounts(rs[idx["c"]].SBRows, rs[idx["ours"]].SBRows) {
		fmt.Fprintln(w, "WARNING: the southbound row counts differ between C and ours")
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func equalCounts(a, b map[string]int) bool {
	for _, t := range sbCounted {
		if a[t] != b[t] {
			return false
		}
	}
	return true
}

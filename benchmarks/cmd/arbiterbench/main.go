package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "arbiterbench:", err)
		os.Exit(1)
	}
}

// memSample is one reading of a member's /proc/PID/status, in KiB.
type memSample struct {
	RSS     int64 `json:"rss_kib"`
	HWM     int64 `json:"hwm_kib"`
	RSSAnon int64 `json:"rss_anon_kib"`
	RSSFile int64 `json:"rss_file_kib"`
}

// memberReport is one member's figures.
type memberReport struct {
	Index     int       `json:"index"`
	Role      string    `json:"role"` // leader, follower or arbiter
	PID       int       `json:"pid"`
	Loaded    memSample `json:"loaded"`    // after the load, applied everywhere, and the settle time
	Compacted memSample `json:"compacted"` // after ovsdb-server/compact on every member and the settle time
	FileBytes int64     `json:"db_file_bytes"`
	LogEnd    uint64    `json:"log_end"`
}

// report is everything measured.
type report struct {
	Ports       int            `json:"ports"`
	Switches    int            `json:"switches"`
	LoadSeconds float64        `json:"load_s"`
	Members     []memberReport `json:"members"`
	// Arbiter RSS / the smallest data member's RSS.
	RatioLoaded    float64 `json:"ratio_loaded"`
	RatioCompacted float64 `json:"ratio_compacted"`
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("arbiterbench", flag.ContinueOnError)
	var (
		ours       = fs.String("ours", "", "our ovsdb-server binary (default: go build ./cmd/ovsdb-server)")
		oursTool   = fs.String("ours-tool", "", "our ovsdb-tool (default: go build ./cmd/ovsdb-tool)")
		appctlPath = fs.String("appctl", "", "ovs-appctl (default: from PATH)")
		schema     = fs.String("schema", loadgen.DefaultSchema, "schema file (OVN NB: the load inserts Logical_Switch and Logical_Switch_Port rows)")
		ports      = fs.Int("ports", 50000, "Logical_Switch_Port rows in total")
		switches   = fs.Int("switches", 1000, "Logical_Switch rows the ports are spread over (one switch with its ports per transaction)")
		settle     = fs.Duration("settle", 5*time.Second, "wait before each RSS reading")
		election   = fs.Int("election-timer", 1000, "election timer in ms")
		timeout    = fs.Duration("apply-timeout", 5*time.Minute, "bound for every member to apply the load")
		jsonOut    = fs.Bool("json", false, "print results as JSON instead of tables")
		verbose    = fs.Bool("v", false, "log progress to stderr")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("module", "arbiterbench")
	if *ports < 1 || *switches < 1 {
		return errors.New("-ports and -switches must be positive")
	}
	load := loadgen.LoadOptions{Switches: min(*switches, *ports)}
	load.PortsPerSwitch = *ports / load.Switches
	appctl, err := loadgen.ResolveTool(*appctlPath, "ovs-appctl")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "arbiterbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	server, err := loadgen.BuildOurs(*ours, tmp, "ovsdb-server-ours", "./cmd/ovsdb-server")
	if err != nil {
		return err
	}
	tool, err := loadgen.BuildOurs(*oursTool, tmp, "ovsdb-tool-ours", "./cmd/ovsdb-tool")
	if err != nil {
		return err
	}
	if _, err := loadgen.RaiseFDLimit(); err != nil {
		log.Warn("cannot raise the fd limit", "err", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := loadgen.StartCluster(ctx, loadgen.ClusterOptions{
		Server: server, Tool: tool, SchemaPath: *schema, Members: 3, Arbiters: 1,
		ElectionTimerMS: *election, TempDir: tmp, StartTimeout: time.Minute,
	})
	if err != nil {
		return err
	}
	defer c.Stop()
	leader, err := c.WaitHealthy(ctx, time.Minute)
	if err != nil {
		return err
	}
	log.Info("cluster up", "pids", pids(c), "leader", leader.Index)

	rep := report{Ports: load.Ports(), Switches: load.Switches}
	t0 := time.Now()
	if err := loadgen.LoadNB(leader.Socket, load); err != nil {
		return fmt.Errorf("load through member %d: %w", leader.Index, err)
	}
	rep.LoadSeconds = time.Since(t0).Seconds()
	log.Info("loaded", "ports", load.Ports(), "seconds", rep.LoadSeconds)
	sts, err := waitApplied(ctx, appctl, c, *timeout)
	if err != nil {
		return err
	}
	for i, m := range c.Members {
		role := sts[i].role
		if m.Arbiter {
			role = "arbiter"
		}
		rep.Members = append(rep.Members, memberReport{Index: m.Index, Role: role, PID: m.PID(), LogEnd: sts[i].logEnd})
	}
	sleep(ctx, *settle)
	for i, m := range c.Members {
		if rep.Members[i].Loaded, err = readMem(m.PID()); err != nil {
			return fmt.Errorf("member %d: %w", m.Index, err)
		}
	}
	for _, m := range c.Members {
		out, err := exec.CommandContext(ctx, appctl, "-t", m.Ctl, "ovsdb-server/compact").CombinedOutput()
		if err != nil {
			return fmt.Errorf("member %d: ovsdb-server/compact: %v: %s", m.Index, err, strings.TrimSpace(string(out)))
		}
	}
	log.Info("compacted")
	sleep(ctx, *settle)
	for i, m := range c.Members {
		if rep.Members[i].Compacted, err = readMem(m.PID()); err != nil {
			return fmt.Errorf("member %d: %w", m.Index, err)
		}
		if st, err := os.Stat(m.DBFile); err == nil {
			rep.Members[i].FileBytes = st.Size()
		}
		if !m.Alive() {
			return fmt.Errorf("member %d exited", m.Index)
		}
	}
	rep.RatioLoaded = ratio(rep.Members, func(s memberReport) int64 { return s.Loaded.RSS })
	rep.RatioCompacted = ratio(rep.Members, func(s memberReport) int64 { return s.Compacted.RSS })
	if *jsonOut {
		return loadgen.WriteJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "2 data members + 1 arbiter (our ovsdb-server %s, ovsdb-tool %s), schema %s, election timer %d ms\n",
		server, tool, *schema, *election)
	writeTable(stdout, rep)
	return nil
}

func pids(c *loadgen.Cluster) []int {
	var out []int
	for _, m := range c.Members {
		out = append(out, m.PID())
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// ratio is the arbiter's RSS over the smallest data member's (0 when
// either is missing).
func ratio(ms []memberReport, rss func(memberReport) int64) float64 {
	var arb, data int64
	for _, m := range ms {
		v := rss(m)
		if m.Role == "arbiter" {
			arb = v
		} else if data == 0 || v < data {
			data = v
		}
	}
	if arb == 0 || data == 0 {
		return 0
	}
	return float64(arb) / float64(data)
}

// readMem reads VmRSS, VmHWM, RssAnon and RssFile of pid.
func readMem(pid int) (memSample, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memSample{}, err
	}
	return parseStatus(string(data))
}

func parseStatus(s string) (memSample, error) {
	var m memSample
	fields := map[string]*int64{"VmRSS:": &m.RSS, "VmHWM:": &m.HWM, "RssAnon:": &m.RSSAnon, "RssFile:": &m.RSSFile}
	for _, line := range strings.Split(s, "\n") {
		for k, p := range fields {
			if rest, ok := strings.CutPrefix(line, k); ok {
				f := strings.Fields(rest)
				if len(f) > 0 {
					*p, _ = strconv.ParseInt(f[0], 10, 64)
				}
			}
		}
	}
	if m.RSS == 0 {
		return m, errors.New("no VmRSS in /proc status")
	}
	return m, nil
}

// clusterStatus is what waitApplied reads from cluster/status.
type clusterStatus struct {
	role       string
	logEnd     uint64
	notApplied uint64
	notCommit  uint64
}

var (
	reRole       = regexp.MustCompile(`(?m)^Role: (\S+)`)
	reLog        = regexp.MustCompile(`(?m)^Log: \[(\d+), (\d+)\]`)
	reNotApplied = regexp.MustCompile(`(?m)^Entries not yet applied: (\d+)`)
	reNotCommit  = regexp.MustCompile(`(?m)^Entries not yet committed: (\d+)`)
)

func parseClusterStatus(s string) (clusterStatus, error) {
	var st clusterStatus
	r, l, a, cm := reRole.FindStringSubmatch(s), reLog.FindStringSubmatch(s), reNotApplied.FindStringSubmatch(s), reNotCommit.FindStringSubmatch(s)
	if r == nil || l == nil || a == nil || cm == nil {
		return st, fmt.Errorf("unexpected cluster/status: %.300s", s)
	}
	st.role = r[1]
	st.logEnd, _ = strconv.ParseUint(l[2], 10, 64)
	st.notApplied, _ = strconv.ParseUint(a[1], 10, 64)
	st.notCommit, _ = strconv.ParseUint(cm[1], 10, 64)
	return st, nil
}

// waitApplied polls every member's cluster/status until all have the
// same log end, nothing left to commit or apply, and one leader.
func waitApplied(ctx context.Context, appctl string, c *loadgen.Cluster, timeout time.Duration) ([]clusterStatus, error) {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		sts := make([]clusterStatus, len(c.Members))
		done := true
		leaders := 0
		for i, m := range c.Members {
			out, err := exec.CommandContext(ctx, appctl, "-t", m.Ctl, "cluster/status", c.DBName).CombinedOutput()
			if err == nil {
				sts[i], err = parseClusterStatus(string(out))
			}
			if err != nil {
				done, last = false, fmt.Sprintf("member %d: %v: %.300s", m.Index, err, out)
				continue
			}
			if sts[i].role == "leader" {
				leaders++
			}
			if sts[i].notApplied != 0 || sts[i].notCommit != 0 || sts[i].logEnd != sts[0].logEnd {
				done = false
				last = fmt.Sprintf("member %d: log end %d (member 0: %d), %d not committed, %d not applied",
					m.Index, sts[i].logEnd, sts[0].logEnd, sts[i].notCommit, sts[i].notApplied)
			}
		}
		if done && leaders == 1 {
			return sts, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("members not all applied after %v: %s", timeout, last)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// writeTable prints the markdown table of the figures and the ratios.
func writeTable(w io.Writer, rep report) {
	fmt.Fprintf(w, "%d Logical_Switch_Port rows in %d switches, loaded through the leader in %.1f s\n\n",
		rep.Ports, rep.Switches, rep.LoadSeconds)
	fmt.Fprintln(w, "| member | role | RSS MiB loaded | RSS MiB compacted | HWM MiB | anon / file MiB (compacted) | db file MiB (compacted) |")
	fmt.Fprintln(w, "|--:|---|--:|--:|--:|--:|--:|")
	for _, m := range rep.Members {
		fmt.Fprintf(w, "| %d | %s | %.1f | %.1f | %.1f | %.1f / %.1f | %.1f |\n", m.Index, m.Role,
			mib(m.Loaded.RSS), mib(m.Compacted.RSS), mib(max(m.Loaded.HWM, m.Compacted.HWM)),
			mib(m.Compacted.RSSAnon), mib(m.Compacted.RSSFile), float64(m.FileBytes)/(1<<20))
	}
	fmt.Fprintf(w, "\narbiter RSS / data member RSS (smallest data member): %.2fx loaded, %.2fx compacted\n",
		rep.RatioLoaded, rep.RatioCompacted)
}

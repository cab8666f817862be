// Command loadgen runs the side-by-side load harness: the C ovsdb-server
// and ours, one after the other with the same parameters, N concurrent
// closed-loop clients over unix sockets, single-row and 100-row insert
// transactions. It prints a table per workload with the ratio ours/C.
//
// From the module root:
//
//	go run ./benchmarks/cmd/loadgen -duration 5s
//	go run ./benchmarks/cmd/loadgen -only c -duration 1s -clients 1,8
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		duration  = flag.Duration("duration", 5*time.Second, "measured time per server, workload and client count")
		warmup    = flag.Duration("warmup", 500*time.Millisecond, "unmeasured warm-up before each measurement")
		clientsF  = flag.String("clients", "1,8,32", "comma-separated concurrent client counts")
		oursPath  = flag.String("ours", "", "our ovsdb-server binary (default: go build ./cmd/ovsdb-server)")
		cPath     = flag.String("c", "", "C ovsdb-server binary (default: from PATH or /usr/sbin)")
		toolPath  = flag.String("tool", "", "C ovsdb-tool used to create databases (default: from PATH)")
		only      = flag.String("only", "", `run only one server: "c" or "ours" (default both)`)
		jsonOut   = flag.Bool("json", false, "print results as JSON instead of tables")
		schemaF   = flag.String("schema", "/usr/share/ovn/ovn-nb.ovsschema", "schema file")
		table     = flag.String("table", "Logical_Switch", "table to insert into")
		column    = flag.String("column", "name", "string column set in inserted rows")
		workloads = flag.String("workloads", "insert1,insert100", "workloads: insertN = N inserts per transaction")
		unixctl   = flag.Bool("unixctl", true, "pass --unixctl=DIR/ctl to the servers")
		rounds    = flag.Int("rounds", 1, "repeat each cell, alternating servers, and report the median-throughput run")
		verbose   = flag.Bool("v", false, "log progress to stderr")
	)
	flag.Parse()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))

	clients, err := parseInts(*clientsF)
	if err != nil {
		return fmt.Errorf("-clients: %w", err)
	}
	wls, err := parseWorkloads(*workloads)
	if err != nil {
		return fmt.Errorf("-workloads: %w", err)
	}
	if *only != "" && *only != "c" && *only != "ours" {
		return fmt.Errorf(`-only must be "c" or "ours"`)
	}
	tool, err := lookTool(*toolPath, "ovsdb-tool")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "loadgen-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var servers []loadgen.ServerSpec
	if *only != "ours" {
		p, err := lookTool(*cPath, "ovsdb-server")
		if err != nil {
			return err
		}
		servers = append(servers, loadgen.ServerSpec{Name: "c", Binary: p})
	}
	if *only != "c" {
		p := *oursPath
		if p == "" {
			p = filepath.Join(tmp, "ovsdb-server-ours")
			cmd := exec.Command("go", "build", "-o", p, "./cmd/ovsdb-server")
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("building ours (go build ./cmd/ovsdb-server, run from the module root; or pass -ours PATH, or -only c): %w", err)
			}
		}
		servers = append(servers, loadgen.ServerSpec{Name: "ours", Binary: p})
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, runErr := loadgen.Run(ctx, loadgen.Options{
		Servers: servers, Clients: clients, Workloads: wls,
		Duration: *duration, Warmup: *warmup, Tool: tool,
		SchemaPath: *schemaF, Table: *table, Column: *column,
		Unixctl: *unixctl, TempDir: tmp, Rounds: *rounds,
	})
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return err
		}
	} else {
		fmt.Printf("duration %v per cell (warm-up %v), %d round(s), schema %s, table %s\n",
			*duration, *warmup, *rounds, *schemaF, *table)
		for _, s := range servers {
			fmt.Printf("  %s: %s\n", s.Name, s.Binary)
		}
		if err := loadgen.WriteTables(os.Stdout, results, "c", "ours"); err != nil {
			return err
		}
	}
	return runErr
}

func lookTool(given, name string) (string, error) {
	if given != "" {
		return given, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found (install with `make deps` or pass its path)", name)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseWorkloads(s string) ([]loadgen.Workload, error) {
	var out []loadgen.Workload
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		rest, ok := strings.CutPrefix(f, "insert")
		n, err := strconv.Atoi(rest)
		if !ok || err != nil || n < 1 {
			return nil, errors.New("bad workload " + strconv.Quote(f) + " (want insertN)")
		}
		out = append(out, loadgen.Workload{Name: f, RowsPerTxn: n})
	}
	return out, nil
}

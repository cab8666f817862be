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
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
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
	var f loadgen.Flags
	f.Register(flag.CommandLine)
	var (
		duration  = flag.Duration("duration", 5*time.Second, "measured time per server, workload and client count")
		warmup    = flag.Duration("warmup", 500*time.Millisecond, "unmeasured warm-up before each measurement")
		clientsF  = flag.String("clients", "1,8,32", "comma-separated concurrent client counts")
		toolPath  = flag.String("tool", "", "C ovsdb-tool used to create databases (default: from PATH)")
		table     = flag.String("table", "Logical_Switch", "table to insert into")
		column    = flag.String("column", "name", "string column set in inserted rows")
		workloads = flag.String("workloads", "insert1,insert100", "workloads: insertN = N inserts per transaction")
		unixctl   = flag.Bool("unixctl", true, "pass --unixctl=DIR/ctl to the servers")
		rounds    = flag.Int("rounds", 1, "repeat each cell, alternating servers, and report the median-throughput run")
	)
	flag.Parse()
	if err := f.Setup(); err != nil {
		return err
	}
	clients, err := loadgen.ParseCounts(*clientsF)
	if err != nil {
		return fmt.Errorf("-clients: %w", err)
	}
	wls, err := parseWorkloads(*workloads)
	if err != nil {
		return fmt.Errorf("-workloads: %w", err)
	}
	tool, err := loadgen.ResolveTool(*toolPath, "ovsdb-tool")
	if err != nil {
		return err
	}
	tmp, servers, cleanup, err := f.TempServers("loadgen-run-")
	if err != nil {
		return err
	}
	defer cleanup()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, runErr := loadgen.Run(ctx, loadgen.Options{
		Servers: servers, Clients: clients, Workloads: wls,
		Duration: *duration, Warmup: *warmup, Tool: tool,
		SchemaPath: f.Schema, Table: *table, Column: *column,
		Unixctl: *unixctl, TempDir: tmp, Rounds: *rounds,
	})
	if f.JSON {
		if err := loadgen.WriteJSON(os.Stdout, results); err != nil {
			return err
		}
	} else {
		fmt.Printf("duration %v per cell (warm-up %v), %d round(s), schema %s, table %s\n",
			*duration, *warmup, *rounds, f.Schema, *table)
		loadgen.PrintServers(os.Stdout, servers)
		if err := loadgen.WriteTables(os.Stdout, results, "c", "ours"); err != nil {
			return err
		}
	}
	return runErr
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

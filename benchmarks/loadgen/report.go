package loadgen

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteTables prints one table per workload. Each row is a client count;
// for every server it shows txn/s, rows/s, p50 and p99 latency, and, when
// both base and other servers were measured, the ratios other/base for
// throughput and latency, and server CPU per committed transaction (us/txn,
// from /proc/PID/stat) with its ratio.
func WriteTables(w io.Writer, results []Result, base, other string) error {
	var workloads []string
	var clients []int
	var servers []string
	cell := map[string]Result{}
	key := func(s, wl string, n int) string { return fmt.Sprintf("%s\x00%s\x00%d", s, wl, n) }
	for _, r := range results {
		if !slices.Contains(workloads, r.Workload) {
			workloads = append(workloads, r.Workload)
		}
		if !slices.Contains(clients, r.Clients) {
			clients = append(clients, r.Clients)
		}
		if !slices.Contains(servers, r.Server) {
			servers = append(servers, r.Server)
		}
		cell[key(r.Server, r.Workload, r.Clients)] = r
	}
	ratios := slices.Contains(servers, base) && slices.Contains(servers, other)
	for _, wl := range workloads {
		fmt.Fprintf(w, "\nworkload %s\n", wl)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		hdr := []string{"clients"}
		for _, s := range servers {
			hdr = append(hdr, s+" txn/s", s+" rows/s", s+" p50 ms", s+" p99 ms", s+" cpu s", s+" us/txn", s+" errs")
		}
		if ratios {
			r := other + "/" + base
			hdr = append(hdr, r+" txn/s", r+" p50", r+" p99", r+" cpu/txn")
		}
		fmt.Fprintln(tw, strings.Join(hdr, "\t")+"\t")
		for _, n := range clients {
			row := []string{fmt.Sprint(n)}
			for _, s := range servers {
				r, ok := cell[key(s, wl, n)]
				if !ok {
					row = append(row, "-", "-", "-", "-", "-", "-", "-")
					continue
				}
				row = append(row, fmt.Sprintf("%.0f", r.TxnPerSec), fmt.Sprintf("%.0f", r.RowsPerSec),
					fmt.Sprintf("%.3f", r.P50Micros/1000), fmt.Sprintf("%.3f", r.P99Micros/1000),
					fmt.Sprintf("%.2f", r.ServerCPU), fmt.Sprintf("%.1f", cpuPerTxn(r)), fmt.Sprint(r.Errors))
			}
			if ratios {
				b, okb := cell[key(base, wl, n)]
				o, oko := cell[key(other, wl, n)]
				if okb && oko {
					row = append(row, Ratio(o.TxnPerSec, b.TxnPerSec), Ratio(o.P50Micros, b.P50Micros),
						Ratio(o.P99Micros, b.P99Micros), Ratio(cpuPerTxn(o), cpuPerTxn(b)))
				} else {
					row = append(row, "-", "-", "-", "-")
				}
			}
			fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, r := range results {
		if len(r.TxnPerSecRuns) > 1 {
			runs := make([]string, len(r.TxnPerSecRuns))
			for i, v := range r.TxnPerSecRuns {
				runs[i] = fmt.Sprintf("%.0f", v)
			}
			fmt.Fprintf(w, "\n%s %s clients=%d: txn/s per round %s (median shown)", r.Server, r.Workload, r.Clients, strings.Join(runs, " "))
		}
	}
	fmt.Fprintln(w)
	for _, r := range results {
		if r.FirstError != "" {
			fmt.Fprintf(w, "\n%s %s clients=%d: %d errors, first: %s\n", r.Server, r.Workload, r.Clients, r.Errors, r.FirstError)
		}
	}
	return nil
}

// cpuPerTxn is the server's CPU microseconds per committed transaction in
// the measured interval (0 when nothing committed).
func cpuPerTxn(r Result) float64 {
	if r.Txns == 0 {
		return 0
	}
	return r.ServerCPU * 1e6 / float64(r.Txns)
}

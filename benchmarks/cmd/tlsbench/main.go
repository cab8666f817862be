// Command tlsbench measures the C ovsdb-server and ours over TLS in one
// invocation, one after the other with the same parameters: each serves
// an empty database on a pssl: remote with a throwaway CA's certificates
// (internal/tlsconf/tlstest), and N concurrent Go clients (mutual TLS,
// ECDSA P-256 certificates) measure
//
//   - the handshake rate: each client connects, completes the handshake,
//     makes one echo request (so that the server has verified the client
//     certificate, which TLS 1.3 does after the client's handshake
//     returns) and disconnects, in a closed loop;
//   - transaction throughput: each client keeps one TLS connection and
//     commits single-row inserts in a closed loop.
//
// It prints the rates, the latency percentiles, the server's CPU time per
// operation, and the ratio ours/C. From the module root:
//
//	go run ./benchmarks/cmd/tlsbench -duration 5s -clients 32
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf/tlstest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tlsbench:", err)
		os.Exit(1)
	}
}

// result is one server's figures.
type result struct {
	Server            string  `json:"server"`
	Clients           int     `json:"clients"`
	HandshakesPerSec  float64 `json:"handshakes_per_sec"`
	HandshakeP50Milli float64 `json:"handshake_p50_ms"`
	HandshakeP99Milli float64 `json:"handshake_p99_ms"`
	CPUPerHandshakeUs float64 `json:"server_cpu_per_handshake_us"`
	TxnPerSec         float64 `json:"txn_per_sec"`
	TxnP50Milli       float64 `json:"txn_p50_ms"`
	TxnP99Milli       float64 `json:"txn_p99_ms"`
	CPUPerTxnUs       float64 `json:"server_cpu_per_txn_us"`
}

func run() error {
	var f loadgen.Flags
	f.Register(flag.CommandLine)
	var (
		duration = flag.Duration("duration", 5*time.Second, "measured time per server and phase")
		warmup   = flag.Duration("warmup", 500*time.Millisecond, "unmeasured warm-up before each phase")
		clients  = flag.Int("clients", 32, "concurrent clients")
		toolPath = flag.String("tool", "", "C ovsdb-tool used to create databases (default: from PATH)")
		table    = flag.String("table", "Logical_Switch", "table to insert into")
		column   = flag.String("column", "name", "string column set in inserted rows")
	)
	flag.Parse()
	if err := f.Setup(); err != nil {
		return err
	}
	tool, err := loadgen.ResolveTool(*toolPath, "ovsdb-tool")
	if err != nil {
		return err
	}
	dbName, err := loadgen.SchemaName(f.Schema)
	if err != nil {
		return err
	}
	tmp, servers, cleanup, err := f.TempServers("tlsbench-")
	if err != nil {
		return err
	}
	defer cleanup()
	p, err := makePKI(tmp)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var results []result
	for _, s := range servers {
		r, err := measure(ctx, s, p, tool, f.Schema, dbName, *table, *column, *clients, *warmup, *duration, tmp)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		results = append(results, r)
	}
	if f.JSON {
		return loadgen.WriteJSON(os.Stdout, results)
	}
	fmt.Printf("TLS (pssl:, mutual authentication, ECDSA P-256), %d clients, %v per phase\n", *clients, *duration)
	loadgen.PrintServers(os.Stdout, servers)
	return writeTable(results)
}

// pki is the throwaway CA's files.
type pki struct {
	ca, srvCert, srvKey string
	client              *tlsconf.Config
}

func makePKI(dir string) (*pki, error) {
	ca, err := tlstest.MakeCA("tlsbench CA")
	if err != nil {
		return nil, err
	}
	p := &pki{}
	if p.ca, err = ca.WriteFile(dir, "cacert"); err != nil {
		return nil, err
	}
	srv, err := ca.Make("ovsdb-server")
	if err != nil {
		return nil, err
	}
	if p.srvCert, p.srvKey, err = srv.WriteFiles(dir, "server"); err != nil {
		return nil, err
	}
	cli, err := ca.Make("client")
	if err != nil {
		return nil, err
	}
	cc, ck, err := cli.WriteFiles(dir, "client")
	if err != nil {
		return nil, err
	}
	p.client, err = tlsconf.New(tlsconf.Settings{PrivateKey: ck, Certificate: cc, CACert: p.ca}, nil)
	return p, err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// dial makes one TLS connection and returns its client.
func (p *pki) dial(addr string) (*loadgen.Client, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(c, p.client.ClientConfig())
	_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		_ = c.Close()
		return nil, err
	}
	_ = tc.SetDeadline(time.Time{})
	return loadgen.NewClient(tc), nil
}

func measure(ctx context.Context, s loadgen.ServerSpec, p *pki, tool, schema, dbName, table, column string,
	n int, warmup, duration time.Duration, tmp string) (result, error) {
	r := result{Server: s.Name, Clients: n}
	port, err := freePort()
	if err != nil {
		return r, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	proc, err := loadgen.Start(ctx, tmp, loadgen.StartOptions{
		Binary: s.Binary, Tool: tool, SchemaPath: schema, Unixctl: true,
		Extra: []string{"--remote=pssl:" + strconv.Itoa(port) + ":127.0.0.1",
			"--private-key=" + p.srvKey, "--certificate=" + p.srvCert, "--ca-cert=" + p.ca},
	})
	if err != nil {
		return r, err
	}
	defer proc.Stop()
	ready := time.Now().Add(10 * time.Second)
	for {
		c, err := p.dial(addr)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(ready) {
			return r, fmt.Errorf("TLS listener not ready: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	handshake := func(int) (func() error, func()) {
		return func() error {
			c, err := p.dial(addr)
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Call("echo", json.RawMessage(`[]`))
			return err
		}, func() {}
	}
	count, lat, cpu, err := phase(ctx, proc, n, warmup, duration, handshake)
	if err != nil {
		return r, fmt.Errorf("handshakes: %w", err)
	}
	r.HandshakesPerSec = float64(count) / duration.Seconds()
	r.HandshakeP50Milli, r.HandshakeP99Milli = pct(lat, 50), pct(lat, 99)
	r.CPUPerHandshakeUs = perOp(cpu, count)

	txn := func(i int) (func() error, func()) {
		c, err := p.dial(addr)
		if err != nil {
			return func() error { return err }, func() {}
		}
		seq := 0
		return func() error {
			seq++
			params, _ := json.Marshal([]any{dbName, map[string]any{"op": "insert", "table": table,
				"row": map[string]any{column: fmt.Sprintf("tls-%d-%d", i, seq)}}})
			res, err := c.Call("transact", params)
			if err == nil && containsError(res) {
				err = fmt.Errorf("transaction failed: %s", res)
			}
			return err
		}, func() { _ = c.Close() }
	}
	count, lat, cpu, err = phase(ctx, proc, n, warmup, duration, txn)
	if err != nil {
		return r, fmt.Errorf("transactions: %w", err)
	}
	r.TxnPerSec = float64(count) / duration.Seconds()
	r.TxnP50Milli, r.TxnP99Milli = pct(lat, 50), pct(lat, 99)
	r.CPUPerTxnUs = perOp(cpu, count)
	return r, nil
}

func containsError(res json.RawMessage) bool {
	var ops []map[string]any
	if json.Unmarshal(res, &ops) != nil {
		return true
	}
	for _, op := range ops {
		if _, bad := op["error"]; bad {
			return true
		}
	}
	return false
}

// phase runs n clients in a closed loop: warm-up, then the measured
// window; it returns the operations completed in the window, their
// latencies and the server's CPU time in the window.
func phase(ctx context.Context, proc *loadgen.Process, n int, warmup, duration time.Duration,
	mk func(i int) (op func() error, done func())) (int, []time.Duration, time.Duration, error) {
	var (
		mu       sync.Mutex
		lat      []time.Duration
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	measureFrom, end := start.Add(warmup), start.Add(warmup+duration)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op, done := mk(i)
			defer done()
			var mine []time.Duration
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(end) {
					break
				}
				if err := op(); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				if t0.After(measureFrom) {
					mine = append(mine, time.Since(t0))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	time.Sleep(time.Until(measureFrom))
	cpu0, err0 := proc.CPUTime()
	time.Sleep(time.Until(end))
	cpu1, err1 := proc.CPUTime()
	wg.Wait()
	if firstErr != nil {
		return 0, nil, 0, firstErr
	}
	if err := errors.Join(err0, err1, ctx.Err()); err != nil {
		return 0, nil, 0, err
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return len(lat), lat, cpu1 - cpu0, nil
}

func pct(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	i = min(max(i-1, 0), len(sorted)-1)
	return float64(sorted[i].Microseconds()) / 1000
}

func perOp(cpu time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(n)
}

func writeTable(rs []result) error {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "server\thandshakes/s\tp50 ms\tp99 ms\tCPU µs/hs\ttxn/s\tp50 ms\tp99 ms\tCPU µs/txn\t")
	for _, r := range rs {
		fmt.Fprintf(w, "%s\t%.0f\t%.2f\t%.2f\t%.0f\t%.0f\t%.2f\t%.2f\t%.0f\t\n", r.Server, r.HandshakesPerSec,
			r.HandshakeP50Milli, r.HandshakeP99Milli, r.CPUPerHandshakeUs, r.TxnPerSec, r.TxnP50Milli, r.TxnP99Milli, r.CPUPerTxnUs)
	}
	if len(rs) == 2 {
		a, b := rs[0], rs[1]
		fmt.Fprintf(w, "%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", b.Server, a.Server,
			loadgen.Ratio(b.HandshakesPerSec, a.HandshakesPerSec), loadgen.Ratio(b.HandshakeP50Milli, a.HandshakeP50Milli),
			loadgen.Ratio(b.HandshakeP99Milli, a.HandshakeP99Milli), loadgen.Ratio(b.CPUPerHandshakeUs, a.CPUPerHandshakeUs),
			loadgen.Ratio(b.TxnPerSec, a.TxnPerSec), loadgen.Ratio(b.TxnP50Milli, a.TxnP50Milli),
			loadgen.Ratio(b.TxnP99Milli, a.TxnP99Milli), loadgen.Ratio(b.CPUPerTxnUs, a.CPUPerTxnUs))
	}
	return w.Flush()
}

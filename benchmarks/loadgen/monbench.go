package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Monitor benchmarks (fan-out latency, initial monitor reply, RSS) for
// the OVN northbound schema. See doc.go and benchmarks/RESULTS.md.

// nbDB is the database name of the OVN northbound schema.
const nbDB = "OVN_Northbound"

// fanoutPrefix prefixes the name of every Logical_Switch the fan-out
// writer inserts; the transaction number follows it.
const fanoutPrefix = "fan-"

// FanoutOptions configure one fan-out measurement on one server.
type FanoutOptions struct {
	Start   StartOptions
	TempDir string
	Clients int // monitoring connections
	Txns    int // measured insert transactions
	Warmup  int // unmeasured transactions before them
	// Wait bounds the wait for all clients to see one update.
	Wait time.Duration
}

// FanoutResult is one fan-out measurement: for each measured transaction,
// the time from writing the transact request until the last monitoring
// client has read the update that carries the inserted row.
type FanoutResult struct {
	Server     string  `json:"server"`
	Clients    int     `json:"clients"`
	Txns       int     `json:"txns"`
	P50Micros  float64 `json:"p50_us"`
	P99Micros  float64 `json:"p99_us"`
	MeanMicros float64 `json:"mean_us"`
	ServerCPU  float64 `json:"server_cpu_s"` // during the measured transactions
	// HarnessCPU is this process's CPU seconds over the same interval
	// (writer and all monitoring readers): on 2 cores it competes with
	// the server.
	HarnessCPU float64   `json:"harness_cpu_s"`
	RSSKiB     int64     `json:"server_rss_kib"`
	Samples    []float64 `json:"samples_us,omitempty"`
}

// selfCPU returns this process's user+system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RaiseFDLimit raises the soft RLIMIT_NOFILE to the hard limit, for this
// process and the servers it starts, and returns the new soft limit.
func RaiseFDLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return lim.Cur, nil
}

// fanoutKey finds the transaction number in an update notification: the
// digits after `"name":"fan-`. ok is false for any other message.
func fanoutKey(msg []byte) (k int, ok bool) {
	const pat = `"name":"` + fanoutPrefix
	i := bytes.Index(msg, []byte(pat))
	if i < 0 {
		return 0, false
	}
	rest := msg[i+len(pat):]
	j := bytes.IndexByte(rest, '"')
	if j <= 0 {
		return 0, false
	}
	n, err := strconv.Atoi(string(rest[:j]))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// isEcho reports an "echo" request from the server and returns its id.
func isEcho(msg []byte) (id json.RawMessage, ok bool) {
	if !bytes.Contains(msg, []byte(`"echo"`)) {
		return nil, false
	}
	var m message
	if err := json.Unmarshal(msg, &m); err != nil || m.Method != "echo" || len(m.ID) == 0 || string(m.ID) == "null" {
		return nil, false
	}
	return m.ID, true
}

// monitorConn is one raw JSON-RPC connection used for monitoring.
type monitorConn struct {
	conn net.Conn
	fr   *frameReader
	mu   sync.Mutex // serialises writes (echo replies)
}

func dialMonitor(socket string, bufSize int) (*monitorConn, error) {
	c, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &monitorConn{conn: c, fr: newFrameReader(c, bufSize)}, nil
}

func (m *monitorConn) write(b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err := m.conn.Write(b)
	return err
}

// monitorCondRequest builds a monitor_cond request for all columns of
// table, without condition.
func monitorCondRequest(db, table string, id int) []byte {
	return fmt.Appendf(nil, `{"id":%d,"method":"monitor_cond","params":[%q,"mon%d",{%q:[{}]}]}`, id, db, id, table)
}

// awaitReply reads frames until the reply with the given id, answering
// echo requests; it returns the reply frame (valid until the next read).
func (m *monitorConn) awaitReply(id int) ([]byte, error) {
	want := []byte(`"id":` + strconv.Itoa(id))
	for {
		msg, err := m.fr.Next()
		if err != nil {
			return nil, err
		}
		if eid, ok := isEcho(msg); ok {
			if err := m.write(echoReply(eid)); err != nil {
				return nil, err
			}
			continue
		}
		if bytes.Contains(msg, want) && !bytes.HasPrefix(bytes.TrimSpace(msg), []byte(`{"method"`)) {
			var r struct {
				ID    json.RawMessage `json:"id"`
				Error json.RawMessage `json:"error"`
			}
			if len(msg) < 4096 { // small replies: check id and error exactly
				if err := json.Unmarshal(msg, &r); err == nil && string(r.ID) == strconv.Itoa(id) {
					if len(r.Error) > 0 && string(r.Error) != "null" {
						return nil, fmt.Errorf("rpc error: %s", r.Error)
					}
					return msg, nil
				}
				continue
			}
			return msg, nil
		}
	}
}

func echoReply(id json.RawMessage) []byte {
	return fmt.Appendf(nil, `{"id":%s,"result":[],"error":null}`, id)
}

// RunFanout starts one server on a fresh database, connects o.Clients
// monitoring clients (monitor_cond on Logical_Switch, all columns), then
// performs o.Warmup+o.Txns single-row inserts one after another and
// measures, for the last o.Txns of them, the time from sending the
// transact until every client has read the update.
func RunFanout(ctx context.Context, srv ServerSpec, o FanoutOptions) (FanoutResult, error) {
	res := FanoutResult{Server: srv.Name, Clients: o.Clients}
	so := o.Start
	so.Binary = srv.Binary
	p, err := Start(ctx, o.TempDir, so)
	if err != nil {
		return res, fmt.Errorf("server %s: %w", srv.Name, err)
	}
	defer p.Stop()
	var cpu0, self0 time.Duration
	lat, err := FanoutOn(ctx, p.Socket, o, func() {
		cpu0, _ = p.CPUTime()
		self0 = selfCPU()
	})
	if err != nil {
		return res, fmt.Errorf("server %s: %w", srv.Name, err)
	}
	if cpu1, err := p.CPUTime(); err == nil {
		res.ServerCPU = (cpu1 - cpu0).Seconds()
	}
	res.HarnessCPU = (selfCPU() - self0).Seconds()
	if rss, err := p.RSSKiB(); err == nil {
		res.RSSKiB = rss
	}
	if p.Exited() {
		return res, fmt.Errorf("server %s exited during the run%s", srv.Name, p.tail())
	}
	res.Txns = len(lat)
	for _, d := range lat {
		res.Samples = append(res.Samples, float64(d)/float64(time.Microsecond))
	}
	res.P50Micros, res.P99Micros, res.MeanMicros = latencyStats(lat)
	return res, nil
}

// FanoutOn runs the fan-out measurement against a server already
// listening on socket (o.Start and o.TempDir are unused) and returns the
// latency of each measured transaction. measureStart, if not nil, is
// called just before the first measured transaction.
func FanoutOn(ctx context.Context, socket string, o FanoutOptions, measureStart func()) ([]time.Duration, error) {
	wait := o.Wait
	if wait <= 0 {
		wait = 30 * time.Second
	}
	total := o.Warmup + o.Txns

	// Subscribe every client before any write.
	conns := make([]*monitorConn, 0, o.Clients)
	defer func() {
		for _, c := range conns {
			_ = c.conn.Close()
		}
	}()
	for i := range o.Clients {
		c, err := dialMonitor(socket, 8<<10)
		if err != nil {
			return nil, fmt.Errorf("client %d: %w", i, err)
		}
		conns = append(conns, c)
		_ = c.conn.SetDeadline(time.Now().Add(wait))
		if err := c.write(monitorCondRequest(nbDB, "Logical_Switch", i)); err != nil {
			return nil, fmt.Errorf("client %d: %w", i, err)
		}
		if _, err := c.awaitReply(i); err != nil {
			return nil, fmt.Errorf("client %d monitor_cond: %w", i, err)
		}
		_ = c.conn.SetDeadline(time.Time{})
	}

	// Per transaction: how many clients have seen it, when the last did.
	counts := make([]atomic.Int32, total)
	doneAt := make([]time.Time, total)
	done := make([]chan struct{}, total)
	for k := range done {
		done[k] = make(chan struct{})
	}
	var dup atomic.Int64
	readErr := make(chan error, len(conns))
	var wg sync.WaitGroup
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := make([]bool, total)
			for {
				msg, err := c.fr.Next()
				if err != nil {
					if rctx.Err() == nil {
						readErr <- err
					}
					return
				}
				if k, ok := fanoutKey(msg); ok && k < total {
					if seen[k] {
						dup.Add(1)
						continue
					}
					seen[k] = true
					if int(counts[k].Add(1)) == len(conns) {
						doneAt[k] = time.Now()
						close(done[k])
					}
					continue
				}
				if id, ok := isEcho(msg); ok {
					if err := c.write(echoReply(id)); err != nil && rctx.Err() == nil {
						readErr <- err
						return
					}
				}
			}
		}()
	}
	defer func() {
		cancel()
		for _, c := range conns {
			_ = c.conn.SetReadDeadline(time.Now())
		}
		wg.Wait()
	}()

	w, err := Dial(socket, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	defer w.Close()
	var lat []time.Duration
	for k := range total {
		if k == o.Warmup && measureStart != nil {
			measureStart()
		}
		params, err := json.Marshal([]any{nbDB, map[string]any{
			"op": "insert", "table": "Logical_Switch",
			"row": map[string]any{"name": fanoutPrefix + strconv.Itoa(k)},
		}})
		if err != nil {
			return nil, err
		}
		_ = w.SetDeadline(time.Now().Add(wait))
		t0 := time.Now()
		result, err := w.Call("transact", params)
		if err == nil {
			err = checkInsertResult(result, 1)
		}
		if err != nil {
			return nil, fmt.Errorf("transact %d: %w", k, err)
		}
		timer := time.NewTimer(wait)
		select {
		case <-done[k]:
			timer.Stop()
		case err := <-readErr:
			timer.Stop()
			return nil, fmt.Errorf("monitoring client: %w", err)
		case <-timer.C:
			return nil, fmt.Errorf("txn %d: only %d of %d clients got the update within %v",
				k, counts[k].Load(), len(conns), wait)
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		}
		if k >= o.Warmup {
			lat = append(lat, doneAt[k].Sub(t0))
		}
	}
	if n := dup.Load(); n > 0 {
		return nil, fmt.Errorf("%d duplicate update deliveries", n)
	}
	return lat, nil
}

// LoadOptions describe the NB database the initial-monitor and RSS
// measurements load: Switches Logical_Switch rows, each referencing
// PortsPerSwitch Logical_Switch_Port rows (name, one address, three
// external_ids), one switch with its ports per transaction.
type LoadOptions struct {
	Switches       int
	PortsPerSwitch int
}

// Ports is the total number of ports loaded.
func (l LoadOptions) Ports() int { return l.Switches * l.PortsPerSwitch }

// loadParams builds the transact params that insert switch s with its
// ports.
func loadParams(s, ports int) (json.RawMessage, error) {
	ops := make([]any, 0, ports+2)
	ops = append(ops, nbDB)
	refs := make([]any, 0, ports)
	for i := range ports {
		n := s*ports + i
		un := "p" + strconv.Itoa(i)
		ops = append(ops, map[string]any{
			"op": "insert", "table": "Logical_Switch_Port", "uuid-name": un,
			"row": map[string]any{
				"name": fmt.Sprintf("lsp-%d-%d", s, i),
				"addresses": fmt.Sprintf("0a:00:%02x:%02x:%02x:%02x 10.%d.%d.%d",
					byte(n>>24), byte(n>>16), byte(n>>8), byte(n), byte(n>>16), byte(n>>8), byte(n)),
				"external_ids": []any{"map", []any{
					[]any{"neutron:port_name", fmt.Sprintf("port-%d", n)},
					[]any{"neutron:project_id", "0123456789abcdef0123456789abcdef"},
					[]any{"neutron:revision_number", "1"},
				}},
			},
		})
		refs = append(refs, []any{"named-uuid", un})
	}
	ops = append(ops, map[string]any{
		"op": "insert", "table": "Logical_Switch",
		"row": map[string]any{"name": "ls-" + strconv.Itoa(s), "ports": []any{"set", refs}},
	})
	return json.Marshal(ops)
}

// LoadNB inserts the database of l through one client connection.
func LoadNB(socket string, l LoadOptions) error {
	c, err := Dial(socket, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	for s := range l.Switches {
		params, err := loadParams(s, l.PortsPerSwitch)
		if err != nil {
			return err
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
		result, err := c.Call("transact", params)
		if err == nil {
			err = checkInsertResult(result, l.PortsPerSwitch+1)
		}
		if err != nil {
			return fmt.Errorf("load switch %d: %w", s, err)
		}
	}
	return nil
}

// InitialOptions configure the initial-monitor and RSS measurement.
type InitialOptions struct {
	Start   StartOptions
	TempDir string
	Load    LoadOptions
	Runs    int           // fresh clients timed one after another
	Settle  time.Duration // wait before reading RSS
}

// InitialResult is one initial-monitor and RSS measurement on one server.
type InitialResult struct {
	Server string `json:"server"`
	Ports  int    `json:"ports"`
	// RunsMillis is the time of each fresh client's monitor_cond on all
	// of Logical_Switch_Port, request write to last reply byte, in order;
	// the first one is the only one no cache can serve.
	RunsMillis  []float64 `json:"runs_ms"`
	MedianMilli float64   `json:"median_ms"`
	FirstMilli  float64   `json:"first_ms"` // RunsMillis[0]
	ReplyBytes  int       `json:"reply_bytes"`
	LoadSeconds float64   `json:"load_s"`
	// RSS after loading (and Settle), after the monitor runs (clients
	// closed, then Settle), and after restarting the server on the file
	// written by the load (then Settle).
	RSSLoadedKiB   int64 `json:"rss_loaded_kib"`
	RSSMonitorKiB  int64 `json:"rss_after_monitors_kib"`
	RSSReopenedKiB int64 `json:"rss_reopened_kib"`
	DBFileBytes    int64 `json:"db_file_bytes"`
}

// countTableRows counts the rows of table in a monitor reply frame.
func countTableRows(reply []byte, table string) (int, error) {
	var r struct {
		Result map[string]map[string]json.RawMessage `json:"result"`
		Error  json.RawMessage                       `json:"error"`
	}
	if err := json.Unmarshal(reply, &r); err != nil {
		return 0, err
	}
	if len(r.Error) > 0 && string(r.Error) != "null" {
		return 0, fmt.Errorf("rpc error: %s", r.Error)
	}
	return len(r.Result[table]), nil
}

// timeInitialMonitor times one fresh client's monitor_cond on all of
// Logical_Switch_Port and checks the reply holds want rows.
func timeInitialMonitor(socket string, want int) (time.Duration, int, error) {
	c, err := dialMonitor(socket, 1<<20)
	if err != nil {
		return 0, 0, err
	}
	defer c.conn.Close()
	_ = c.conn.SetDeadline(time.Now().Add(2 * time.Minute))
	req := monitorCondRequest(nbDB, "Logical_Switch_Port", 1)
	t0 := time.Now()
	if err := c.write(req); err != nil {
		return 0, 0, err
	}
	reply, err := c.awaitReply(1)
	d := time.Since(t0)
	if err != nil {
		return 0, 0, err
	}
	n, err := countTableRows(reply, "Logical_Switch_Port")
	if err != nil {
		return 0, 0, err
	}
	if n != want {
		return 0, 0, fmt.Errorf("initial reply has %d Logical_Switch_Port rows, want %d", n, want)
	}
	return d, len(reply), nil
}

// RunInitial loads the NB database into a fresh server, reads its RSS,
// times o.Runs initial monitor replies, reads RSS again, then restarts the
// server on the same file and reads RSS once more.
func RunInitial(ctx context.Context, srv ServerSpec, o InitialOptions) (InitialResult, error) {
	res := InitialResult{Server: srv.Name, Ports: o.Load.Ports()}
	so := o.Start
	so.Binary = srv.Binary
	p, err := Start(ctx, o.TempDir, so)
	if err != nil {
		return res, fmt.Errorf("server %s: %w", srv.Name, err)
	}
	defer func() { p.Stop() }()
	settle := func() error {
		t := time.NewTimer(o.Settle)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t0 := time.Now()
	if err := LoadNB(p.Socket, o.Load); err != nil {
		return res, fmt.Errorf("server %s: %w", srv.Name, err)
	}
	res.LoadSeconds = time.Since(t0).Seconds()
	if err := settle(); err != nil {
		return res, err
	}
	if res.RSSLoadedKiB, err = p.RSSKiB(); err != nil {
		return res, err
	}
	var runs []time.Duration
	for range max(o.Runs, 1) {
		d, n, err := timeInitialMonitor(p.Socket, res.Ports)
		if err != nil {
			return res, fmt.Errorf("server %s: initial monitor: %w", srv.Name, err)
		}
		runs = append(runs, d)
		res.RunsMillis = append(res.RunsMillis, float64(d)/float64(time.Millisecond))
		res.ReplyBytes = n
	}
	res.MedianMilli = float64(medianDuration(runs)) / float64(time.Millisecond)
	res.FirstMilli = res.RunsMillis[0]
	if err := settle(); err != nil {
		return res, err
	}
	if res.RSSMonitorKiB, err = p.RSSKiB(); err != nil {
		return res, err
	}
	if p.Exited() {
		return res, fmt.Errorf("server %s exited during the run%s", srv.Name, p.tail())
	}
	// Restart on the file the load wrote.
	p.StopKeep()
	if st, err := os.Stat(p.DBFile); err == nil {
		res.DBFileBytes = st.Size()
	}
	q, err := restartOnFile(ctx, p, so)
	if err != nil {
		return res, fmt.Errorf("server %s: restart: %w", srv.Name, err)
	}
	p = q
	if err := settle(); err != nil {
		return res, err
	}
	if res.RSSReopenedKiB, err = p.RSSKiB(); err != nil {
		return res, err
	}
	return res, nil
}

// medianDuration returns the lower median of ds (zero for none).
func medianDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// restartOnFile starts o.Binary again on the database file and directory
// of the stopped process old (same arguments as Start, no `create`).
func restartOnFile(ctx context.Context, old *Process, o StartOptions) (*Process, error) {
	p := &Process{Dir: old.Dir, Socket: old.Socket, DBFile: old.DBFile, done: make(chan struct{})}
	_ = os.Remove(p.Socket)
	args := []string{"--remote=punix:" + p.Socket, "--no-chdir", "--log-file=" + filepath.Join(p.Dir, "server2.log")}
	if o.Unixctl {
		_ = os.Remove(filepath.Join(p.Dir, "ctl"))
		args = append(args, "--unixctl="+filepath.Join(p.Dir, "ctl"))
	}
	args = append(args, p.DBFile)
	stderr, err := os.Create(filepath.Join(p.Dir, "stderr2.log"))
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	p.cmd = exec.Command(o.Binary, args...)
	p.cmd.Dir = p.Dir
	p.cmd.Env = append(os.Environ(), "OVS_RUNDIR="+p.Dir, "OVS_DBDIR="+p.Dir, "OVS_LOGDIR="+p.Dir)
	p.cmd.Stdout, p.cmd.Stderr = stderr, stderr
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	if err := p.waitReady(ctx, 60*time.Second); err != nil {
		p.stop()
		return nil, errors.Join(err, errors.New(p.tail()))
	}
	return p, nil
}

// medianFloat returns the lower median of xs (zero for none).
func medianFloat(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// MedianFanout combines rounds of one server and client count: each
// figure is the median over the rounds of that figure; Samples is
// dropped.
func MedianFanout(rs []FanoutResult) FanoutResult {
	if len(rs) == 0 {
		return FanoutResult{}
	}
	pick := func(f func(FanoutResult) float64) float64 {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = f(r)
		}
		return medianFloat(xs)
	}
	m := rs[0]
	m.Samples = nil
	m.P50Micros = pick(func(r FanoutResult) float64 { return r.P50Micros })
	m.P99Micros = pick(func(r FanoutResult) float64 { return r.P99Micros })
	m.MeanMicros = pick(func(r FanoutResult) float64 { return r.MeanMicros })
	m.ServerCPU = pick(func(r FanoutResult) float64 { return r.ServerCPU })
	m.HarnessCPU = pick(func(r FanoutResult) float64 { return r.HarnessCPU })
	m.RSSKiB = int64(pick(func(r FanoutResult) float64 { return float64(r.RSSKiB) }))
	return m
}

// MedianInitial combines rounds of one server: each figure is the median
// over the rounds; RunsMillis keeps every round's runs in order.
func MedianInitial(rs []InitialResult) InitialResult {
	if len(rs) == 0 {
		return InitialResult{}
	}
	pick := func(f func(InitialResult) float64) float64 {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = f(r)
		}
		return medianFloat(xs)
	}
	m := rs[0]
	m.RunsMillis = nil
	for _, r := range rs {
		m.RunsMillis = append(m.RunsMillis, r.RunsMillis...)
	}
	m.MedianMilli = pick(func(r InitialResult) float64 { return r.MedianMilli })
	m.FirstMilli = pick(func(r InitialResult) float64 { return r.FirstMilli })
	m.LoadSeconds = pick(func(r InitialResult) float64 { return r.LoadSeconds })
	m.RSSLoadedKiB = int64(pick(func(r InitialResult) float64 { return float64(r.RSSLoadedKiB) }))
	m.RSSMonitorKiB = int64(pick(func(r InitialResult) float64 { return float64(r.RSSMonitorKiB) }))
	m.RSSReopenedKiB = int64(pick(func(r InitialResult) float64 { return float64(r.RSSReopenedKiB) }))
	return m
}

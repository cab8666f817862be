package loadgen

// Active-backup replication benchmarks (front end benchmarks/cmd/syncbench):
// replication lag at a steady write rate, and the initial sync of a
// loaded NB database. An active server listens on 127.0.0.1 TCP (as
// deployments replicate) and on its unix socket; the backup is started
// with --sync-from=tcp:127.0.0.1:PORT.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SyncPair is one pairing: the active server's binary and the backup's.
type SyncPair struct {
	Active, Backup ServerSpec
}

// Name is "ACTIVE->BACKUP", e.g. "c->ours"; "ACTIVE->none" without a
// backup.
func (p SyncPair) Name() string {
	if p.Backup.Binary == "" {
		return p.Active.Name + "->none"
	}
	return p.Active.Name + "->" + p.Backup.Name
}

// startWith is Start with a control socket and extra command-line
// options.
func startWith(ctx context.Context, parent string, o StartOptions, extra ...string) (*Process, error) {
	o.Unixctl = true
	o.Extra = append(append([]string(nil), o.Extra...), extra...)
	return Start(ctx, parent, o)
}

// startActive starts an active server with a TCP listener on 127.0.0.1
// and returns it with the backup's --sync-from option.
func startActive(ctx context.Context, parent string, o StartOptions) (*Process, string, error) {
	addr, err := freeTCPAddr() // tcp:127.0.0.1:PORT
	if err != nil {
		return nil, "", err
	}
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	p, err := startWith(ctx, parent, o, "--remote=ptcp:"+port+":127.0.0.1")
	if err != nil {
		return nil, "", err
	}
	return p, "--sync-from=" + addr, nil
}

// insertSwitch is the transact params of one Logical_Switch insert.
func insertSwitch(name string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`[%q,{"op":"insert","table":"Logical_Switch","row":{"name":%q}}]`, nbDB, name))
}

// keysIn appends to dst the numbers N of every `"name":"PREFIXN"` in msg.
func keysIn(dst []int, msg []byte, prefix string) []int {
	pat := []byte(`"name":"` + prefix)
	for {
		i := bytes.Index(msg, pat)
		if i < 0 {
			return dst
		}
		msg = msg[i+len(pat):]
		j := bytes.IndexByte(msg, '"')
		if j <= 0 {
			continue
		}
		if n, err := strconv.Atoi(string(msg[:j])); err == nil && n >= 0 {
			dst = append(dst, n)
		}
		msg = msg[j:]
	}
}

// switchWatcher is a monitor_cond client of Logical_Switch on one server
// that records when it first reads each switch named PREFIXN.
type switchWatcher struct {
	m      *monitorConn
	prefix string
	mu     sync.Mutex
	seen   map[int]time.Time
	err    error
	done   chan struct{}
}

func watchSwitches(socket, prefix string) (*switchWatcher, error) {
	m, err := dialMonitor(socket, 1<<20)
	if err != nil {
		return nil, err
	}
	_ = m.conn.SetDeadline(time.Now().Add(time.Minute))
	if err := m.write(monitorCondRequest(nbDB, "Logical_Switch", 1)); err != nil {
		_ = m.conn.Close()
		return nil, err
	}
	if _, err := m.awaitReply(1); err != nil {
		_ = m.conn.Close()
		return nil, err
	}
	_ = m.conn.SetDeadline(time.Time{})
	w := &switchWatcher{m: m, prefix: prefix, seen: map[int]time.Time{}, done: make(chan struct{})}
	go w.loop()
	return w, nil
}

func (w *switchWatcher) loop() {
	defer close(w.done)
	var keys []int
	for {
		msg, err := w.m.fr.Next()
		now := time.Now()
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		if id, ok := isEcho(msg); ok {
			_ = w.m.write(echoReply(id))
			continue
		}
		keys = keysIn(keys[:0], msg, w.prefix)
		if len(keys) == 0 {
			continue
		}
		w.mu.Lock()
		for _, k := range keys {
			if _, ok := w.seen[k]; !ok {
				w.seen[k] = now
			}
		}
		w.mu.Unlock()
	}
}

// when returns the time key was first seen.
func (w *switchWatcher) when(key int) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.seen[key]
	return t, ok
}

// waitFor waits until key was seen, the connection failed, or timeout.
func (w *switchWatcher) waitFor(ctx context.Context, key int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, ok := w.when(key); ok {
			return nil
		}
		w.mu.Lock()
		err := w.err
		w.mu.Unlock()
		if err != nil {
			return fmt.Errorf("monitor connection: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("switch %s%d not seen after %v", w.prefix, key, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

func (w *switchWatcher) close() {
	_ = w.m.conn.Close()
	<-w.done
}

// LagOptions configure the replication-lag measurement.
type LagOptions struct {
	Start    StartOptions
	TempDir  string
	Rate     int           // transactions per second, paced on one connection
	Duration time.Duration // measured
	Warmup   time.Duration // paced, not measured
}

// LagResult is one replication-lag measurement of one pairing.
type LagResult struct {
	Pair string `json:"pair"`
	// Txns measured, and the rate the writer achieved over them.
	Txns int     `json:"txns"`
	Rate float64 `json:"rate"`
	// Lag from the commit's reply on the active server until the backup's
	// monitor client read the row; Early counts rows the monitor read
	// before the writer read its reply (lag taken as 0).
	P50Micros  float64 `json:"p50_us"`
	P99Micros  float64 `json:"p99_us"`
	MeanMicros float64 `json:"mean_us"`
	MaxMicros  float64 `json:"max_us"`
	Early      int     `json:"early"`
	// Lag from sending the transaction to the active server until the
	// backup's client read the row (commit latency included; never
	// negative).
	SendP50Micros float64 `json:"send_p50_us"`
	SendP99Micros float64 `json:"send_p99_us"`
	// Commit latency on the active server (transact to reply).
	CommitP50Micros float64 `json:"commit_p50_us"`
	// CPU seconds of each server over the measured window, and as a
	// share of one core.
	ActiveCPU  float64 `json:"active_cpu_s"`
	BackupCPU  float64 `json:"backup_cpu_s"`
	ActiveCore float64 `json:"active_core"`
	BackupCore float64 `json:"backup_core"`
}

// RunLag starts the pair's active server and a backup of it, waits until
// the backup replicates, then commits single-switch inserts on the active
// server at o.Rate per second on one connection, and measures, for each
// transaction of the measured window, the time from its reply until a
// monitor_cond client of the backup has read the row. Without a backup
// (p.Backup.Binary empty) it measures the active server alone at the same
// rate (commit latency and CPU: the baseline of the active's CPU).
func RunLag(ctx context.Context, p SyncPair, o LagOptions) (LagResult, error) {
	res := LagResult{Pair: p.Name()}
	so := o.Start
	so.Binary = p.Active.Binary
	a, from, err := startActive(ctx, o.TempDir, so)
	if err != nil {
		return res, fmt.Errorf("active %s: %w", p.Active.Name, err)
	}
	defer a.Stop()
	var b *Process
	var w *switchWatcher
	if p.Backup.Binary != "" {
		so.Binary = p.Backup.Binary
		b, err = startWith(ctx, o.TempDir, so, from)
		if err != nil {
			return res, fmt.Errorf("backup %s: %w", p.Backup.Name, err)
		}
		defer b.Stop()
		w, err = watchSwitches(b.Socket, "lag-")
		if err != nil {
			return res, fmt.Errorf("monitor on the backup: %w", err)
		}
		defer w.close()
	}
	c, err := Dial(a.Socket, 5*time.Second)
	if err != nil {
		return res, err
	}
	defer c.Close()
	// Replicating: a first switch reaches the backup's monitor.
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := c.Call("transact", insertSwitch("lag-0")); err != nil {
		return res, err
	}
	if w != nil {
		if err := w.waitFor(ctx, 0, 60*time.Second); err != nil {
			return res, fmt.Errorf("backup %s did not replicate: %w%s", p.Backup.Name, err, b.tail())
		}
	}

	interval := time.Second / time.Duration(max(o.Rate, 1))
	warm := int(o.Warmup / interval)
	total := warm + int(o.Duration/interval)
	replied := make([]time.Time, total+1)
	sentAt := make([]time.Time, total+1)
	commit := make([]time.Duration, 0, total)
	var cpuA0, cpuB0 time.Duration
	var tMeasure time.Time
	t0 := time.Now()
	for i := 1; i <= total; i++ {
		if i == warm+1 {
			cpuA0, _ = a.CPUTime()
			if b != nil {
				cpuB0, _ = b.CPUTime()
			}
			tMeasure = time.Now()
		}
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		sent := time.Now()
		if _, err := c.Call("transact", insertSwitch("lag-"+strconv.Itoa(i))); err != nil {
			return res, fmt.Errorf("transaction %d: %w", i, err)
		}
		replied[i], sentAt[i] = time.Now(), sent
		if i > warm {
			commit = append(commit, replied[i].Sub(sent))
		}
	}
	tEnd := time.Now()
	window := tEnd.Sub(tMeasure)
	cpuA1, _ := a.CPUTime()
	res.ActiveCPU = (cpuA1 - cpuA0).Seconds()
	res.ActiveCore = res.ActiveCPU / window.Seconds()
	res.CommitP50Micros, _, _ = latencyStats(commit)
	if w == nil {
		res.Txns = total - warm
		res.Rate = float64(res.Txns) / window.Seconds()
		return res, nil
	}
	if err := w.waitFor(ctx, total, 60*time.Second); err != nil {
		return res, err
	}
	cpuB1, _ := b.CPUTime()
	res.BackupCPU = (cpuB1 - cpuB0).Seconds()
	res.BackupCore = res.BackupCPU / window.Seconds()
	lags := make([]time.Duration, 0, total-warm)
	fromSend := make([]time.Duration, 0, total-warm)
	var maxLag time.Duration
	for i := warm + 1; i <= total; i++ {
		seen, ok := w.when(i)
		if !ok {
			return res, fmt.Errorf("switch lag-%d never seen on the backup", i)
		}
		fromSend = append(fromSend, seen.Sub(sentAt[i]))
		d := seen.Sub(replied[i])
		if d < 0 {
			res.Early++
			d = 0
		}
		maxLag = max(maxLag, d)
		lags = append(lags, d)
	}
	res.Txns = len(lags)
	res.Rate = float64(res.Txns) / window.Seconds()
	res.P50Micros, res.P99Micros, res.MeanMicros = latencyStats(lags)
	res.MaxMicros = float64(maxLag) / float64(time.Microsecond)
	res.SendP50Micros, res.SendP99Micros, _ = latencyStats(fromSend)
	return res, nil
}

// ActiveDB is an active server loaded with an NB database, kept running
// while backups of it are started one after another.
type ActiveDB struct {
	Spec  ServerSpec
	p     *Process
	from  string
	Ports int
	// LoadSeconds is the time the load took.
	LoadSeconds float64
}

// sentinel is the switch inserted after the load: atomic replication of
// the initial contents makes the backup hold everything once it has it.
const syncSentinel = "sync-sentinel"

// StartLoadedActive starts spec as an active server and loads l into it,
// followed by one switch named sync-sentinel.
func StartLoadedActive(ctx context.Context, spec ServerSpec, so StartOptions, tempDir string, l LoadOptions) (*ActiveDB, error) {
	so.Binary = spec.Binary
	p, from, err := startActive(ctx, tempDir, so)
	if err != nil {
		return nil, fmt.Errorf("active %s: %w", spec.Name, err)
	}
	t0 := time.Now()
	if err := LoadNB(p.Socket, l); err != nil {
		p.Stop()
		return nil, err
	}
	c, err := Dial(p.Socket, 5*time.Second)
	if err == nil {
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		_, err = c.Call("transact", insertSwitch(syncSentinel))
		_ = c.Close()
	}
	if err != nil {
		p.Stop()
		return nil, err
	}
	return &ActiveDB{Spec: spec, p: p, from: from, Ports: l.Ports(), LoadSeconds: time.Since(t0).Seconds()}, nil
}

// Stop stops the active server.
func (a *ActiveDB) Stop() { a.p.Stop() }

// InitialSyncResult is one backup's initial sync from a loaded active
// server.
type InitialSyncResult struct {
	Pair  string `json:"pair"`
	Ports int    `json:"ports"`
	// Millis is the time from starting the backup's process until a client
	// of the backup reads the sentinel switch (inserted on the active
	// server after the load); ReadyMillis until the backup's socket
	// accepted a connection.
	Millis      float64 `json:"ms"`
	ReadyMillis float64 `json:"ready_ms"`
	// CPU seconds of the backup (its whole life up to the sentinel) and of
	// the active server over the same time.
	BackupCPU float64 `json:"backup_cpu_s"`
	ActiveCPU float64 `json:"active_cpu_s"`
	RSSKiB    int64   `json:"backup_rss_kib"`
}

// hasSwitchParams is a select of the switch named name.
func hasSwitchParams(name string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`[%q,{"op":"select","table":"Logical_Switch","where":[["name","==",%q]],"columns":["name"]}]`, nbDB, name))
}

// countRows counts the rows of table on the server at socket.
func countRows(socket, table string) (int, error) {
	c, err := Dial(socket, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	raw, err := c.Call("transact", json.RawMessage(fmt.Sprintf(`[%q,{"op":"select","table":%q,"where":[],"columns":["_uuid"]}]`, nbDB, table)))
	if err != nil {
		return 0, err
	}
	var r []struct {
		Rows []json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || len(r) != 1 {
		return 0, fmt.Errorf("select reply %.200s: %v", raw, err)
	}
	return len(r[0].Rows), nil
}

// RunInitialSync starts a backup (fresh database) of a and times its
// initial sync: from starting its process until a client of the backup
// reads the sentinel switch; then checks that it has every port.
func RunInitialSync(ctx context.Context, a *ActiveDB, backup ServerSpec, so StartOptions, tempDir string) (InitialSyncResult, error) {
	res := InitialSyncResult{Pair: a.Spec.Name + "->" + backup.Name, Ports: a.Ports}
	so.Binary = backup.Binary
	cpuA0, _ := a.p.CPUTime()
	t0 := time.Now()
	// startWith returns once the socket accepts a connection.
	b, err := startWith(ctx, tempDir, so, a.from)
	if err != nil {
		return res, fmt.Errorf("backup %s: %w", backup.Name, err)
	}
	defer b.Stop()
	res.ReadyMillis = float64(time.Since(t0)) / float64(time.Millisecond)
	c, err := Dial(b.Socket, 5*time.Second)
	if err != nil {
		return res, err
	}
	defer c.Close()
	deadline := time.Now().Add(5 * time.Minute)
	q := hasSwitchParams(syncSentinel)
	for {
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		raw, err := c.Call("transact", q)
		if err != nil {
			return res, err
		}
		if bytes.Contains(raw, []byte(syncSentinel)) {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("backup %s: no sentinel after 5 minutes%s", backup.Name, b.tail())
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	res.Millis = float64(time.Since(t0)) / float64(time.Millisecond)
	cpuB, _ := b.CPUTime()
	cpuA1, _ := a.p.CPUTime()
	res.BackupCPU, res.ActiveCPU = cpuB.Seconds(), (cpuA1 - cpuA0).Seconds()
	res.RSSKiB, _ = b.RSSKiB()
	n, err := countRows(b.Socket, "Logical_Switch_Port")
	if err != nil {
		return res, err
	}
	if n != a.Ports {
		return res, fmt.Errorf("backup %s has %d Logical_Switch_Port rows, the active server %d", backup.Name, n, a.Ports)
	}
	return res, nil
}

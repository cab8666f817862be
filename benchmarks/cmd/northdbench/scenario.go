package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ovsdb-go/ovsdb-server/benchmarks/loadgen"
)

// The scenario for one server kind: NB and SB servers of that kind, one
// ovn-northd between them, the NB loaded, then the timed phases.

const (
	nbDB = "OVN_Northbound"
	sbDB = "OVN_Southbound"
)

// options are the scenario's settings, the same for every server kind.
type options struct {
	Tool, NBSchema, SBSchema string // ovsdb-tool (creates both files), schemas
	Northd, Nbctl, Appctl    string
	TempDir                  string
	Load                     loadgen.LoadOptions
	BulkPorts                int           // ports added (and deleted) in one transaction
	SyncTimeout              time.Duration // bound for one ovn-nbctl --wait=sb sync
	Stall                    loadgen.StallOptions
	NorthdThreads            int // --n-threads (0: northd's default)
}

// phaseCPU is the CPU seconds each process used during one phase.
type phaseCPU struct {
	Phase  string  `json:"phase"`
	Wall   float64 `json:"wall_s"`
	NB     float64 `json:"nb_cpu_s"`
	SB     float64 `json:"sb_cpu_s"`
	Northd float64 `json:"northd_cpu_s"`
}

// memory is one reading of the three processes, in KiB.
type memory struct {
	NBRSS, NBHWM, SBRSS, SBHWM, NorthdRSS int64
}

// stall is one database's compaction measurement.
type stall struct {
	DB string `json:"db"`
	// A compaction with no writer and no northd work, and the size of
	// the file right after it.
	IdleCompactMillis  float64 `json:"idle_compact_ms"`
	CompactedFileBytes int64   `json:"compacted_file_bytes"`
	// Then -compactions compactions while the writer runs.
	CompactMillis []float64              `json:"compact_ms"`
	WindowMax     []float64              `json:"window_max_ms"`
	During        loadgen.LatencySummary `json:"during"`
	Outside       loadgen.LatencySummary `json:"outside"`
}

// result is everything measured on one server kind.
type result struct {
	Server   string `json:"server"`
	Switches int    `json:"switches"`
	Ports    int    `json:"ports"`
	// Seconds from the start of each step until ovn-nbctl --wait=sb sync
	// returned: "initial" starts ovn-northd on the loaded NB.
	Sync   map[string]float64 `json:"sync_s"`
	CPU    []phaseCPU         `json:"cpu"`
	Loaded memory             `json:"mem_loaded_kib"` // after the initial sync
	End    memory             `json:"mem_end_kib"`    // after the last bulk change
	// SBRows counts rows of the main southbound tables after the initial
	// sync: the same NB must give the same SB on both kinds.
	SBRows      map[string]int `json:"sb_rows"`
	Stalls      []stall        `json:"stalls"`
	NBFileBytes int64          `json:"nb_file_bytes"`
	SBFileBytes int64          `json:"sb_file_bytes"`
}

// sbCounted are the southbound tables whose rows are counted.
var sbCounted = []string{"Datapath_Binding", "Port_Binding", "Logical_Flow", "Logical_DP_Group", "Multicast_Group"}

// northd is one ovn-northd process started by the harness.
type northd struct {
	cmd  *exec.Cmd
	ctl  string
	dir  string
	done chan struct{}
	err  error
}

func startNorthd(o options, dir, nbSock, sbSock string) (*northd, error) {
	n := &northd{ctl: filepath.Join(dir, "northd.ctl"), dir: dir, done: make(chan struct{})}
	args := []string{
		"--ovnnb-db=unix:" + nbSock, "--ovnsb-db=unix:" + sbSock,
		"--no-chdir", "--unixctl=" + n.ctl,
		"--log-file=" + filepath.Join(dir, "northd.log"), "-vconsole:off",
	}
	if o.NorthdThreads > 0 {
		args = append(args, "--n-threads="+strconv.Itoa(o.NorthdThreads))
	}
	stderr, err := os.Create(filepath.Join(dir, "northd.stderr"))
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	n.cmd = exec.Command(o.Northd, args...)
	n.cmd.Dir = dir
	n.cmd.Env = append(os.Environ(), "OVN_RUNDIR="+dir, "OVS_RUNDIR="+dir, "OVN_LOGDIR="+dir, "OVS_LOGDIR="+dir)
	n.cmd.Stdout, n.cmd.Stderr = stderr, stderr
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		n.err = n.cmd.Wait()
		close(n.done)
	}()
	return n, nil
}

func (n *northd) pid() int { return n.cmd.Process.Pid }

func (n *northd) exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to this process, then SIGKILL after 5 s.
func (n *northd) stop() {
	if !n.exited() {
		loadgen.TermThenKill(n.cmd.Process, n.done)
	}
}

// tail returns the end of northd's log for error messages.
func (n *northd) tail() string {
	data, err := os.ReadFile(filepath.Join(n.dir, "northd.log"))
	if err != nil || len(data) == 0 {
		return ""
	}
	if len(data) > 1200 {
		data = data[len(data)-1200:]
	}
	return "\n--- northd.log:\n" + strings.TrimSpace(string(data))
}

// scenario holds the processes of one kind's run.
type scenario struct {
	o      options
	srv    loadgen.ServerSpec
	nb, sb *loadgen.Process
	nd     *northd
	log    *slog.Logger
	res    *result
}

// runKind runs the whole scenario on one server kind.
func runKind(ctx context.Context, srv loadgen.ServerSpec, o options) (res result, err error) {
	res = result{Server: srv.Name, Switches: o.Load.Switches, Ports: o.Load.Ports(), Sync: map[string]float64{}}
	s := &scenario{o: o, srv: srv, res: &res, log: slog.Default().With("module", "northdbench", "server", srv.Name)}
	defer s.stopAll()
	start := func(schema string) (*loadgen.Process, error) {
		return loadgen.Start(ctx, o.TempDir, loadgen.StartOptions{
			Binary: srv.Binary, Tool: o.Tool, SchemaPath: schema, Unixctl: true, StartTimeout: 30 * time.Second,
		})
	}
	if s.nb, err = start(o.NBSchema); err != nil {
		return res, fmt.Errorf("%s NB: %w", srv.Name, err)
	}
	if s.sb, err = start(o.SBSchema); err != nil {
		return res, fmt.Errorf("%s SB: %w", srv.Name, err)
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s: %w%s", srv.Name, err, s.tails())
		}
	}()
	if err := s.phase("load", func() error {
		if err := s.transact(nbDB, []any{map[string]any{"op": "insert", "table": "NB_Global", "row": map[string]any{}}}); err != nil {
			return err
		}
		return loadgen.LoadNB(s.nb.Socket, o.Load)
	}); err != nil {
		return res, err
	}
	t0 := time.Now()
	if err := s.phase("initial", func() error {
		var err error
		if s.nd, err = startNorthd(o, s.nb.Dir, s.nb.Socket, s.sb.Socket); err != nil {
			return err
		}
		return s.sync(ctx)
	}); err != nil {
		return res, err
	}
	res.Sync["initial"] = time.Since(t0).Seconds()
	s.log.Info("initial sync", "s", res.Sync["initial"])
	if res.SBRows, err = s.countSB(); err != nil {
		return res, err
	}
	if res.Loaded, err = s.memory(); err != nil {
		return res, err
	}
	if err := s.timed(ctx, "idle", func() error { return nil }); err != nil {
		return res, err
	}
	var added []string // uuids of the ports added
	if err := s.timed(ctx, "add-ports", func() error {
		var err error
		added, err = s.addPorts()
		return err
	}); err != nil {
		return res, err
	}
	if err := s.timed(ctx, "touch-switches", func() error {
		return s.transact(nbDB, []any{map[string]any{
			"op": "update", "table": "Logical_Switch", "where": []any{},
			"row": map[string]any{"external_ids": []any{"map", []any{[]any{"northdbench", "touched"}}}},
		}})
	}); err != nil {
		return res, err
	}
	if err := s.timed(ctx, "del-ports", func() error { return s.delPorts(added) }); err != nil {
		return res, err
	}
	if res.End, err = s.memory(); err != nil {
		return res, err
	}
	if err := s.stalls(ctx); err != nil {
		return res, err
	}
	for _, f := range []struct {
		p   *loadgen.Process
		dst *int64
	}{{s.nb, &res.NBFileBytes}, {s.sb, &res.SBFileBytes}} {
		if st, err := os.Stat(f.p.DBFile); err == nil {
			*f.dst = st.Size()
		}
	}
	if s.nb.Exited() || s.sb.Exited() || s.nd.exited() {
		return res, errors.New("a process exited during the run")
	}
	return res, nil
}

func (s *scenario) stopAll() {
	if s.nd != nil {
		s.nd.stop()
	}
	for _, p := range []*loadgen.Process{s.nb, s.sb} {
		if p != nil {
			p.Stop()
		}
	}
}

func (s *scenario) tails() string {
	if s.nd == nil {
		return ""
	}
	return s.nd.tail()
}

// cpu returns the CPU time of NB, SB and northd (zero if not running).
func (s *scenario) cpu() (nb, sb, nd time.Duration) {
	nb, _ = s.nb.CPUTime()
	sb, _ = s.sb.CPUTime()
	if s.nd != nil && !s.nd.exited() {
		nd, _ = loadgen.PIDCPUTime(s.nd.pid())
	}
	return nb, sb, nd
}

// phase runs f and records the wall time and CPU of each process.
func (s *scenario) phase(name string, f func() error) error {
	nb0, sb0, nd0 := s.cpu()
	t0 := time.Now()
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	wall := time.Since(t0)
	nb1, sb1, nd1 := s.cpu()
	s.res.CPU = append(s.res.CPU, phaseCPU{
		Phase: name, Wall: wall.Seconds(),
		NB: (nb1 - nb0).Seconds(), SB: (sb1 - sb0).Seconds(), Northd: (nd1 - nd0).Seconds(),
	})
	return nil
}

// timed runs the change f and ovn-nbctl --wait=sb sync after it, as one
// phase, and records the time until the sync returned.
func (s *scenario) timed(ctx context.Context, name string, f func() error) error {
	t0 := time.Now()
	if err := s.phase(name, func() error {
		if err := f(); err != nil {
			return err
		}
		return s.sync(ctx)
	}); err != nil {
		return err
	}
	s.res.Sync[name] = time.Since(t0).Seconds()
	s.log.Info("synced", "phase", name, "s", s.res.Sync[name])
	return nil
}

// sync runs ovn-nbctl --wait=sb sync against the NB server.
func (s *scenario) sync(ctx context.Context) error {
	secs := max(int(s.o.SyncTimeout.Seconds()), 1)
	cmd := exec.CommandContext(ctx, s.o.Nbctl, "--db=unix:"+s.nb.Socket, "--no-syslog",
		"--timeout="+strconv.Itoa(secs), "--wait=sb", "sync")
	cmd.Env = append(os.Environ(), "OVN_RUNDIR="+s.nb.Dir, "OVS_RUNDIR="+s.nb.Dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ovn-nbctl --wait=sb sync: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if s.nd.exited() {
		return fmt.Errorf("ovn-northd exited: %v", s.nd.err)
	}
	return nil
}

// transact sends one transaction of ops to db on its server and fails on
// any operation error.
func (s *scenario) transact(db string, ops []any) error {
	_, err := s.call(db, ops)
	return err
}

func (s *scenario) call(db string, ops []any) ([]json.RawMessage, error) {
	sock := s.nb.Socket
	if db == sbDB {
		sock = s.sb.Socket
	}
	c, err := loadgen.Dial(sock, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Minute))
	params, err := json.Marshal(append([]any{db}, ops...))
	if err != nil {
		return nil, err
	}
	raw, err := c.Call("transact", params)
	if err != nil {
		return nil, err
	}
	var results []json.RawMessage
	if err := json.Unmarshal(raw, &results); err != nil {
		return nil, err
	}
	for _, r := range results {
		if bytes.Contains(r, []byte(`"error"`)) {
			return nil, fmt.Errorf("transaction failed: %.300s", raw)
		}
	}
	return results, nil
}

// addPorts inserts BulkPorts ports spread over the switches in one
// transaction and returns their uuids.
func (s *scenario) addPorts() ([]string, error) {
	var ops []any
	for i := range s.o.BulkPorts {
		sw := i % s.o.Load.Switches
		n := s.o.Load.Ports() + i
		name := "bulk" + strconv.Itoa(i)
		ops = append(ops, map[string]any{
			"op": "insert", "table": "Logical_Switch_Port", "uuid-name": name,
			"row": map[string]any{
				"name":      fmt.Sprintf("bulk-%d-%d", sw, i),
				"addresses": fmt.Sprintf("0a:01:%02x:%02x:%02x:%02x 11.%d.%d.%d", byte(n>>24), byte(n>>16), byte(n>>8), byte(n), byte(n>>16), byte(n>>8), byte(n)),
			},
		}, map[string]any{
			"op": "mutate", "table": "Logical_Switch", "where": []any{[]any{"name", "==", "ls-" + strconv.Itoa(sw)}},
			"mutations": []any{[]any{"ports", "insert", []any{"set", []any{[]any{"named-uuid", name}}}}},
		})
	}
	results, err := s.call(nbDB, ops)
	if err != nil {
		return nil, err
	}
	var uuids []string
	for i := 0; i < len(results); i += 2 {
		var r struct {
			UUID []string `json:"uuid"`
		}
		if err := json.Unmarshal(results[i], &r); err != nil || len(r.UUID) != 2 {
			return nil, fmt.Errorf("insert result %d: %.200s", i, results[i])
		}
		uuids = append(uuids, r.UUID[1])
	}
	return uuids, nil
}

// delPorts removes the ports addPorts added, one mutate per switch.
func (s *scenario) delPorts(uuids []string) error {
	per := map[int][]any{}
	for i, u := range uuids {
		sw := i % s.o.Load.Switches
		per[sw] = append(per[sw], []any{"uuid", u})
	}
	var ops []any
	for sw, refs := range per {
		ops = append(ops, map[string]any{
			"op": "mutate", "table": "Logical_Switch", "where": []any{[]any{"name", "==", "ls-" + strconv.Itoa(sw)}},
			"mutations": []any{[]any{"ports", "delete", []any{"set", refs}}},
		})
	}
	return s.transact(nbDB, ops)
}

// countSB counts the rows of the sbCounted tables.
func (s *scenario) countSB() (map[string]int, error) {
	var ops []any
	for _, t := range sbCounted {
		ops = append(ops, map[string]any{"op": "select", "table": t, "where": []any{}, "columns": []string{"_uuid"}})
	}
	results, err := s.call(sbDB, ops)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for i, t := range sbCounted {
		var r struct {
			Rows []json.RawMessage `json:"rows"`
		}
		if err := json.Unmarshal(results[i], &r); err != nil {
			return nil, err
		}
		out[t] = len(r.Rows)
	}
	return out, nil
}

// memory reads RSS and peak RSS of the servers and northd's RSS.
func (s *scenario) memory() (memory, error) {
	var m memory
	var errs []error
	read := func(pid int, name string, dst *int64) {
		v, err := loadgen.PIDStatusKiB(pid, name)
		errs = append(errs, err)
		*dst = v
	}
	read(s.nb.PID(), "VmRSS", &m.NBRSS)
	read(s.nb.PID(), "VmHWM", &m.NBHWM)
	read(s.sb.PID(), "VmRSS", &m.SBRSS)
	read(s.sb.PID(), "VmHWM", &m.SBHWM)
	read(s.nd.pid(), "VmRSS", &m.NorthdRSS)
	return m, errors.Join(errs...)
}

// stalls pauses northd (its connections stay open), then on NB and on
// SB times one compaction with no writer and measures compaction stalls
// with a writer of Logical_Switch rows (NB) or Address_Set rows (SB).
func (s *scenario) stalls(ctx context.Context) error {
	if out, err := exec.CommandContext(ctx, s.o.Appctl, "-t", s.nd.ctl, "pause").CombinedOutput(); err != nil {
		return fmt.Errorf("pause northd: %v: %s", err, strings.TrimSpace(string(out)))
	}
	for _, db := range []struct {
		name string
		p    *loadgen.Process
		txn  func(int) (json.RawMessage, error)
	}{
		{"NB", s.nb, nil},
		{"SB", s.sb, func(k int) (json.RawMessage, error) {
			return json.Marshal([]any{sbDB, map[string]any{
				"op": "insert", "table": "Address_Set", "row": map[string]any{"name": "northdbench-" + strconv.Itoa(k)},
			}})
		}},
	} {
		// One compaction with no writer: its time and the file it leaves.
		t0 := time.Now()
		if out, err := exec.CommandContext(ctx, s.o.Appctl, "-t", filepath.Join(db.p.Dir, "ctl"), "ovsdb-server/compact").CombinedOutput(); err != nil {
			return fmt.Errorf("compact %s: %v: %s", db.name, err, strings.TrimSpace(string(out)))
		}
		st := stall{DB: db.name, IdleCompactMillis: float64(time.Since(t0)) / float64(time.Millisecond)}
		if fi, err := os.Stat(db.p.DBFile); err == nil {
			st.CompactedFileBytes = fi.Size()
		}
		o := s.o.Stall
		o.Txn = db.txn
		var windows, txns []loadgen.Span
		var compact []time.Duration
		if err := s.phase("compact-"+strings.ToLower(db.name), func() error {
			var err error
			windows, txns, compact, err = loadgen.StallOn(ctx, db.p.Socket, filepath.Join(db.p.Dir, "ctl"), o)
			return err
		}); err != nil {
			return err
		}
		for _, d := range compact {
			st.CompactMillis = append(st.CompactMillis, float64(d)/float64(time.Millisecond))
		}
		st.During, st.Outside = loadgen.SplitByWindows(txns, windows)
		for _, w := range windows {
			in, _ := loadgen.SplitByWindows(txns, []loadgen.Span{w})
			st.WindowMax = append(st.WindowMax, in.MaxMilli)
		}
		s.res.Stalls = append(s.res.Stalls, st)
	}
	return nil
}

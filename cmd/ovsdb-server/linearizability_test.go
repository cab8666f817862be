package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"
)

// linSchema: every row of R is a register (see regValue).
const linSchema = `{"name":"C","version":"1.0.0","tables":{"R":{"columns":{` +
	`"k":{"type":"string"},"v":{"type":"string"},"ver":{"type":"integer"}},"indexes":[["k"]]}}}`

var linKeys = []string{"k0", "k1", "k2", "k3"}

// Knobs (environment):
//
//	LINEARIZABLE_SERVER    ovsdb-server binary to test (default: built from this package)
//	LINEARIZABLE_SEED      seed of the clients' and the nemesis' choices (default: the clock)
//	LINEARIZABLE_DURATION  length of the load, a Go duration (default 25s)
//	LINEARIZABLE_READS     "local": the checked reads go to any member without the leader
//	                       check (they are not linearizable: a way to see the checker fail)
//	LINEARIZABLE_KEEP      keep the history even when the test passes, under this directory
const (
	linClients      = 4                       // clients reading through the leader and writing
	linOpTimeout    = 5 * time.Second         // one client request
	linDefaultLoad  = 25 * time.Second        // CI default
	linCheckTimeout = 20 * time.Second        // porcupine
	linFaultGap     = 1500 * time.Millisecond // mean time between two faults
)

// TestLinearizable is a linearizability test of a 3-member cluster in the
// style of etcd's robustness tests. Four clients run a random mix of reads
// through the leader, writes and compare-and-sets on four registers while
// the main goroutine kills members with SIGKILL (the leader or a random
// member) and restarts them, after asking members to compact (take a Raft
// snapshot), so restarts restore a snapshot and replay the log behind it.
// One more client per member reads that member's local state with a plain
// select, redialling every few milliseconds while it is down, so its first
// read after a restart comes as soon as the socket accepts.
//
// Reads through the leader do what C's "leader only" clients do: on the
// same connection, read _Server.Database's "leader" column and then the
// data; a read from a member that is not leader is dropped. Writes and
// compare-and-sets go to any member (followers forward them). A write is
// [update v, mutate ver += 1, select]; a compare-and-set is the same after
// a "wait" (timeout 0) that v equals the expected value. Operations whose
// connection dies, time out or answer an error are of unknown outcome.
//
// Checks: (1) porcupine: the history of reads through the leader, writes
// and compare-and-sets is linearizable for a per-key register whose
// version grows by one per applied write (unknown outcomes return at
// infinity); (2) local reads are monotonic per member and key, across the
// member's own kill -9 and restart; (3) every observation of a version of
// a register has the same value. On failure the history (JSON), porcupine's
// visualisation and the members' logs are kept in a directory whose path
// is logged.
func TestLinearizable(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	runLinearizable(t, 3, 0)
}

// TestLinearizableArbiter is TestLinearizable on a cluster of two data
// members and one arbiter (join-cluster --arbiter; raft/DESIGN.md,
// "Arbiter members"). The arbiter refuses every client request naming the
// database, so the clients, the local readers, linInit and the clients'
// leader lookup use the data members only; the nemesis kills (kill -9),
// restarts and compacts any of the three, the arbiter included. With one
// member down the two others are a majority: when a data member is down
// the arbiter's vote and log are what commits, and when the arbiter wins
// an election it hands leadership over to the data member. The checks
// are TestLinearizable's, on the data members' history.
func TestLinearizableArbiter(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test")
	}
	runLinearizable(t, 2, 1)
}

// runLinearizable is the body of TestLinearizable and
// TestLinearizableArbiter: a cluster of nData data members followed by
// nArb arbiters (tc.members holds all, data first, so a data member's
// index is the same in both slices and in the history's local reads).
func runLinearizable(t *testing.T, nData, nArb int) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("LINEARIZABLE_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		require.NoError(t, err, "LINEARIZABLE_SEED")
		seed = v
	}
	load := linDefaultLoad
	if s := os.Getenv("LINEARIZABLE_DURATION"); s != "" {
		v, err := time.ParseDuration(s)
		require.NoError(t, err, "LINEARIZABLE_DURATION")
		load = v
	}
	t.Logf("seed %d (LINEARIZABLE_SEED=%d repeats the choices), load %v, %d data members, %d arbiters",
		seed, seed, load, nData, nArb)

	n := nData + nArb
	tc := newLinCluster(t, nData, nArb)
	all := tc.members          // every server: the nemesis' victims
	data := tc.members[:nData] // the servers clients use
	tc.waitMembers(all, n)
	linInit(t, tc, data)

	h := &linHistory{start: time.Now()}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stopClients := func() { cancel(); wg.Wait() }
	t.Cleanup(stopClients) // before the members are killed (cleanups run last first)
	restarts := make([]atomic.Int64, n)
	loadEnd := time.Now().Add(load)
	for i := 0; i < linClients; i++ {
		c := &linClient{h: h, members: data, rng: rand.New(rand.NewSource(seed + int64(i) + 1)),
			cid: h.newClientID(), conns: map[int]*rpcConn{}, leader: -1, last: map[string]string{},
			name: fmt.Sprintf("c%d", i), deadline: loadEnd.Add(2 * time.Second),
			anyRead: os.Getenv("LINEARIZABLE_READS") == "local"}
		wg.Add(1)
		go func() { defer wg.Done(); c.run(ctx) }()
	}
	for i := range data {
		wg.Add(1)
		go func() { defer wg.Done(); localReader(ctx, h, data[i], i, &restarts[i], seed+100+int64(i)) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); recordStatus(ctx, h, tc) }()

	// The nemesis: faults until the load ends.
	rng := rand.New(rand.NewSource(seed))
	kills, leaderKills := 0, 0
	killsOf := make([]int, n) // by member index in all
	for {
		gap := linFaultGap/2 + time.Duration(rng.Int63n(int64(linFaultGap)))
		if time.Now().Add(gap).After(loadEnd) {
			time.Sleep(time.Until(loadEnd))
			break
		}
		time.Sleep(gap)
		// Snapshots: each member compacts with probability 1/2.
		for i, m := range all {
			if rng.Intn(2) == 0 {
				cstart := time.Now()
				if _, err := tc.appctl(m, "ovsdb-server/compact", "C"); err == nil {
					what := "compact"
					if d := time.Since(cstart); d > 500*time.Millisecond {
						what = fmt.Sprintf("compact, which took %v", d.Round(time.Millisecond))
						t.Logf("m%d: %s", i, what)
					}
					h.event(what, i)
				}
			}
		}
		// The victim: any server, the arbiters included, or half the
		// time the leader. The leader is the Raft leader that
		// cluster/status names ("Role: leader", tc.leader), looked up
		// among all servers, not the data member whose _Server row says
		// leader (the clients' lookup): an arbiter that has just won an
		// election leads until it hands over, and killing it then is a
		// fault worth having (a leader dying mid-transfer, with writes
		// forwarded to it failing); the _Server lookup could never
		// choose it, since an arbiter's row always says leader false.
		vi := rng.Intn(n)
		if rng.Intn(2) == 0 {
			if ldr := tc.leader(all); ldr != nil {
				for i, m := range all {
					if m == ldr {
						vi = i
					}
				}
			}
		}
		victim := all[vi]
		role := tc.role(victim)
		if vi >= nData {
			role += ", arbiter"
		}
		tc.kill(victim)
		kills++
		killsOf[vi]++
		if strings.HasPrefix(role, "leader") {
			leaderKills++
		}
		h.event("kill -9 ("+role+")", vi)
		time.Sleep(100*time.Millisecond + time.Duration(rng.Int63n(int64(700*time.Millisecond))))
		restarts[vi].Add(1)
		h.event("start", vi)
		tc.start(victim)
		settle := time.Now()
		tc.waitMembers(all, n)
		h.event(fmt.Sprintf("members settled after %v", time.Since(settle).Round(time.Millisecond)), vi)
	}
	stopClients()
	t.Logf("%d kills in %v of load (%d of the leader; per member %v, the last %d arbiters)", kills, load, leaderKills, killsOf, nArb)
	if gap, at := h.longestWriteGap(); gap > 0 {
		t.Logf("longest time without an applied write or compare-and-set: %v (from %v)", gap.Round(time.Millisecond), at.Round(time.Millisecond))
	}

	ops := h.operations()
	count, readRestarts := linReport(t, h, ops, nData)
	var failures []string
	// Not vacuous: the history has applied writes, reads through the
	// leader and, unless the load was made very short, restarted members
	// that were read.
	if count["write ok"]+count["cas ok"] == 0 || count["read ok"] == 0 {
		failures = append(failures, "no applied write or no read through the leader in the history")
	}
	if load >= 10*time.Second && (kills == 0 || readRestarts == 0) {
		failures = append(failures, fmt.Sprintf("%d kills, %d restarted members read", kills, readRestarts))
	}
	// The quick check first; the verbose one (partial linearizations for
	// the visualisation, much slower on long histories) only on failure.
	checkStart := time.Now()
	res := porcupine.CheckOperationsTimeout(registerModel, ops, linCheckTimeout)
	t.Logf("porcupine: %s in %v", res, time.Since(checkStart).Round(time.Millisecond))
	var info porcupine.LinearizationInfo
	if res != porcupine.Ok {
		_, info = porcupine.CheckOperationsVerbose(registerModel, ops, linCheckTimeout)
	}
	switch res {
	case porcupine.Illegal:
		failures = append(failures, "the history of reads through the leader, writes and compare-and-sets is not linearizable")
	case porcupine.Unknown:
		failures = append(failures, fmt.Sprintf("porcupine did not decide within %v", linCheckTimeout))
	}
	nonMono, nBad := checkMonotonic(h.local, nData)
	for _, s := range nonMono {
		failures = append(failures, "local read not monotonic: "+s)
	}
	if nBad > 0 {
		failures = append(failures, fmt.Sprintf("%d local reads returned an older register than an earlier read on their member", nBad))
	}
	for _, s := range checkAgreement(ops, h.local) {
		failures = append(failures, "members disagree: "+s)
	}
	if len(failures) > 0 || os.Getenv("LINEARIZABLE_KEEP") != "" {
		dir := linSave(t, tc, h, ops, info, seed)
		if len(failures) == 0 {
			t.Logf("history kept in %s", dir)
		} else {
			for _, f := range failures {
				t.Error(f)
			}
			t.Errorf("seed %d; history, visualisation and member logs kept in %s", seed, dir)
		}
	}
}

// newLinCluster builds (or takes from LINEARIZABLE_SERVER) the server and
// creates a cluster of linSchema with our ovsdb-tool: nData data members,
// then nArb arbiters.
func newLinCluster(t *testing.T, nData, nArb int) *testCluster {
	dir := t.TempDir()
	server := os.Getenv("LINEARIZABLE_SERVER")
	if server == "" {
		server = buildBinary(t)
	} else {
		t.Logf("server binary %s (LINEARIZABLE_SERVER)", server)
	}
	tc := &testCluster{t: t, dir: dir, server: server, tool: buildTool(t, "../ovsdb-tool", "ovsdb-tool")}
	schemaPath := filepath.Join(dir, "c.ovsschema")
	require.NoError(t, os.WriteFile(schemaPath, []byte(linSchema), 0o644))
	tc.createMembersArb(nData+nArb, nArb, "m", schemaPath, "C")
	return tc
}

// linInit inserts the registers (value "init", version 0) through the
// leader, a data member, and waits until every data member has them.
// (An arbiter refuses clients; it leads only until it hands over, so
// waitLeader among the data members finds the leader once it has.)
func linInit(t *testing.T, tc *testCluster, data []*member) {
	var ops []any
	for _, k := range linKeys {
		ops = append(ops, map[string]any{"op": "insert", "table": "R", "row": map[string]any{"k": k, "v": initialReg.Val, "ver": initialReg.Ver}})
	}
	guard := map[string]any{"op": "wait", "table": "R", "where": []any{}, "columns": []any{"k"}, "until": "==", "rows": []any{}, "timeout": 0}
	ok := false
	for try := 0; try < 20 && !ok; try++ {
		ldr := tc.waitLeader(data)
		txn := ops
		if try > 0 {
			txn = append([]any{guard}, ops...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, err := call(ctx, ldr.sock, "transact", append([]any{"C"}, txn...)...)
		cancel()
		res := opResults(r)
		switch {
		case err != nil:
		case try > 0 && len(res) > 0 && res[0] != nil && res[0]["error"] == "timed out":
			ok = true // an earlier attempt was committed
		case len(res) == len(txn) && resultErr(res) == "":
			ok = true
		default:
			time.Sleep(100 * time.Millisecond)
		}
	}
	require.True(t, ok, "inserting the registers\n%s", tc.diagnose())
	for _, m := range data {
		tc.waitFor("registers on "+m.db, 30*time.Second, func() bool {
			got, err := selectRegs(m.sock)
			return err == nil && len(got) == len(linKeys)
		})
	}
}

func selectRegs(sock string) (map[string]regValue, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := call(ctx, sock, "transact", "C", selectAllOp)
	if err != nil {
		return nil, err
	}
	return regsFromReply(r)
}

var selectAllOp = map[string]any{"op": "select", "table": "R", "where": []any{}, "columns": []any{"k", "v", "ver"}}

var serverLeaderOp = map[string]any{"op": "select", "table": "Database", "where": []any{[]any{"name", "==", "C"}},
	"columns": []any{"leader"}}

// regsFromReply parses the reply of a transaction whose last operation is
// a select of registers.
func regsFromReply(r any) (map[string]regValue, error) {
	res := opResults(r)
	if len(res) == 0 || res[len(res)-1] == nil {
		return nil, fmt.Errorf("bad reply %v", r)
	}
	if e := resultErr(res); e != "" {
		return nil, errors.New(e)
	}
	rows, ok := res[len(res)-1]["rows"].([]any)
	if !ok {
		return nil, fmt.Errorf("bad reply %v", r)
	}
	return parseRegs(rows)
}

// linClient reads through the leader, writes and compares-and-sets.
type linClient struct {
	h        *linHistory
	members  []*member
	rng      *rand.Rand
	cid      int // porcupine client id; a new one after each unknown outcome
	conns    map[int]*rpcConn
	leader   int // member believed leader, -1 if none
	last     map[string]string
	anyRead  bool // read any member, skipping the leader check (LINEARIZABLE_READS=local)
	seq      int
	name     string
	deadline time.Time // no request waits beyond it
}

func (c *linClient) run(ctx context.Context) {
	defer func() {
		for _, cn := range c.conns {
			cn.Close()
		}
	}()
	// No new operation past the deadline: with the nemesis' last fault
	// running over the end of the load (slow under CPU load), clients went
	// on with 10 ms timeouts and added hundreds of operations of unknown
	// outcome that porcupine could not decide on (issue 9).
	for ctx.Err() == nil && time.Until(c.deadline) > linOpTimeout/10 {
		k := linKeys[c.rng.Intn(len(linKeys))]
		switch p := c.rng.Intn(10); {
		case p < 4:
			c.leaderRead(ctx)
		case p < 7:
			c.write(k)
		default:
			c.cas(k)
		}
		time.Sleep(time.Duration(1+c.rng.Intn(3)) * time.Millisecond)
	}
}

func (c *linClient) timeout() time.Duration {
	return max(min(linOpTimeout, time.Until(c.deadline)), 10*time.Millisecond)
}

func (c *linClient) conn(i int) (*rpcConn, error) {
	if cn := c.conns[i]; cn != nil {
		return cn, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	cn, err := dialRPC(ctx, c.members[i].sock)
	if err != nil {
		return nil, err
	}
	c.conns[i] = cn
	return cn, nil
}

func (c *linClient) drop(i int) {
	if cn := c.conns[i]; cn != nil {
		cn.Close()
		delete(c.conns, i)
	}
	if c.leader == i {
		c.leader = -1
	}
}

// isLeader asks member i (on the client's connection to it) whether its
// _Server.Database row for C says leader, as C's leader-only clients do.
func (c *linClient) isLeader(i int) bool {
	cn, err := c.conn(i)
	if err != nil {
		return false
	}
	r, err := cn.call(c.timeout(), "transact", "_Server", serverLeaderOp)
	if err != nil {
		c.drop(i)
		return false
	}
	res := opResults(r)
	if len(res) != 1 || res[0] == nil {
		return false
	}
	rows, _ := res[0]["rows"].([]any)
	if len(rows) != 1 {
		return false
	}
	row, _ := rows[0].(map[string]any)
	return row["leader"] == true
}

// leaderRead reads every register through the leader: the leader check
// and the select go over the same connection, the select's call time is
// taken after the check. Reads that fail or go to a non-leader have no
// effect and are not recorded.
func (c *linClient) leaderRead(ctx context.Context) {
	if c.anyRead {
		c.leader = c.rng.Intn(len(c.members))
	} else if c.leader < 0 {
		start := c.rng.Intn(len(c.members))
		for j := range c.members {
			if i := (start + j) % len(c.members); c.isLeader(i) {
				c.leader = i
				break
			}
		}
		if c.leader < 0 {
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			return
		}
	} else if !c.isLeader(c.leader) {
		c.leader = -1
		return
	}
	i := c.leader
	cn, err := c.conn(i)
	if err != nil {
		c.drop(i)
		return
	}
	call := c.h.now()
	r, err := cn.call(c.timeout(), "transact", "C", selectAllOp)
	ret := c.h.now()
	if err != nil {
		c.drop(i)
		return
	}
	regs, err := regsFromReply(r)
	if err != nil {
		return
	}
	for _, k := range linKeys {
		v, ok := regs[k]
		if !ok {
			v = regValue{Absent: true}
		} else {
			c.last[k] = v.Val
		}
		c.h.addOp(c.cid, linInput{Op: "read", Key: k}, call, linOutput{Reg: v}, ret)
	}
}

func (c *linClient) newValue() string {
	c.seq++
	return fmt.Sprintf("%s-%d", c.name, c.seq)
}

func (c *linClient) write(k string) {
	in := linInput{Op: "write", Key: k, Val: c.newValue()}
	c.transact(in, registerWriteOps(k, in.Val))
}

func (c *linClient) cas(k string) {
	old := c.last[k]
	if old == "" || c.rng.Intn(5) == 0 {
		old = initialReg.Val // usually a stale value: the compare fails
	}
	in := linInput{Op: "cas", Key: k, Val: c.newValue(), Old: old}
	wait := map[string]any{"op": "wait", "table": "R", "where": []any{[]any{"k", "==", k}}, "columns": []any{"v"},
		"until": "==", "rows": []any{map[string]any{"v": old}}, "timeout": 0}
	c.transact(in, append([]any{wait}, registerWriteOps(k, in.Val)...))
}

// registerWriteOps sets register k to val, adds one to its version and
// reads it back, in one transaction.
func registerWriteOps(k, val string) []any {
	where := []any{[]any{"k", "==", k}}
	return []any{
		map[string]any{"op": "update", "table": "R", "where": where, "row": map[string]any{"v": val}},
		map[string]any{"op": "mutate", "table": "R", "where": where, "mutations": []any{[]any{"ver", "+=", 1}}},
		map[string]any{"op": "select", "table": "R", "where": where, "columns": []any{"k", "v", "ver"}},
	}
}

// transact sends a write or compare-and-set through a random member and
// records its outcome.
func (c *linClient) transact(in linInput, ops []any) {
	i := c.rng.Intn(len(c.members))
	cn, err := c.conn(i)
	if err != nil {
		return // not sent
	}
	call := c.h.now()
	r, err := cn.call(c.timeout(), "transact", append([]any{"C"}, ops...)...)
	ret := c.h.now()
	if errors.Is(err, errNotSent) {
		c.drop(i)
		return
	}
	unknown := func(why string) {
		c.h.addOp(c.cid, in, call, linOutput{Unknown: true, Err: why}, -1)
		c.cid = c.h.newClientID() // the operation stays pending
	}
	if err != nil {
		c.drop(i)
		unknown(err.Error())
		return
	}
	res := opResults(r)
	if in.Op == "cas" && len(res) > 0 && res[0] != nil && res[0]["error"] == "timed out" {
		c.h.addOp(c.cid, in, call, linOutput{OK: false}, ret)
		return
	}
	if len(res) != len(ops) || resultErr(res) != "" {
		unknown(fmt.Sprintf("reply %v", r))
		return
	}
	regs, err := regsFromReply(r)
	v, ok := regs[in.Key]
	if err != nil || !ok || len(regs) != 1 {
		unknown(fmt.Sprintf("reply %v", r))
		return
	}
	c.last[in.Key] = v.Val
	c.h.addOp(c.cid, in, call, linOutput{OK: true, Reg: v}, ret)
}

// localReader reads every register on member m with a plain select, in a
// loop; while m is down it redials every 2 ms.
func localReader(ctx context.Context, h *linHistory, m *member, mi int, restarts *atomic.Int64, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	var cn *rpcConn
	defer func() {
		if cn != nil {
			cn.Close()
		}
	}()
	for ctx.Err() == nil {
		if cn == nil {
			dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			var err error
			cn, err = dialRPC(dctx, m.sock)
			cancel()
			if err != nil {
				cn = nil
				time.Sleep(2 * time.Millisecond)
				continue
			}
		}
		rs := int(restarts.Load())
		call := h.now()
		r, err := cn.call(2*time.Second, "transact", "C", selectAllOp)
		ret := h.now()
		if err != nil {
			cn.Close()
			cn = nil
			continue
		}
		regs, err := regsFromReply(r)
		if err != nil {
			time.Sleep(2 * time.Millisecond) // e.g. the database is not open yet
			continue
		}
		for _, k := range linKeys {
			if _, ok := regs[k]; !ok {
				regs[k] = regValue{Absent: true}
			}
		}
		h.addLocal(localRead{Member: mi, Restarts: rs, Call: call, Return: ret, Regs: regs})
		time.Sleep(time.Duration(1+rng.Intn(3)) * time.Millisecond)
	}
}

// recordStatus asks every member for its cluster/status every 200 ms and
// records, when it changes, the member's role, term, leader and log
// figures (or why it did not answer), until ctx is done: the timeline a
// failure's saved history shows next to the operations.
func recordStatus(ctx context.Context, h *linHistory, tc *testCluster) {
	last := map[int]string{}
	for ctx.Err() == nil {
		for i, m := range tc.members {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			r, err := call(cctx, m.ctl, "cluster/status", "C")
			cancel()
			var s string
			if err != nil {
				s = "no answer: " + err.Error()
			} else {
				text, _ := r.(string)
				var keep []string
				for _, l := range strings.Split(text, "\n") {
					for _, k := range []string{"Role:", "Term:", "Leader:", "Log:", "Entries not yet committed:", "Entries not yet applied:"} {
						if strings.HasPrefix(l, k) {
							keep = append(keep, l)
						}
					}
				}
				s = strings.Join(keep, "; ")
			}
			if s != last[i] {
				last[i] = s
				h.mu.Lock()
				h.status = append(h.status, fmt.Sprintf("%v m%d %s", time.Duration(h.now()).Round(time.Millisecond), i, s))
				h.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// linReport logs what the history holds and returns the count of
// operations by kind and outcome ("read ok", "write unknown", "cas
// failed"...) and of restarts after which a local read was observed.
func linReport(t *testing.T, h *linHistory, ops []porcupine.Operation, n int) (map[string]int, int) {
	count := map[string]int{}
	for _, op := range ops {
		in, out := op.Input.(linInput), op.Output.(linOutput)
		switch {
		case out.Unknown:
			count[in.Op+" unknown"]++
		case in.Op == "cas" && !out.OK:
			count["cas failed"]++
		default:
			count[in.Op+" ok"]++
		}
	}
	t.Logf("operations: %d reads through the leader (per key), %d writes (%d unknown), %d cas (%d applied, %d failed, %d unknown)",
		count["read ok"], count["write ok"]+count["write unknown"], count["write unknown"],
		count["cas ok"]+count["cas failed"]+count["cas unknown"], count["cas ok"], count["cas failed"], count["cas unknown"])
	// The first local read after each restart.
	per := make([]int, n)
	firsts := map[[2]int]int64{}
	for _, r := range h.local {
		per[r.Member]++
		key := [2]int{r.Member, r.Restarts}
		if f, ok := firsts[key]; !ok || r.Return < f {
			firsts[key] = r.Return
		}
	}
	var after []string
	for _, e := range h.nemesis {
		if e.What != "start" {
			continue
		}
		// restarts counted up to and including this start
		rs := 0
		for _, e2 := range h.nemesis {
			if e2.What == "start" && e2.Member == e.Member && e2.Time <= e.Time {
				rs++
			}
		}
		if f, ok := firsts[[2]int{e.Member, rs}]; ok {
			after = append(after, fmt.Sprintf("m%d +%v", e.Member, time.Duration(f-e.Time).Round(time.Millisecond)))
		}
	}
	t.Logf("local reads per member %v; first local read after each restart (member, time after start): %v", per, after)
	return count, len(after)
}

// linSave keeps the history, porcupine's visualisation and the members'
// logs in a new directory under os.TempDir() and returns its path.
func linSave(t *testing.T, tc *testCluster, h *linHistory, ops []porcupine.Operation, info porcupine.LinearizationInfo, seed int64) string {
	dir, err := os.MkdirTemp(os.Getenv("LINEARIZABLE_KEEP"), "ovsdb-linearizability-")
	if err != nil {
		t.Logf("cannot keep the history: %v", err)
		return ""
	}
	type savedOp struct {
		Client int       `json:"client"`
		Input  linInput  `json:"input"`
		Output linOutput `json:"output"`
		Call   int64     `json:"call"`
		Return int64     `json:"return"`
	}
	saved := struct {
		Seed       int64          `json:"seed"`
		Note       string         `json:"note"`
		Operations []savedOp      `json:"operations"`
		LocalReads []localRead    `json:"local_reads"`
		Nemesis    []nemesisEvent `json:"nemesis"`
	}{Seed: seed, Note: "times in ns since the load began; unknown outcomes return after every other operation",
		LocalReads: h.local, Nemesis: h.nemesis}
	for _, op := range ops {
		saved.Operations = append(saved.Operations, savedOp{op.ClientId, op.Input.(linInput), op.Output.(linOutput), op.Call, op.Return})
	}
	if b, err := json.Marshal(saved); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "history.json"), b, 0o644)
	}
	_ = os.WriteFile(filepath.Join(dir, "status.txt"), []byte(strings.Join(h.status, "\n")+"\n"), 0o644)
	if err := porcupine.VisualizePath(registerModel, info, filepath.Join(dir, "visualization.html")); err != nil {
		t.Logf("visualisation: %v", err)
	}
	for _, m := range tc.members {
		if b, err := os.ReadFile(m.log); err == nil {
			_ = os.WriteFile(filepath.Join(dir, filepath.Base(m.log)), b, 0o644)
		}
	}
	return dir
}

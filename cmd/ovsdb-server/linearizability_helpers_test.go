package main

// Helpers of TestLinearizable and TestLinearizableArbiter
// (linearizability_test.go): a persistent JSON-RPC client connection, the
// operation history, the porcupine model of a versioned register, and the
// checks of local reads.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"
)

// rpcConn is one client connection to a member's unix socket; requests
// are sent one at a time.
type rpcConn struct {
	c   net.Conn
	dec *json.Decoder
	id  int
}

func dialRPC(ctx context.Context, sock string) (*rpcConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bufio.NewReader(c))
	dec.UseNumber()
	return &rpcConn{c: c, dec: dec}, nil
}

func (r *rpcConn) Close() { _ = r.c.Close() }

// errNotSent is returned when the request could not be written at all:
// the server cannot have executed it.
var errNotSent = errors.New("request not sent")

// call sends one request and waits (at most timeout) for its answer. Any
// error except errNotSent leaves the connection unusable and the outcome
// of the request unknown.
func (r *rpcConn) call(timeout time.Duration, method string, params ...any) (any, error) {
	r.id++
	id := r.id
	req, err := json.Marshal(map[string]any{"method": method, "params": params, "id": id})
	if err != nil {
		return nil, err
	}
	_ = r.c.SetDeadline(time.Now().Add(timeout))
	if n, err := r.c.Write(req); err != nil {
		if n == 0 {
			return nil, fmt.Errorf("%w: %v", errNotSent, err)
		}
		return nil, err
	}
	for {
		var msg map[string]any
		if err := r.dec.Decode(&msg); err != nil {
			return nil, err
		}
		if msg["method"] == "echo" && msg["id"] != nil {
			b, _ := json.Marshal(map[string]any{"result": msg["params"], "error": nil, "id": msg["id"]})
			if _, err := r.c.Write(b); err != nil {
				return nil, err
			}
			continue
		}
		if n, ok := msg["id"].(json.Number); !ok || n.String() != fmt.Sprint(id) {
			continue // a notification
		}
		if e := msg["error"]; e != nil {
			return nil, fmt.Errorf("rpc error %v", e)
		}
		return msg["result"], nil
	}
}

// Register values. Every row of table R is a register: key k, value v and
// version ver, which every write and successful compare-and-set increases
// by one in the same transaction (a mutate executed by the servers, so
// versions follow the commit order and "older" is decidable).
type regValue struct {
	Val    string `json:"val"`
	Ver    int64  `json:"ver"`
	Absent bool   `json:"absent,omitempty"` // no row for the key
}

func (v regValue) String() string {
	if v.Absent {
		return "absent"
	}
	return fmt.Sprintf("%s@%d", v.Val, v.Ver)
}

// order is the register's position in its history: the version, -1 for a
// missing row (before the initial insert).
func (v regValue) order() int64 {
	if v.Absent {
		return -1
	}
	return v.Ver
}

var initialReg = regValue{Val: "init", Ver: 0}

// linInput is an operation on one register; Old is the expected value of
// a compare-and-set.
type linInput struct {
	Op  string `json:"op"` // "read", "write", "cas"
	Key string `json:"key"`
	Val string `json:"val,omitempty"`
	Old string `json:"old,omitempty"`
}

// linOutput: Unknown when the outcome is unknown (connection died, time
// out, error reply: the operation may or may not have been applied); OK
// for writes and compare-and-sets that were applied (then Reg is the
// register after them, read in the same transaction); a compare-and-set
// whose wait failed has OK false. Reads give Reg.
type linOutput struct {
	Unknown bool     `json:"unknown,omitempty"`
	OK      bool     `json:"ok,omitempty"`
	Reg     regValue `json:"reg"`
	Err     string   `json:"err,omitempty"`
}

// registerModel is a per-key register with read, write and
// compare-and-set whose state carries the version: a write or a
// successful compare-and-set sets the value and adds one to the version.
// Operations of unknown outcome have the return time of the end of the
// history ("infinity") and may take effect or not.
var registerModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(linInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return initialReg },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(regValue), input.(linInput), output.(linOutput)
		next := regValue{Val: in.Val, Ver: st.Ver + 1}
		switch in.Op {
		case "read":
			return out.Reg == st, st
		case "write":
			return out.Unknown || out.Reg == next, next
		case "cas":
			if st.Absent || st.Val != in.Old {
				return out.Unknown || !out.OK, st
			}
			return out.Unknown || (out.OK && out.Reg == next), next
		}
		return false, st
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		res := out.Reg.String()
		switch {
		case out.Unknown:
			res = "unknown (" + out.Err + ")"
		case in.Op == "cas" && !out.OK:
			res = "failed"
		}
		switch in.Op {
		case "read":
			return fmt.Sprintf("read(%s) -> %s", in.Key, res)
		case "write":
			return fmt.Sprintf("write(%s, %s) -> %s", in.Key, in.Val, res)
		default:
			return fmt.Sprintf("cas(%s, %s -> %s) -> %s", in.Key, in.Old, in.Val, res)
		}
	},
	DescribeState: func(state any) string { return state.(regValue).String() },
}

// localRead is one plain select of every register on one member (no
// leader check): member's own applied state.
type localRead struct {
	Member   int                 `json:"member"`
	Restarts int                 `json:"restarts"` // member restarts begun before the call
	Call     int64               `json:"call"`
	Return   int64               `json:"return"`
	Regs     map[string]regValue `json:"regs"`
}

// nemesisEvent is a fault or a compaction, for the saved history.
type nemesisEvent struct {
	Time   int64  `json:"time"`
	What   string `json:"what"`
	Member int    `json:"member"`
}

// linHistory collects everything the clients observe.
type linHistory struct {
	mu      sync.Mutex
	start   time.Time
	ops     []porcupine.Operation
	local   []localRead
	nemesis []nemesisEvent
	status  []string // members' cluster/status over time (recordStatus)
	nextCID int
}

// longestWriteGap returns the longest time between two successive
// acknowledged writes or compare-and-sets (applied or failed), and when it
// began: how long the cluster took no write.
func (h *linHistory) longestWriteGap() (gap, at time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var rets []int64
	for _, op := range h.ops {
		if op.Input.(linInput).Op != "read" && !op.Output.(linOutput).Unknown {
			rets = append(rets, op.Return)
		}
	}
	sort.Slice(rets, func(i, j int) bool { return rets[i] < rets[j] })
	for i := 1; i < len(rets); i++ {
		if d := time.Duration(rets[i] - rets[i-1]); d > gap {
			gap, at = d, time.Duration(rets[i-1])
		}
	}
	return gap, at
}

func (h *linHistory) now() int64 { return time.Since(h.start).Nanoseconds() }

func (h *linHistory) newClientID() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.nextCID
	h.nextCID++
	return id
}

func (h *linHistory) addOp(cid int, in linInput, call int64, out linOutput, ret int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: cid, Input: in, Call: call, Output: out, Return: ret})
}

func (h *linHistory) addLocal(r localRead) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.local = append(h.local, r)
}

func (h *linHistory) event(what string, member int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nemesis = append(h.nemesis, nemesisEvent{Time: time.Since(h.start).Nanoseconds(), What: what, Member: member})
}

// operations returns the porcupine history. An operation of unknown
// outcome (Return < 0 while recorded) returns at the first return of a
// read through the leader that saw its value (values are unique: it was
// applied by then), or else after every other operation (infinity). The
// earlier return only spares the checker work: it excludes no valid
// linearization.
func (h *linHistory) operations() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	var end int64
	seen := map[[2]string]int64{} // key, value -> first return of a read of it
	for _, op := range h.ops {
		end = max(end, op.Return, op.Call)
		in, out := op.Input.(linInput), op.Output.(linOutput)
		if in.Op == "read" && !out.Reg.Absent {
			kv := [2]string{in.Key, out.Reg.Val}
			if r, ok := seen[kv]; !ok || op.Return < r {
				seen[kv] = op.Return
			}
		}
	}
	out := make([]porcupine.Operation, len(h.ops))
	for i, op := range h.ops {
		if op.Return < 0 {
			op.Return = end + 1
			in := op.Input.(linInput)
			if r, ok := seen[[2]string{in.Key, in.Val}]; ok {
				op.Return = max(r, op.Call)
			}
		}
		out[i] = op
	}
	return out
}

// checkMonotonic checks that no member's local read returns an older
// register than a read on the same member that returned before it was
// called (a member's own restarts included). It describes the first
// violation of each run of a member (between two of its restarts) and
// counts the reads that violate.
func checkMonotonic(reads []localRead, members int) (bad []string, count int) {
	for m := 0; m < members; m++ {
		var rs []localRead
		for _, r := range reads {
			if r.Member == m {
				rs = append(rs, r)
			}
		}
		byCall := append([]localRead(nil), rs...)
		sort.Slice(byCall, func(i, j int) bool { return byCall[i].Call < byCall[j].Call })
		byRet := append([]localRead(nil), rs...)
		sort.Slice(byRet, func(i, j int) bool { return byRet[i].Return < byRet[j].Return })
		// best[k]: the read that returned the newest register k so far.
		best := map[string]localRead{}
		reported := map[int]bool{}
		j := 0
		for _, r := range byCall {
			for ; j < len(byRet) && byRet[j].Return < r.Call; j++ {
				q := byRet[j]
				for k, v := range q.Regs {
					if b, ok := best[k]; !ok || v.order() > b.Regs[k].order() {
						best[k] = q
					}
				}
			}
			var what []string
			for _, k := range sortedKeys(r.Regs) {
				v := r.Regs[k]
				if b, ok := best[k]; ok && v.order() < b.Regs[k].order() {
					what = append(what, fmt.Sprintf("key %s: %s, older than %s returned at %v (restarts %d)",
						k, v, b.Regs[k], time.Duration(b.Return), b.Restarts))
				}
			}
			if len(what) == 0 {
				continue
			}
			count++
			if !reported[r.Restarts] {
				reported[r.Restarts] = true
				bad = append(bad, fmt.Sprintf("member %d, read at %v (restarts %d): %s",
					m, time.Duration(r.Call), r.Restarts, strings.Join(what, "; ")))
			}
		}
	}
	return bad, count
}

func sortedKeys(m map[string]regValue) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkAgreement checks that every observation of a register version
// (reads anywhere, applied writes) has the same value: members agree on
// the history of each register.
func checkAgreement(ops []porcupine.Operation, reads []localRead) []string {
	seen := map[string]map[int64]string{}
	var bad []string
	note := func(k string, v regValue, where string) {
		if v.Absent {
			return
		}
		if seen[k] == nil {
			seen[k] = map[int64]string{}
		}
		if old, ok := seen[k][v.Ver]; ok && old != v.Val {
			if len(bad) < 10 {
				bad = append(bad, fmt.Sprintf("key %s version %d is %q in one observation and %q in %s", k, v.Ver, old, v.Val, where))
			}
			return
		}
		seen[k][v.Ver] = v.Val
	}
	for _, op := range ops {
		in, out := op.Input.(linInput), op.Output.(linOutput)
		if !out.Unknown && (in.Op == "read" || out.OK) {
			note(in.Key, out.Reg, fmt.Sprintf("client %d %s at %v", op.ClientId, in.Op, time.Duration(op.Call)))
		}
	}
	for _, r := range reads {
		for k, v := range r.Regs {
			note(k, v, fmt.Sprintf("a local read on member %d at %v", r.Member, time.Duration(r.Call)))
		}
	}
	return bad
}

// parseRegs reads the registers from a select result's rows.
func parseRegs(rows []any) (map[string]regValue, error) {
	out := map[string]regValue{}
	for _, r := range rows {
		row, _ := r.(map[string]any)
		k, ok1 := row["k"].(string)
		v, ok2 := row["v"].(string)
		n, ok3 := row["ver"].(json.Number)
		ver, err := n.Int64()
		if !ok1 || !ok2 || !ok3 || err != nil {
			return nil, fmt.Errorf("bad row %v", row)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("two rows for key %s", k)
		}
		out[k] = regValue{Val: v, Ver: ver}
	}
	return out, nil
}

// opResults returns the result objects of a transact reply.
func opResults(r any) []map[string]any {
	arr, _ := r.([]any)
	out := make([]map[string]any, len(arr))
	for i, x := range arr {
		out[i], _ = x.(map[string]any)
	}
	return out
}

func resultErr(res []map[string]any) string {
	var errs []string
	for _, r := range res {
		if r != nil && r["error"] != nil {
			errs = append(errs, fmt.Sprint(r["error"], ": ", r["details"]))
		}
	}
	return strings.Join(errs, "; ")
}

// TestRegisterModel checks the checkers on small made-up histories.
func TestRegisterModel(t *testing.T) {
	op := func(cid int, in linInput, call int64, out linOutput, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: cid, Input: in, Call: call, Output: out, Return: ret}
	}
	rd := func(val string, ver int64) linOutput { return linOutput{Reg: regValue{Val: val, Ver: ver}} }
	ok := func(val string, ver int64) linOutput { return linOutput{OK: true, Reg: regValue{Val: val, Ver: ver}} }
	w := linInput{Op: "write", Key: "k", Val: "a"}
	r := linInput{Op: "read", Key: "k"}
	tests := []struct {
		name string
		h    []porcupine.Operation
		want bool
	}{
		{"write then read", []porcupine.Operation{op(0, w, 0, ok("a", 1), 10), op(1, r, 11, rd("a", 1), 12)}, true},
		{"stale read after a write", []porcupine.Operation{op(0, w, 0, ok("a", 1), 10), op(1, r, 11, rd("init", 0), 12)}, false},
		{"concurrent read sees either", []porcupine.Operation{op(0, w, 0, ok("a", 1), 10), op(1, r, 5, rd("init", 0), 12),
			op(2, r, 6, rd("a", 1), 13)}, true},
		{"read goes back", []porcupine.Operation{op(0, w, 0, ok("a", 1), 10), op(1, r, 5, rd("a", 1), 6),
			op(2, r, 7, rd("init", 0), 8)}, false},
		{"unknown write may apply", []porcupine.Operation{op(0, w, 0, linOutput{Unknown: true}, 100), op(1, r, 11, rd("a", 1), 12)}, true},
		{"unknown write may not apply", []porcupine.Operation{op(0, w, 0, linOutput{Unknown: true}, 100), op(1, r, 11, rd("init", 0), 12)}, true},
		{"applied twice", []porcupine.Operation{op(0, w, 0, ok("a", 1), 10), op(1, r, 11, rd("a", 2), 12)}, false},
		{"cas on the current value", []porcupine.Operation{op(0, linInput{Op: "cas", Key: "k", Old: "init", Val: "b"}, 0, ok("b", 1), 10)}, true},
		{"cas on a stale value applied", []porcupine.Operation{op(0, w, 0, ok("a", 1), 10),
			op(1, linInput{Op: "cas", Key: "k", Old: "init", Val: "b"}, 11, ok("b", 2), 12)}, false},
		{"cas failed on the current value", []porcupine.Operation{op(0, linInput{Op: "cas", Key: "k", Old: "init", Val: "b"}, 0, linOutput{}, 10)}, false},
		{"other key independent", []porcupine.Operation{op(0, w, 0, ok("a", 1), 10), op(1, linInput{Op: "read", Key: "j"}, 11, rd("init", 0), 12)}, true},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, porcupine.CheckOperations(registerModel, tt.h), tt.name)
	}

	lr := func(m, rs int, call, ret int64, val string, ver int64) localRead {
		return localRead{Member: m, Restarts: rs, Call: call, Return: ret, Regs: map[string]regValue{"k": {Val: val, Ver: ver}}}
	}
	bad, n := checkMonotonic([]localRead{lr(0, 0, 0, 1, "a", 2), lr(0, 1, 2, 3, "b", 1), lr(1, 0, 2, 3, "b", 1),
		lr(0, 1, 4, 5, "b", 3), {Member: 0, Restarts: 2, Call: 6, Return: 7, Regs: map[string]regValue{"k": {Absent: true}}}}, 2)
	require.Equal(t, 2, n)
	require.Len(t, bad, 2)
	bad, n = checkMonotonic([]localRead{lr(0, 0, 0, 5, "a", 2), lr(0, 0, 1, 6, "b", 1)}, 1) // concurrent reads
	require.Zero(t, n, bad)
	require.Len(t, checkAgreement(nil, []localRead{lr(0, 0, 0, 1, "a", 2), lr(1, 0, 0, 1, "b", 2)}), 1)
}

package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shrinkAndReport looks for a shortest request sequence that still makes
// the servers differ at a request of the same kind as failing, by
// delta debugging over the generator's steps, then over the operations of
// each transact and the requests of each step, replaying every candidate
// on a fresh pair of servers. It logs the result as a case file (and
// writes it to the temporary directory). CONFORMANCE_SHRINK=0 skips the
// shrinking; CONFORMANCE_SHRINK_TIME bounds it (default 3m).
func shrinkAndReport(t *testing.T, seed uint64, steps []step, failing request) {
	t.Helper()
	if os.Getenv("CONFORMANCE_SHRINK") == "0" {
		reportCase(t, seed, steps, "unshrunk")
		return
	}
	budget := 3 * time.Minute
	if v := os.Getenv("CONFORMANCE_SHRINK_TIME"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			budget = d
		}
	}
	deadline := time.Now().Add(budget)
	saved := replyTimeout
	replyTimeout = 2 * time.Second // a candidate may leave a request blocked
	defer func() { replyTimeout = saved }()

	kind := requestKind(failing)
	replays := 0
	var lastMsg string
	reproduces := func(cand []step) bool {
		if time.Now().After(deadline) {
			return false
		}
		replays++
		r, msg, err := replay(t, cand)
		if err != nil || r == nil || requestKind(*r) != kind {
			return false
		}
		lastMsg = msg
		return true
	}
	start := time.Now()
	last := steps[len(steps)-1]
	prefix := ddmin(steps[:len(steps)-1], func(c []step) bool {
		return reproduces(append(append([]step{}, c...), last))
	})
	cur := append(append([]step{}, prefix...), last)
	if !reproduces(cur) {
		t.Logf("shrink: the failure does not reproduce on fresh servers (timing?); the whole sequence follows")
		reportCase(t, seed, steps, "unshrunk")
		return
	}
	// Requests within steps, then operations within transacts.
	for i := range cur {
		if len(cur[i].reqs) > 1 {
			cur[i].reqs = ddmin(cur[i].reqs, func(c []request) bool {
				cand := cloneSteps(cur)
				cand[i].reqs = c
				return len(c) > 0 && reproduces(cand)
			})
		}
	}
	for i := range cur {
		for j := range cur[i].reqs {
			r := cur[i].reqs[j]
			ps, ok := r.Params.([]any)
			if r.Method != "transact" || !ok || len(ps) < 3 {
				continue
			}
			ops := ddmin(ps[1:], func(c []any) bool {
				cand := cloneSteps(cur)
				cand[i].reqs[j].Params = append([]any{ps[0]}, c...)
				return reproduces(cand)
			})
			cur[i].reqs[j].Params = append([]any{ps[0]}, ops...)
		}
	}
	n := 0
	for _, st := range cur {
		n += len(st.reqs)
	}
	t.Logf("shrink: %d replays in %v (budget %v); %d requests remain\n%s", replays,
		time.Since(start).Round(time.Millisecond), budget, n, lastMsg)
	reportCase(t, seed, cur, "shrunk")
}

func cloneSteps(steps []step) []step {
	out := make([]step, len(steps))
	for i, st := range steps {
		out[i].reqs = append([]request{}, st.reqs...)
	}
	return out
}

// requestKind classifies a request for the shrinker: a candidate must
// still fail at a request of the same kind.
func requestKind(r request) string {
	switch {
	case r.Close:
		return "close"
	case r.Raw != "":
		return "raw"
	case r.Async:
		return "async " + r.Method
	case r.Notify:
		return "notify " + r.Method
	}
	return r.Method
}

// replay sends steps to a fresh pair of servers and returns the first
// request whose outcomes differ (nil if none) with the difference.
func replay(t *testing.T, steps []step) (*request, string, error) {
	ref, test := startPair(t)
	defer ref.stop()
	defer test.stop()
	s := newSession(t, "shrink", ref, test)
	s.hashOrderTolerant, s.multi, s.quiet = true, true, true
	i := 0
	for _, st := range steps {
		for _, r := range st.reqs {
			o, err := s.send(r)
			if err != nil {
				return nil, "", err
			}
			if msg := s.judge(fmt.Sprintf("shrunk#%d", i), r, &o); msg != "" {
				return &r, msg, nil
			}
			i++
		}
	}
	return nil, "", nil
}

// ddmin returns a subsequence of items for which test still holds,
// removing chunks of halving size (Zeller's delta debugging, complements
// only); test(items) is assumed.
func ddmin[T any](items []T, test func([]T) bool) []T {
	n := 2
	for len(items) > 0 {
		if n > len(items) {
			n = len(items)
		}
		chunk := (len(items) + n - 1) / n
		reduced := false
		for i := 0; i < len(items); i += chunk {
			cand := append(append([]T{}, items[:i]...), items[min(i+chunk, len(items)):]...)
			if test(cand) {
				items, reduced = cand, true
				n = max(n-1, 2)
				break
			}
		}
		if !reduced {
			if chunk == 1 {
				break
			}
			n *= 2
		}
	}
	return items
}

// caseElements renders requests as case file elements; every element
// names its connection so that the case runs in multi-connection mode, as
// the generator does.
func caseElements(steps []step) []any {
	var out []any
	for _, st := range steps {
		for _, r := range st.reqs {
			if r.Close {
				out = append(out, map[string]any{"close": r.Conn})
				continue
			}
			e := map[string]any{"conn": r.Conn}
			switch {
			case r.Raw != "":
				e["raw"] = r.Raw
			case r.Method == "transact" && r.ID == nil && !r.Async && !r.Notify:
				if ps, ok := r.Params.([]any); ok && len(ps) > 0 && ps[0] == dbName {
					e["ops"] = ps[1:]
					break
				}
				fallthrough
			default:
				e["method"], e["params"] = r.Method, r.Params
				if r.ID != nil {
					e["id"] = r.ID
				}
				if r.Async {
					e["async"] = true
				}
				if r.Notify {
					e["notify"] = true
				}
			}
			out = append(out, e)
		}
	}
	return out
}

// caseText renders requests as a case file, one element a line.
func caseText(steps []step) string {
	var b strings.Builder
	b.WriteString("[\n")
	els := caseElements(steps)
	for i, e := range els {
		var line bytes.Buffer
		enc := json.NewEncoder(&line)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(e); err != nil {
			fmt.Fprintf(&line, "%q\n", err.Error())
		}
		b.WriteString(" " + strings.TrimSuffix(line.String(), "\n"))
		if i < len(els)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	return b.String()
}

func reportCase(t *testing.T, seed uint64, steps []step, what string) {
	t.Helper()
	text := caseText(steps)
	path := filepath.Join(os.TempDir(), fmt.Sprintf("difffuzz-seed%d.json", seed))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		path = "(not written: " + err.Error() + ")"
	}
	t.Logf("%s reproducer (case file for testdata/cases/, also in %s):\n%s", what, path, text)
}

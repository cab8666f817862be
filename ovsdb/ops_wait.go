// The wait operation: compare rows with the expected ones; an unsatisfied
// wait with time left blocks the transaction (RetryBlocked executes it
// again later).

package ovsdb

import (
	"math"

	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// errBlocked is the internal result of an unsatisfied "wait" that may block.
var errBlocked = ovsdberr.New(ovsdberr.TagNotSupported, "triggers not supported")

// execWait compares the rows matching "where", projected on "columns",
// with "rows"; unless "until" holds it fails with "timed out" once
// "timeout" has elapsed (x.elapsed), else (or without a timeout) returns
// errBlocked. x.timeout keeps the smallest timeout seen.
func execWait(x *txn, p *parser) (any, error) {
	timeoutJS := p.member("timeout", kInteger|kOptional)
	where := p.member("where", kArray)
	colsJS := p.member("columns", kArray|kOptional)
	until := p.member("until", kString)
	rowsJS := p.member("rows", kArray)
	t := x.parseTable(p, "table")
	if p.err != nil {
		return nil, p.err
	}
	conds, err := ParseConditions(t.ts, where, x.symtab)
	if err != nil {
		return nil, err
	}
	cols, err := parseColumns(colsJS, t)
	if err != nil {
		return nil, err
	}
	var timeout int64 = math.MaxInt64
	if timeoutJS != nil {
		timeout, _ = schema.AsInteger(timeoutJS)
		if timeout < 0 {
			return nil, ovsdberr.Syntax(timeoutJS, "timeout must be nonnegative")
		}
		if timeout < x.timeout {
			x.timeout = timeout
		}
	}
	u := until.(string)
	if u != "==" && u != "!=" {
		return nil, ovsdberr.Syntax(until, "\"until\" must be \"==\" or \"!=\"")
	}
	expected := map[string]bool{}
	for _, rj := range rowsJS.([]any) {
		fields := t.newFields()
		if err := x.parseRowFields(rj, t, fields); err != nil {
			return nil, err
		}
		expected[indexKey(&Row{Fields: fields}, cols)] = true
	}
	equal := true
	actual := map[string]bool{}
	x.scan(t, func(r *Row) bool {
		if !MatchAll(conds, r) {
			return true
		}
		k := indexKey(r, cols)
		if !expected[k] {
			equal = false
			return false
		}
		actual[k] = true
		return true
	})
	if equal {
		equal = len(actual) == len(expected)
	}
	if (u == "==") != equal {
		if timeoutJS != nil && x.elapsed >= timeout {
			if x.elapsed > 0 {
				return nil, ovsdberr.New(ovsdberr.TagTimedOut, "\"wait\" timed out after %d ms", x.elapsed)
			}
			return nil, ovsdberr.New(ovsdberr.TagTimedOut, "\"where\" clause test failed")
		}
		return nil, errBlocked
	}
	return map[string]any{}, nil
}

// Classification of a transaction's operations before it executes: what a
// replication mode needs to decide where and how to run it.

package ovsdb

import "github.com/ovsdb-go/ovsdb-server/schema"

// OpsClass is what a replication mode needs to know about a transaction's
// operations (the "transact" params after the database name) before
// executing them. It is computed from the operations alone, without the
// schema or the database state, and checks nothing: a malformed operation
// is classified as well as it can be and reported when the transaction
// executes.
type OpsClass struct {
	// ReadOnly: no operation can change the database, so the transaction
	// may run on any member's state without being replicated. It is true
	// when every operation is an object whose "op" names one of the
	// read-only operations (select, wait, comment, assert, abort); an
	// operation that is not an object, has no string "op" or names an
	// unknown operation counts as a write. An empty list is read-only.
	ReadOnly bool
	// Locks are the string "lock" members of the "assert" operations, in
	// operation order (duplicates kept); nil when there are none. An
	// assert whose lock is missing or not a string contributes nothing.
	Locks []string
	// WaitTimeoutMS is the smallest integer "timeout" member of the
	// "wait" operations, in milliseconds, or -1 when no wait operation has
	// one (a wait without a timeout may block for ever). Timeouts are
	// taken as given: a negative one, which the engine rejects when the
	// transaction executes, is not filtered here, and when the smallest
	// so far is negative the next timeout replaces it.
	WaitTimeoutMS int64
	// Durable: a "commit" operation has "durable": true.
	Durable bool
}

// ClassifyOps classifies ops (see OpsClass). It neither modifies ops nor
// keeps a reference to them; it is safe for concurrent use.
func ClassifyOps(ops []any) OpsClass {
	c := OpsClass{ReadOnly: true, WaitTimeoutMS: -1}
	for _, op := range ops {
		m, ok := op.(map[string]any)
		if !ok {
			c.ReadOnly = false
			continue
		}
		name, _ := m["op"].(string)
		if def, ok := operations[name]; !ok || !def.readOnly {
			c.ReadOnly = false
		}
		switch name {
		case "wait":
			if v, ok := schema.AsInteger(m["timeout"]); ok && (c.WaitTimeoutMS < 0 || v < c.WaitTimeoutMS) {
				c.WaitTimeoutMS = v
			}
		case "assert":
			if lock, ok := m["lock"].(string); ok {
				c.Locks = append(c.Locks, lock)
			}
		case "commit":
			if d, _ := m["durable"].(bool); d {
				c.Durable = true
			}
		}
	}
	return c
}

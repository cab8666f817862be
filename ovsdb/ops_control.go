// The operations that control the transaction rather than rows: commit,
// abort, comment and assert.

package ovsdb

import "github.com/ovsdb-go/ovsdb-server/ovsdberr"

// execCommit marks the transaction durable when "durable" is true.
func execCommit(x *txn, p *parser) (any, error) {
	if d := p.member("durable", kBool); d != nil && d.(bool) {
		x.durable = true
	}
	return map[string]any{}, nil
}

// execAbort fails the transaction.
func execAbort(x *txn, p *parser) (any, error) {
	return nil, ovsdberr.New(ovsdberr.TagAborted, "aborted by request")
}

// execComment records a comment for the commit (the log record).
func execComment(x *txn, p *parser) (any, error) {
	if c := p.member("comment", kString); c != nil {
		x.comments = append(x.comments, c.(string))
	}
	return map[string]any{}, nil
}

// execAssert parses an assert; whether the lock is held is checked after
// the operation's members are checked (checkAssert, from executeLocked).
func execAssert(x *txn, p *parser) (any, error) {
	p.member("lock", kID)
	return map[string]any{}, nil
}

// checkAssert fails unless the session holds the asserted lock.
func checkAssert(p *parser, opts TransactOptions) error {
	name, _ := p.obj["lock"].(string)
	if opts.HasLock != nil && opts.HasLock(name) {
		return nil
	}
	return ovsdberr.New(ovsdberr.TagNotOwner, "Asserted lock %s not held.", name)
}

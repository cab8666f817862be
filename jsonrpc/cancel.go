// Cancellation of pending requests: the "cancel" notification, online
// conversion, session end.

package jsonrpc

// cancelRequest handles the "cancel" notification for a pending request.
// Like C's execute_cancel, it answers a db-change-aware session (or any
// session with Options.ReplyOnCancel) at once with the error "canceled" and
// sends nothing to other sessions. A request whose handler has already
// returned is not affected: its reply is on its way.
func (ss *Session) cancelRequest(id any) {
	ss.mu.Lock()
	p := ss.pending[idKey(id)]
	reply := ss.dbChangeAware || ss.srv.opts.ReplyOnCancel
	if p != nil && !p.blocked {
		// Not (yet) blocked: C would have run it to its block or end.
		p.cancelOnBlock, p.replyOnBlock = true, reply
		p = nil
	}
	ss.mu.Unlock()
	if p != nil {
		ss.cancelPending([]*pendingReq{p}, reply)
	}
}

// CancelTransacts cancels the session's pending "transact" requests on
// database db and answers each with the error "canceled", as C does for
// the triggers of a database replaced by an online conversion (C then
// disconnects the sessions that are not db-change-aware instead).
func (ss *Session) CancelTransacts(db string) {
	ss.mu.Lock()
	var ps []*pendingReq
	for _, p := range ss.pending {
		if p.method == "transact" && p.db == db {
			if p.blocked {
				ps = append(ps, p)
			} else {
				// Canceled if it blocks (on the replaced database).
				p.cancelOnBlock, p.replyOnBlock = true, true
			}
		}
	}
	ss.mu.Unlock()
	ss.cancelPending(ps, true)
}

// cancelPending takes over the requests of ps whose handlers have not
// returned: they leave the pending set (their ids can be used again),
// their contexts are canceled and, if reply, each is answered with the
// JSON-RPC error "canceled" (after the session's due monitor updates, as
// every reply).
func (ss *Session) cancelPending(ps []*pendingReq, reply bool) {
	// All are marked first: a request whose predecessor is canceled
	// must not start before its own cancellation (execute checks).
	ss.mu.Lock()
	todo := make([]*pendingReq, 0, len(ps))
	for _, p := range ps {
		if p.done || p.canceled {
			continue
		}
		p.canceled = true
		if ss.pending[p.key] == p {
			delete(ss.pending, p.key)
		}
		todo = append(todo, p)
	}
	ss.mu.Unlock()
	for _, p := range todo {
		p.cancel()
		if reply && ss.ctx.Err() == nil {
			b := appendErrorReply(nil, p.id, errCanceled)
			h := ss.srv.beforeReply.Load()
			if h != nil {
				ss.beginCollect()
				(*h)(ss)
			}
			_ = ss.endCollect(b, h != nil, false)
		}
	}
}

// canceled reports whether p (nil: not cancelable) was canceled.
func (ss *Session) canceled(p *pendingReq) bool {
	if p == nil {
		return false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return p.canceled
}

// errCanceled is C's reply error for a canceled request: the bare string
// "canceled" (RFC 7047 section 4.1.4).
var errCanceled = &ErrorValue{Value: "canceled"}

// drain cancels the pending cancelable requests (without reply) and waits
// until every request read so far has been answered.
func (ss *Session) drain() {
	ss.mu.Lock()
	ps := make([]*pendingReq, 0, len(ss.pending))
	for _, p := range ss.pending {
		ps = append(ps, p)
	}
	ss.mu.Unlock()
	ss.cancelPending(ps, false)
	ss.handlers.Wait()
}

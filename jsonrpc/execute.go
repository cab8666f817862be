// Executing a session's requests: the worker and inline execution, the
// session's turn, replies.

package jsonrpc

import (
	"context"
	"errors"
	"sync"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// worker answers the requests of one queue in order: each reply is
// written before the next request of the queue runs, except that a
// transaction blocked in a "wait" hands the queue over to a new worker
// (C turns it into a trigger and goes on with the next request); the
// blocked one is answered whenever it finishes, and its worker then ends.
//
// Each request holds the session's turn while it executes and is
// answered; a blocked transaction gives it up while it
// waits and takes it again before it executes again, as C runs a trigger
// again before it reads the session's next request: its update and reply
// come after the reply of the request that satisfied its wait, before the
// next request is executed.
func (ss *Session) worker(q <-chan *inbound, wg *sync.WaitGroup) {
	defer wg.Done()
	var buf []byte
	for in := range q {
		rt := ss.startTurn(in, func() {
			wg.Add(1)
			go ss.worker(q, wg)
		}, nil)
		// Started once it has the turn: until then its input stays
		// charged (the read loop may be reading on behind a request it
		// executes itself).
		ss.cd.started(in.size)
		out := ss.execute(in)
		buf = ss.finish(in, out, buf, !rt.handedOff)
		rt.end()
		if rt.handedOff {
			return
		}
		ss.cd.busy.Add(-1)
	}
}

// reqTurn is the session turn of one ordinary request.
type reqTurn struct {
	ss                 *Session
	handedOff, holding bool
}

// startTurn takes the session's turn for in and installs the hooks of a
// transaction that waits or blocks: the first time it blocks, handOff lets
// the session go on with its next requests (and in no longer counts as
// busy); each time it blocks it gives up the turn, and it takes the turn
// again before it executes again. waiting (nil: none) is called when it
// waits for a commit. The hooks run in the caller's goroutine, inside
// execute.
func (ss *Session) startTurn(in *inbound, handOff, waiting func()) *reqTurn {
	ss.turn.Lock()
	rt := &reqTurn{ss: ss, holding: true}
	p := in.pending
	if p == nil || in.early != nil {
		return rt
	}
	in.ctx = ovsdb.WithBlockHooks(in.ctx, ovsdb.BlockHooks{
		Blocked: func() {
			if !rt.handedOff {
				rt.handedOff = true
				ss.cd.busy.Add(-1)
				handOff()
			}
			if rt.holding {
				rt.holding = false
				ss.turn.Unlock()
			}
			ss.mu.Lock()
			p.blocked = true
			cancel, reply := p.cancelOnBlock, p.replyOnBlock
			ss.mu.Unlock()
			if cancel {
				ss.cancelPending([]*pendingReq{p}, reply)
			}
		},
		Retry: func() {
			if !rt.holding {
				ss.turn.Lock()
				rt.holding = true
			}
			ss.mu.Lock()
			p.blocked = false
			ss.mu.Unlock()
		},
		Waiting: waiting,
	})
	return rt
}

// end releases the turn if the request holds it.
func (rt *reqTurn) end() {
	if rt.holding {
		rt.holding = false
		rt.ss.turn.Unlock()
	}
}

// runInline executes and answers in in the read loop's goroutine (see
// dispatch). If in waits for a commit or blocks in a "wait", reading goes
// on in a new goroutine (as C reads on while a trigger waits) and
// errHandedOff tells this one to stop reading once in is answered.
func (ss *Session) runInline(in *inbound) error {
	readingHandedOff := false
	handOff := func() {
		if !readingHandedOff {
			readingHandedOff = true
			ss.inline.Add(-1)
			go ss.readLoop()
		}
	}
	rt := ss.startTurn(in, handOff, handOff)
	ss.cd.started(in.size)
	ss.inline.Add(1)
	out := ss.execute(in)
	if readingHandedOff {
		// The new read loop owns ss.ibuf; an unblocked request is still
		// the session's current one (its "after" actions are its own).
		ss.finish(in, out, nil, !rt.handedOff)
		rt.end()
		if !rt.handedOff {
			ss.cd.busy.Add(-1)
		}
		return errHandedOff
	}
	ss.inline.Add(-1)
	ss.ibuf = ss.finish(in, out, ss.ibuf, !rt.handedOff)
	rt.end()
	if !rt.handedOff {
		ss.cd.busy.Add(-1)
	}
	return nil
}

// errHandedOff ends a read loop whose reading goes on in another goroutine.
var errHandedOff = errors.New("jsonrpc: reading handed over")

// finish writes the reply of in (unless suppressed), after the session's
// due notifications, runs what the request's handler asked to run after
// its reply and releases the request's queue slot. takeAfter is false for
// a request that finishes after its queue was handed over: the "after"
// actions then belong to the request running now.
func (ss *Session) finish(in *inbound, out outbound, buf []byte, takeAfter bool) []byte {
	var after func()
	closeAfter := false
	if takeAfter && in.early == nil {
		ss.mu.Lock()
		after, ss.after = ss.after, nil
		closeAfter, ss.closeAfter = ss.closeAfter, false
		ss.mu.Unlock()
	}
	if !out.suppress {
		h := ss.srv.beforeReply.Load()
		if h != nil {
			// What the hook sends goes out with the reply, in one write.
			ss.beginCollect()
			(*h)(ss)
		}
		if out.err != nil {
			buf = appendErrorReply(buf[:0], out.id, out.err)
		} else {
			buf = appendReply(buf[:0], out.id, out.result)
		}
		_ = ss.endCollect(buf, h != nil, closeAfter)
		if cap(buf) > 1<<20 {
			buf = nil // do not pin huge replies
		}
	}
	if after != nil {
		after()
	}
	<-ss.cd.sem
	ss.handlers.Done()
	return buf
}

func (ss *Session) execute(in *inbound) outbound {
	if in.early != nil {
		return outbound{id: in.id, err: in.early}
	}
	ctx := ss.ctx
	if in.ctx != nil {
		ctx = in.ctx
	}
	var res any
	var err error
	if ctx.Err() == nil && !ss.canceled(in.pending) {
		res, err = ss.safeCall(ctx, in)
	}
	if p := in.pending; p != nil {
		ss.mu.Lock()
		canceled := p.canceled
		p.done = true
		if !canceled {
			delete(ss.pending, p.key)
		}
		ss.mu.Unlock()
		p.cancel()
		if canceled {
			// The canceler answered (or not) in our place.
			return outbound{suppress: true}
		}
	}
	if ss.ctx.Err() != nil {
		return outbound{suppress: true}
	}
	return outbound{id: in.id, result: res, err: err}
}

func (ss *Session) safeCall(ctx context.Context, in *inbound) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			ss.srv.log.Error("panic in handler", "method", in.method, "panic", r)
			res, err = nil, ovsdberr.New(ovsdberr.TagInternal, "%v", r)
		}
	}()
	return in.m.Handler(ctx, ss, in.params)
}

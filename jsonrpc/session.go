package jsonrpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// dispatchMethod is the single rpc2 method the client routes every
// incoming notification to; the real method name travels in the argument.
const dispatchMethod = "ovsdb"

// inbound is one request or notification read from the stream.
type inbound struct {
	method string
	params []any
	id     any // nil for notifications

	m     Method
	early error // reply with this error without running a handler

	ctx     context.Context
	pending *pendingReq
	size    int64 // input bytes charged until the request starts
}

// outbound is a reply produced by a handler.
type outbound struct {
	id       any
	result   any
	err      error
	suppress bool // send nothing (canceled request, closed session)
}

// pendingReq is a cancelable request (C's trigger) read and not yet
// answered. Its fields are guarded by the session's mu.
type pendingReq struct {
	cancel context.CancelFunc
	key    string // cjson text of the id, the key in Session.pending
	id     any
	method string
	db     string // params[0] when it is a string
	// canceled: a cancel (notification, database replaced, session end)
	// took the request over; its handler's result is dropped and the
	// canceler sent whatever reply there is.
	canceled bool
	// done: the handler has returned; a cancel no longer applies and the
	// worker sends the handler's reply.
	done bool
	// blocked: the transaction is waiting in a "wait" (a C trigger).
	// Only then does a "cancel" or a conversion take it over; one that
	// arrives before sets cancelOnBlock (and reply: answer "canceled"),
	// applied if the transaction blocks. C, which runs a session's
	// requests one after another, has always executed the transaction up
	// to its block or its end before it reads the cancel.
	blocked, cancelOnBlock, replyOnBlock bool
}

// Session is one client connection.
type Session struct {
	srv   *Server
	conn  net.Conn
	id    uint64
	probe time.Duration
	cd    *serverCodec

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// turn is held by the ordinary request that is executing or being
	// answered (see worker).
	turn sync.Mutex
	// inline counts the requests a read loop is executing itself (see
	// dispatch); the prober does not probe meanwhile. ibuf is the read
	// loop's reply buffer. workers counts the worker goroutines.
	inline  atomic.Int32
	ibuf    []byte
	workers sync.WaitGroup

	wmu      sync.Mutex
	shutdown bool // read loop ended: no more notifications (guarded by wmu)
	// While collecting > 0 (a worker runs the before-reply hook), writes
	// are queued in wbuf and sent with that worker's reply in one write
	// (guarded by wmu).
	collecting int
	wbuf       []byte
	// wclosed: the connection was closed right after a reply
	// (CloseAfterReply); nothing more is written (guarded by wmu).
	wclosed  bool
	lastRecv atomic.Int64 // unix nanoseconds of the last received bytes

	mu      sync.Mutex
	pending map[string]*pendingReq
	values  map[any]any
	onClose []func()
	closed  bool
	// dbChangeAware is set by set_db_change_aware (see SetDBChangeAware).
	dbChangeAware bool
	hasLock       func(string) bool
	after         func() // see AfterReply
	closeAfter    bool   // see CloseAfterReply

	handlers sync.WaitGroup
}

func newSession(srv *Server, conn net.Conn, id uint64, probe time.Duration) *Session {
	ctx, cancel := context.WithCancel(context.Background())
	ss := &Session{
		srv:     srv,
		conn:    conn,
		id:      id,
		probe:   probe,
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		pending: map[string]*pendingReq{},
		values:  map[any]any{},
	}
	ss.lastRecv.Store(time.Now().UnixNano())
	acct := srv.budget.newAccount(fmt.Sprint(id), func() { conn.Close() }, func(victim *account, size int64) {
		srv.log.Warn("input memory budget exhausted: disconnecting the session with the largest incomplete message",
			"budget", srv.budget.limit, "victim", victim.name, "bytes", size, "for", id)
	})
	ss.cd = &serverCodec{
		ss:      ss,
		r:       newReader(activityReader{ss}, srv.opts.MaxMessageSize, acct),
		acct:    acct,
		drained: make(chan struct{}, 1),
		sem:     make(chan struct{}, srv.opts.MaxQueued),
		// The queue is as long as the semaphore allows: sends never block.
		queue: make(chan *inbound, srv.opts.MaxQueued),
	}
	return ss
}

// activityReader records the time of every successful read (C counts
// received bytes, not whole messages, as activity).
type activityReader struct{ ss *Session }

func (a activityReader) Read(p []byte) (int, error) {
	n, err := a.ss.conn.Read(p)
	if n > 0 {
		a.ss.lastRecv.Store(time.Now().UnixNano())
	}
	return n, err
}

// ID returns the session's number, unique within its server.
func (ss *Session) ID() uint64 { return ss.id }

// RemoteAddr returns the peer's address as text.
func (ss *Session) RemoteAddr() string {
	if a := ss.conn.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// Context is canceled when the session ends.
func (ss *Session) Context() context.Context { return ss.ctx }

// Done is closed when the session has ended and its handlers returned.
func (ss *Session) Done() <-chan struct{} { return ss.done }

// Server returns the server the session belongs to.
func (ss *Session) Server() *Server { return ss.srv }

// Close ends the session: the connection is closed, pending requests are
// canceled without reply and OnClose functions run.
func (ss *Session) Close() error {
	ss.cancel()
	return ss.cd.Close()
}

// OnClose registers fn to run once when the session ends (at once if it
// already has).
func (ss *Session) OnClose(fn func()) {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		fn()
		return
	}
	ss.onClose = append(ss.onClose, fn)
	ss.mu.Unlock()
}

// Set stores a per-session value (used by monitors and locks).
func (ss *Session) Set(key, value any) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.values[key] = value
}

// Get returns a per-session value.
func (ss *Session) Get(key any) (any, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	v, ok := ss.values[key]
	return v, ok
}

// SetHasLock installs the function transact uses to check lock ownership
// for the "assert" operation.
func (ss *Session) SetHasLock(fn func(name string) bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.hasLock = fn
}

// SetDBChangeAware records the session's set_db_change_aware setting. As
// in C, a db-change-aware session gets the error reply "canceled" for a
// request canceled by a "cancel" notification or by the replacement of its
// database (CancelTransacts); other sessions get no reply at all.
func (ss *Session) SetDBChangeAware(b bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.dbChangeAware = b
}

// DBChangeAware reports the session's set_db_change_aware setting.
func (ss *Session) DBChangeAware() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.dbChangeAware
}

// TransactOptions returns the options for a transaction of this session.
func (ss *Session) TransactOptions() ovsdb.TransactOptions {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ovsdb.TransactOptions{HasLock: ss.hasLock}
}

// AfterReply registers fn to run right after the reply to the request
// whose handler is running is written (or dropped). Handlers run one at a
// time per session (a transaction blocked in "wait" excepted). Monitors
// use it to hold back updates until the client has the monitor's reply.
func (ss *Session) AfterReply(fn func()) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.after = fn
}

// CloseAfterReply makes the session close its connection as soon as the
// reply to the running request is written, in the same critical section,
// so that nothing else (a reply to a pipelined echo, an update) is written
// after that reply: C disconnects before it reads further input.
func (ss *Session) CloseAfterReply() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.closeAfter = true
}

// ErrSessionClosed is returned when sending on an ended session.
var ErrSessionClosed = errors.New("jsonrpc: session closed")

// Notify sends a notification {"id":null,"method":method,"params":params}.
// Notifications and replies are written in the order of the calls that
// produce them, so a notification sent by a handler precedes its reply.
// params may be a json.RawMessage serialised once for many sessions.
func (ss *Session) Notify(method string, params any) error {
	b := appendNotify(nil, method, params)
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	if ss.shutdown {
		return ErrSessionClosed
	}
	if err := ss.writeLocked(b); err != nil {
		return ErrSessionClosed
	}
	return nil
}

func (ss *Session) write(b []byte) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	return ss.writeLocked(b)
}

// maxCollect bounds the bytes queued while collecting: beyond it the queue
// is written at once (huge updates gain nothing from sharing a write).
const maxCollect = 64 << 10

// writeLocked writes b after whatever is queued, or queues it while a
// before-reply hook runs. Called with wmu held.
func (ss *Session) writeLocked(b []byte) error {
	if ss.wclosed {
		return ErrSessionClosed
	}
	if ss.collecting > 0 && len(ss.wbuf)+len(b) <= maxCollect {
		ss.wbuf = append(ss.wbuf, b...)
		return nil
	}
	if len(ss.wbuf) > 0 {
		if len(ss.wbuf)+len(b) <= maxCollect {
			b = append(ss.wbuf, b...)
		} else if _, err := ss.conn.Write(ss.wbuf); err != nil {
			ss.wbuf = ss.wbuf[:0]
			return err
		}
		ss.wbuf = ss.wbuf[:0]
	}
	_, err := ss.conn.Write(b)
	if cap(ss.wbuf) > maxCollect {
		ss.wbuf = nil
	}
	return err
}

// beginCollect and endCollect bracket a before-reply hook: notifications
// it sends are written together with the reply that follows.
func (ss *Session) beginCollect() {
	ss.wmu.Lock()
	ss.collecting++
	ss.wmu.Unlock()
}

// endCollect ends collecting and writes reply (with the queue); with
// closeAfter it then closes the connection (see CloseAfterReply).
func (ss *Session) endCollect(reply []byte, collected, closeAfter bool) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	if collected {
		ss.collecting--
	}
	err := ss.writeLocked(reply)
	if closeAfter && !ss.wclosed {
		ss.wclosed = true
		ss.cancel()
		_ = ss.cd.Close()
	}
	return err
}

func (ss *Session) run() {
	log := ss.srv.log.With("session", ss.id, "remote", ss.RemoteAddr())
	log.Debug("session opened")
	if ss.probe > 0 {
		go ss.prober(log)
	}
	ss.workers.Add(1)
	go ss.worker(ss.cd.queue, &ss.workers)
	ss.readLoop()
	<-ss.done // another read loop may have ended the session
}

// end ends the session once its input has ended: it is called by the
// read loop that read last (a read loop executing a request hands reading
// over to a new one when the request takes long or blocks).
func (ss *Session) end() {
	log := ss.srv.log.With("session", ss.id, "remote", ss.RemoteAddr())
	close(ss.cd.queue)
	ss.cancel()
	ss.cd.Close()
	ss.handlers.Wait()
	ss.workers.Wait()
	ss.mu.Lock()
	ss.closed = true
	hooks := ss.onClose
	ss.onClose = nil
	ss.mu.Unlock()
	for i := len(hooks) - 1; i >= 0; i-- {
		hooks[i]()
	}
	if err := ss.cd.readErr; err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		log.Warn("closing session", "err", err)
	} else {
		log.Debug("session closed")
	}
	close(ss.done)
}

// prober implements the inactivity probe: after an interval without
// received data it sends an echo request with id "echo", and closes the
// session if another interval passes without any data.
func (ss *Session) prober(log interface{ Warn(string, ...any) }) {
	iv := ss.probe
	t := time.NewTimer(iv)
	defer t.Stop()
	idle := false
	var idleSince int64
	for {
		select {
		case <-ss.ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		if ss.inline.Load() > 0 {
			// The read loop executes a request: it reads nothing
			// meanwhile (C, one loop, probes only between requests).
			ss.lastRecv.Store(now)
		}
		last := ss.lastRecv.Load()
		switch {
		case idle && last > idleSince:
			idle = false
			fallthrough
		case !idle:
			if el := time.Duration(now - last); el < iv {
				t.Reset(iv - el)
				continue
			}
			idle, idleSince = true, now
			if err := ss.write(appendRequest(nil, "echo", "echo", []any{})); err != nil {
				return
			}
			t.Reset(iv)
		default:
			log.Warn("no response to inactivity probe, disconnecting", "interval", iv, "session", ss.id)
			ss.Close()
			return
		}
	}
}

// worker answers the requests of one queue in order: each reply is
// written before the next request of the queue runs, except that a
// transaction blocked in a "wait" hands the queue over to a new worker
// (C turns it into a trigger and goes on with the next request); the
// blocked one is answered whenever it finishes, and its worker then ends.
//
// Each request holds the session's turn while it
// execute and are answered; a blocked transaction gives it up while it
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
func (ss *Session) finish(in *inbound, out *outbound, buf []byte, takeAfter bool) []byte {
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

func (ss *Session) execute(in *inbound) *outbound {
	if in.early != nil {
		return &outbound{id: in.id, err: in.early}
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
			return &outbound{suppress: true}
		}
	}
	if ss.ctx.Err() != nil {
		return &outbound{suppress: true}
	}
	return &outbound{id: in.id, result: res, err: err}
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

// cancelRequest handles the "cancel" notification for a pending request.
// Like C's execute_cancel, it answers a db-change-aware session (or any
// session with Options.ReplyOnCancel) at once with the error "canceled" and
// sends nothing to other sessions. A request whose handler has already
// returned is not affected: its reply is on its way.
func (ss *Session) cancelRequest(id any) {
	ss.mu.Lock()
	p := ss.pending[cjson.String(id)]
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

// serverCodec reads the JSON-RPC stream of a session and queues its
// requests. Writes are serialised by the session's write lock.
type serverCodec struct {
	ss      *Session
	r       *reader
	acct    *account // input budget (nil: none)
	dec     fastDecoder
	sem     chan struct{}
	queue   chan *inbound // ordinary requests, answered in order
	readErr error

	// busy counts the requests dispatched and not yet answered, except
	// those blocked in a "wait" (see dispatch).
	busy atomic.Int64

	// queued counts the input bytes of requests read and not yet started;
	// the read loop waits on drained while they reach maxQueuedInput.
	queued  atomic.Int64
	waiting atomic.Bool
	drained chan struct{}

	closeOnce sync.Once
}

// started releases the input charge of a request that starts (or is
// dropped).
func (c *serverCodec) started(size int64) {
	if size == 0 {
		return
	}
	c.acct.release(size)
	if c.queued.Add(-size) < maxQueuedInput && c.waiting.Load() {
		select {
		case c.drained <- struct{}{}:
		default:
		}
	}
}

// waitQueued waits until the requests read and not yet started hold less
// than maxQueuedInput bytes (false: the session ended meanwhile).
func (c *serverCodec) waitQueued() bool {
	if c.queued.Load() < maxQueuedInput {
		return true
	}
	c.waiting.Store(true)
	defer c.waiting.Store(false)
	for c.queued.Load() >= maxQueuedInput {
		select {
		case <-c.drained:
		case <-c.ss.ctx.Done():
			return false
		}
	}
	return true
}

// readLoop reads and dispatches messages until the stream ends or breaks,
// then stops notifications, closes the connection and ends the session. It
// returns early when a request it executed took long or blocked and
// another read loop took over.
func (ss *Session) readLoop() {
	c := ss.cd
	for {
		if !c.waitQueued() {
			break
		}
		m, err := c.readMessage()
		if err != nil {
			c.readErr = err
			if errors.Is(err, errProtocol) {
				// Like C, answer what was received before the bad message,
				// dropping requests that would still have to wait.
				ss.drain()
			}
			break
		}
		if err := c.dispatch(m); err != nil {
			if err == errHandedOff {
				return
			}
			break
		}
	}
	ss.wmu.Lock()
	ss.shutdown = true
	ss.wmu.Unlock()
	c.Close()
	ss.end()
}

// pipelined reports whether the read buffer holds more than white space:
// the start of another message the client sent without waiting.
func (c *serverCodec) pipelined() bool {
	r := c.r
	for _, b := range r.buf[r.r:r.w] {
		switch b {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return true
	}
	return false
}

// readMessage returns the next request or notification. Its input charge
// (m.size) is the caller's to release.
func (c *serverCodec) readMessage() (*message, error) {
	for {
		raw, size, err := c.r.next()
		if err != nil {
			return nil, err
		}
		v, err := decodeWith(&c.dec, raw)
		if err != nil {
			c.acct.release(size)
			return nil, err
		}
		m, err := parseMessage(v)
		if err != nil {
			c.acct.release(size)
			return nil, err
		}
		m.size = size
		switch m.kind {
		case kindRequest, kindNotify:
			return m, nil
		case kindReply:
			if m.id == "echo" {
				c.acct.release(size)
				continue // reply to our inactivity probe
			}
		}
		c.acct.release(size)
		return nil, fmt.Errorf("%w: received unexpected %s message", errProtocol, kindNames[m.kind])
	}
}

// dispatch handles a notification at once and queues a request.
func (c *serverCodec) dispatch(m *message) error {
	ss := c.ss
	if m.kind == kindNotify {
		if h := ss.srv.notify(m.method); h != nil {
			h(ss, m.params)
		}
		c.acct.release(m.size)
		return nil
	}
	in := &inbound{method: m.method, params: m.params, id: m.id, size: m.size}
	meth, ok := ss.srv.method(m.method)
	switch {
	case !ok:
		in.early = &ErrorValue{Value: "unknown method"}
	default:
		in.m = meth
	}
	if ok && meth.Cancelable {
		key := cjson.String(m.id)
		ss.mu.Lock()
		if _, dup := ss.pending[key]; dup {
			in.early = ovsdberr.Syntax(normalize(m.params), "%s: duplicate request ID", m.method)
		} else {
			ctx, cancel := context.WithCancel(ss.ctx)
			in.ctx = ctx
			in.pending = &pendingReq{cancel: cancel, key: key, id: m.id, method: m.method}
			if len(m.params) > 0 {
				in.pending.db, _ = m.params[0].(string)
			}
			ss.pending[key] = in.pending
		}
		ss.mu.Unlock()
	}
	// Backpressure: stop reading while too many requests are queued.
	select {
	case c.sem <- struct{}{}:
	case <-ss.ctx.Done():
		c.acct.release(in.size)
		return ErrSessionClosed
	}
	c.queued.Add(in.size)
	ss.handlers.Add(1)
	// A request that finds nothing before it and no other message read
	// behind it runs here, in the read loop, as C's one loop runs it: no
	// hand-over to the worker (a goroutine wake-up and the wake of another
	// thread per request; measured 47 against 27 us of server CPU per
	// single-client insert). Requests the client sent without waiting
	// (pipelined) go to the worker, so that reading and decoding the next
	// ones overlaps their execution; busy keeps the order either way.
	if c.busy.Add(1) == 1 && !c.pipelined() {
		return ss.runInline(in)
	}
	c.queue <- in
	return nil
}

func (c *serverCodec) Close() error {
	var err error
	c.closeOnce.Do(func() { err = c.ss.conn.Close() })
	return err
}

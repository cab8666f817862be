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

	"github.com/cenkalti/rpc2"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// dispatchMethod is the single rpc2 method every request is routed to; the
// real method name travels in the argument.
const dispatchMethod = "ovsdb"

// inbound is one request or notification handed from the codec to rpc2.
type inbound struct {
	method string
	params []any
	id     any // nil for notifications

	m     Method
	early error // reply with this error without running a handler

	// ordering: wait for prev, close next when done (nil when immediate)
	prev, next chan struct{}

	ctx     context.Context
	pending *pendingReq
}

// outbound is a reply handed from a handler back to the codec.
type outbound struct {
	id       any
	result   any
	err      error
	suppress bool   // send nothing (canceled request, closed session)
	release  func() // called once the reply is written
}

type pendingReq struct {
	cancel   context.CancelFunc
	canceled bool
}

// Session is one client connection.
type Session struct {
	srv   *Server
	conn  net.Conn
	id    uint64
	probe time.Duration
	rc    *rpc2.Client
	cd    *serverCodec

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	wmu      sync.Mutex
	lastRecv atomic.Int64 // unix nanoseconds of the last received bytes

	mu      sync.Mutex
	pending map[string]*pendingReq
	values  map[any]any
	onClose []func()
	closed  bool
	hasLock func(string) bool

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
	ss.cd = &serverCodec{
		ss:  ss,
		r:   newReader(activityReader{ss}, srv.opts.MaxMessageSize),
		sem: make(chan struct{}, srv.opts.MaxQueued),
	}
	ss.rc = rpc2.NewClientWithCodec(ss.cd)
	ss.rc.Handle(dispatchMethod, ss.handle)
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

// TransactOptions returns the options for a transaction of this session.
func (ss *Session) TransactOptions() ovsdb.TransactOptions {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ovsdb.TransactOptions{HasLock: ss.hasLock}
}

// ErrSessionClosed is returned when sending on an ended session.
var ErrSessionClosed = errors.New("jsonrpc: session closed")

// Notify sends a notification {"id":null,"method":method,"params":params}.
// Notifications and replies are written in the order of the calls that
// produce them, so a notification sent by a handler precedes its reply.
// params may be a json.RawMessage serialised once for many sessions.
func (ss *Session) Notify(method string, params any) error {
	if err := ss.rc.Notify(method, params); err != nil {
		return ErrSessionClosed
	}
	return nil
}

func (ss *Session) write(b []byte) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	_, err := ss.conn.Write(b)
	return err
}

func (ss *Session) run() {
	log := ss.srv.log.With("session", ss.id, "remote", ss.RemoteAddr())
	log.Debug("session opened")
	if ss.probe > 0 {
		go ss.prober(log)
	}
	ss.rc.Run()
	ss.cancel()
	ss.cd.Close()
	ss.handlers.Wait()
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

// handle is the rpc2 handler for every request and notification. The
// reply is written by the codec (WriteResponse), which then releases the
// request's place in the session's order, so replies leave in order too.
func (ss *Session) handle(_ *rpc2.Client, arg any, reply *any) error {
	in := arg.(*inbound)
	release := func() {
		if in.next != nil {
			close(in.next)
		}
		<-ss.cd.sem
		ss.handlers.Done()
	}
	if in.id == nil {
		release() // notifications were handled in the read loop
		return nil
	}
	out := ss.execute(in)
	out.release = release
	*reply = out
	return nil
}

func (ss *Session) execute(in *inbound) *outbound {
	if in.prev != nil {
		<-in.prev
	}
	if in.early != nil {
		return &outbound{id: in.id, err: in.early}
	}
	ctx := ss.ctx
	if in.ctx != nil {
		ctx = in.ctx
	}
	var res any
	var err error
	if ctx.Err() == nil {
		res, err = ss.safeCall(ctx, in)
	}
	if in.pending != nil {
		ss.mu.Lock()
		canceled := in.pending.canceled
		delete(ss.pending, cjson.String(in.id))
		ss.mu.Unlock()
		in.pending.cancel()
		if canceled {
			if !ss.srv.opts.ReplyOnCancel {
				return &outbound{suppress: true}
			}
			return &outbound{id: in.id, err: ovsdberr.Tagged(ovsdberr.TagCanceled)}
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
func (ss *Session) cancelRequest(id any) {
	ss.mu.Lock()
	p := ss.pending[cjson.String(id)]
	if p != nil {
		p.canceled = true
	}
	ss.mu.Unlock()
	if p != nil {
		p.cancel()
	}
}

// drain cancels the pending cancelable requests (without reply) and waits
// until every request read so far has been answered.
func (ss *Session) drain() {
	ss.mu.Lock()
	for _, p := range ss.pending {
		p.canceled = true
		p.cancel()
	}
	ss.mu.Unlock()
	ss.handlers.Wait()
}

// serverCodec adapts the JSON-RPC stream to rpc2. All reads happen on the
// rpc2 read loop; writes are serialised by the session's write lock.
type serverCodec struct {
	ss      *Session
	r       *reader
	cur     *message
	seq     uint64
	tail    chan struct{} // last ordinary request
	itail   chan struct{} // last immediate request
	sem     chan struct{}
	readErr error

	closeOnce sync.Once
}

func (c *serverCodec) ReadHeader(req *rpc2.Request, _ *rpc2.Response) error {
	m, err := c.readMessage()
	if err != nil {
		c.readErr = err
		if errors.Is(err, errProtocol) {
			// Like C, answer what was received before the bad message,
			// dropping requests that would still have to wait.
			c.ss.drain()
		}
		return err
	}
	if m.kind == kindRequest {
		c.seq++
		req.Seq = c.seq
	} else {
		req.Seq = 0
	}
	req.Method = dispatchMethod
	c.cur = m
	return nil
}

// readMessage returns the next request or notification.
func (c *serverCodec) readMessage() (*message, error) {
	for {
		raw, err := c.r.next()
		if err != nil {
			return nil, err
		}
		v, err := decodeValue(raw)
		if err != nil {
			return nil, err
		}
		m, err := parseMessage(v)
		if err != nil {
			return nil, err
		}
		switch m.kind {
		case kindRequest, kindNotify:
			return m, nil
		case kindReply:
			if m.id == "echo" {
				continue // reply to our inactivity probe
			}
		}
		return nil, fmt.Errorf("%w: received unexpected %s message", errProtocol, kindNames[m.kind])
	}
}

func (c *serverCodec) ReadRequestBody(body any) error {
	m := c.cur
	c.cur = nil
	if body == nil || m == nil {
		return nil
	}
	ss := c.ss
	in := &inbound{method: m.method, params: m.params, id: m.id}
	if m.kind == kindNotify {
		if h := ss.srv.notify(m.method); h != nil {
			h(ss, m.params)
		}
	} else {
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
				meth.Immediate = true
			} else {
				ctx, cancel := context.WithCancel(ss.ctx)
				in.ctx = ctx
				in.pending = &pendingReq{cancel: cancel}
				ss.pending[key] = in.pending
			}
			ss.mu.Unlock()
		}
		// Two FIFOs: ordinary requests wait for all earlier ordinary
		// requests; immediate ones only for earlier immediate ones.
		in.next = make(chan struct{})
		if !ok || !meth.Immediate {
			in.prev, c.tail = c.tail, in.next
		} else {
			in.prev, c.itail = c.itail, in.next
		}
	}
	// Backpressure: stop reading while too many requests are queued.
	select {
	case c.sem <- struct{}{}:
	case <-ss.ctx.Done():
		return ErrSessionClosed
	}
	ss.handlers.Add(1)
	*(body.(*any)) = in
	return nil
}

func (c *serverCodec) ReadResponseBody(any) error { return nil }

func (c *serverCodec) WriteRequest(r *rpc2.Request, body any) error {
	if r.Seq != 0 {
		return errors.New("jsonrpc: server sessions send only notifications")
	}
	return c.ss.write(appendNotify(nil, r.Method, body))
}

func (c *serverCodec) WriteResponse(_ *rpc2.Response, body any) error {
	p, ok := body.(*any)
	if !ok || p == nil {
		return nil
	}
	out, ok := (*p).(*outbound)
	if !ok {
		return nil
	}
	if out.release != nil {
		defer out.release()
	}
	if out.suppress {
		return nil
	}
	var b []byte
	if out.err != nil {
		b = appendErrorReply(nil, out.id, out.err)
	} else {
		b = appendReply(nil, out.id, out.result)
	}
	return c.ss.write(b)
}

func (c *serverCodec) Close() error {
	var err error
	c.closeOnce.Do(func() { err = c.ss.conn.Close() })
	return err
}

package jsonrpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
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
	srv  *Server
	conn net.Conn
	id   uint64
	name string // see Name; "" for the peer's address
	cd   *serverCodec

	// probe is the inactivity probe interval in nanoseconds (<= 0: none);
	// probeWake tells a running prober that it changed. pmu guards
	// running (run has started) and proberOn (a prober goroutine runs).
	probe     atomic.Int64
	probeWake chan struct{}
	pmu       sync.Mutex
	running   bool
	proberOn  bool
	// probeIdle is true while a probe is unanswered (C's IDLE state).
	probeIdle atomic.Bool
	// endCause says who ended the session first (endLocal: Close;
	// endProbe: the inactivity probe); 0: the connection itself.
	endCause atomic.Int32

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
	// nbuf is Notify's buffer, reused (guarded by wmu).
	nbuf []byte
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
	readOnly      bool   // see SetReadOnly
	role          string // see SetRole
	after         func() // see AfterReply
	closeAfter    bool   // see CloseAfterReply

	handlers sync.WaitGroup
}

func newSession(srv *Server, conn net.Conn, id uint64, probe time.Duration) *Session {
	ctx, cancel := context.WithCancel(context.Background())
	ss := &Session{
		srv:       srv,
		conn:      conn,
		id:        id,
		probeWake: make(chan struct{}, 1),
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		pending:   map[string]*pendingReq{},
		values:    map[any]any{},
	}
	ss.probe.Store(int64(max(probe, 0)))
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

// Name returns the session's name in log lines, as C names its stream:
// "unix#N" or "tcp:IP:PORT" for a session accepted by Serve, the peer's
// address (RemoteAddr) for one given to ServeConn.
func (ss *Session) Name() string {
	if ss.name != "" {
		return ss.name
	}
	return ss.RemoteAddr()
}

// ProbeInterval returns the session's inactivity probe interval (0: none).
func (ss *Session) ProbeInterval() time.Duration { return time.Duration(ss.probe.Load()) }

// SetProbeInterval changes the session's inactivity probe interval (0 or
// negative: none), taking effect at once, as C applies a remote's new
// inactivity_probe to its open sessions. The idle time already spent
// counts against the new interval.
func (ss *Session) SetProbeInterval(d time.Duration) {
	d = max(d, 0)
	ss.probe.Store(int64(d))
	ss.pmu.Lock()
	start := d > 0 && ss.running && !ss.proberOn && ss.ctx.Err() == nil
	if start {
		ss.proberOn = true
	}
	ss.pmu.Unlock()
	if start {
		go ss.prober()
		return
	}
	select {
	case ss.probeWake <- struct{}{}:
	default:
	}
}

// LastActivity returns when data was last received on the session (its
// start if none was).
func (ss *Session) LastActivity() time.Time { return time.Unix(0, ss.lastRecv.Load()) }

// SetReadOnly makes the session's transactions refuse every operation
// that may modify a database, as C does for the sessions of a remote
// configured read_only (TransactOptions.ReadOnly).
func (ss *Session) SetReadOnly(b bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.readOnly = b
}

// ReadOnly reports whether the session is read-only: its own setting
// (SetReadOnly) or its server's (Server.SetReadOnly).
func (ss *Session) ReadOnly() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.readOnly || ss.srv.readOnly.Load()
}

// SetRole records the RBAC role of the remote the session came from (C's
// remote role, from the role column of its row); "" means none.
func (ss *Session) SetRole(role string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.role = role
}

// Role returns the session's RBAC role ("" if none).
func (ss *Session) Role() string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.role
}

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
	ss.endCause.CompareAndSwap(0, endLocal)
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

// TransactOptions returns the options for a transaction of this session,
// with its RBAC role (SetRole) and id (PeerID).
func (ss *Session) TransactOptions() ovsdb.TransactOptions {
	id, hasID := ss.PeerID()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ovsdb.TransactOptions{HasLock: ss.hasLock, ReadOnly: ss.readOnly || ss.srv.readOnly.Load(),
		Role: ss.role, ClientID: id, HasClientID: hasID}
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
//
// The notification is built in a buffer the session keeps for the next
// one (under the write lock: writeLocked copies what it queues and writes
// the rest at once), so a monitor update shared by many sessions costs no
// allocation per session.
func (ss *Session) Notify(method string, params any) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	if ss.shutdown {
		return ErrSessionClosed
	}
	b := appendNotify(ss.nbuf[:0], method, params)
	err := ss.writeLocked(b)
	if cap(b) <= maxCollect {
		ss.nbuf = b[:0]
	} else {
		ss.nbuf = nil // do not pin huge updates
	}
	if err != nil {
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
	ss.pmu.Lock()
	ss.running = true
	if ss.probe.Load() > 0 {
		ss.proberOn = true
		go ss.prober()
	}
	ss.pmu.Unlock()
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

// Who ended a session first (Session.endCause).
const (
	endLocal int32 = 1 + iota // Close
	endProbe                  // no answer to the inactivity probe
)

// endError is why the session ended, in the terms of C's reconnect
// machine: errProbeTimeout, io.EOF (the peer closed the connection), the
// read error, or nil (closed by this side or without error).
func (ss *Session) endError() error {
	switch ss.endCause.Load() {
	case endProbe:
		return errProbeTimeout
	case endLocal:
		return nil
	}
	err := ss.cd.readErr
	if err == nil || errors.Is(err, io.EOF) {
		return io.EOF
	}
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// prober implements the inactivity probe as C's reconnect machine does:
// after an interval without received data it sends an echo request with
// id "echo", and closes the session if another interval passes without
// any data. The interval is read anew at each step (SetProbeInterval
// wakes it); the prober ends when it becomes 0.
func (ss *Session) prober() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	idle := false
	var idleSince int64
	for {
		iv := ss.probe.Load()
		if iv <= 0 {
			ss.pmu.Lock()
			if ss.probe.Load() <= 0 {
				ss.proberOn = false
				ss.pmu.Unlock()
				ss.probeIdle.Store(false)
				return
			}
			ss.pmu.Unlock()
			continue
		}
		now := time.Now().UnixNano()
		if ss.inline.Load() > 0 {
			// The read loop executes a request: it reads nothing
			// meanwhile (C, one loop, probes only between requests).
			ss.lastRecv.Store(now)
		}
		last := ss.lastRecv.Load()
		if idle && last > idleSince {
			idle = false
			ss.probeIdle.Store(false)
		}
		var wait int64
		switch {
		case !idle && now-last < iv:
			wait = iv - (now - last)
		case !idle:
			idle, idleSince = true, now
			ss.probeIdle.Store(true)
			if err := ss.write(appendRequest(nil, "echo", "echo", []any{})); err != nil {
				return
			}
			wait = iv
		case now-idleSince < iv:
			wait = iv - (now - idleSince)
		default:
			ss.srv.log.Error(fmt.Sprintf("%s: no response to inactivity probe after %s seconds, disconnecting",
				ss.Name(), strconv.FormatFloat(time.Duration(now-idleSince).Seconds(), 'g', 3, 64)), "module", "reconnect")
			ss.endCause.CompareAndSwap(0, endProbe)
			ss.Close()
			return
		}
		t.Reset(time.Duration(wait))
		select {
		case <-ss.ctx.Done():
			return
		case <-t.C:
		case <-ss.probeWake:
		}
	}
}

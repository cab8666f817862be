package jsonrpc

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
)

// Database is what the JSON-RPC layer needs from one database.
type Database interface {
	Name() string
	// SchemaJSON returns the get_schema result.
	SchemaJSON() any
	// Transact executes the operations (the transact params after the
	// database name) and returns the result array.
	Transact(ctx context.Context, ops []any, opts ovsdb.TransactOptions) []any
	// Engine returns the database's engine (its applied state), for the
	// methods registered on top of this package (monitors); it may be nil
	// for a database that has none.
	Engine() *ovsdb.Database
}

// Backend is the set of databases served.
type Backend interface {
	// ListDBs returns the list_dbs result, including "_Server" when the
	// server provides it.
	ListDBs() []string
	// Database returns the named database or nil.
	Database(name string) Database
	// ServerID returns the get_server_id result.
	ServerID() string
}

// Handler executes one request (or notification, then the result is
// ignored). params is the decoded "params" array (numbers are
// json.Number). A non-nil error becomes the reply's "error" member:
// *ovsdberr.Error renders as {"error","details","syntax"}, *ErrorValue as
// its value. The result is serialised with internal/cjson; json.RawMessage
// values are copied verbatim.
type Handler func(ctx context.Context, s *Session, params []any) (any, error)

// Method describes a registered request method.
type Method struct {
	Handler Handler
	// Cancelable methods can be canceled with the "cancel" notification
	// and reject a request id that is still pending ("duplicate request
	// ID"), like C's triggers (transact, convert).
	Cancelable bool
}

// NotifyHandler handles a notification received from a client. It runs in
// the session's read loop and must not block.
type NotifyHandler func(s *Session, params []any)

// Options configure a Server.
type Options struct {
	// MaxMessageSize bounds one received message; 0 means
	// DefaultMaxMessageSize. A larger message closes the connection (C has
	// no such limit). Besides it, a session buffers its 16 KiB read buffer
	// and up to about 1 MiB of requests read and not yet started (it stops
	// reading meanwhile).
	MaxMessageSize int
	// InputBudget bounds the input bytes buffered by all sessions
	// together: messages being read and requests not yet started. 0 means
	// DefaultInputBudget, negative no bound. When a session needs more, the
	// session holding the largest incomplete message is disconnected (the
	// one asking, if it holds the largest); see jsonrpc/DESIGN.md. A budget
	// below MaxMessageSize lowers the largest message that can be received.
	InputBudget int64
	// ProbeInterval is the inactivity probe of the sessions accepted on
	// TCP listeners (Serve); 0 means C's default of 5 s, negative disables
	// it. Unix sockets have no probe.
	ProbeInterval time.Duration
	// ReplyOnCancel makes every canceled transact answered with the error
	// "canceled" as RFC 7047 describes. The C server 3.1 answers so only
	// the sessions that are db-change-aware (Session.SetDBChangeAware) and
	// sends no reply at all to the others, which is the default.
	ReplyOnCancel bool
	// MaxQueued bounds the requests of one session read but not yet
	// answered; reading pauses when it is reached. 0 means 1024.
	MaxQueued int
	// Logger defaults to slog.Default() with module=jsonrpc.
	Logger *slog.Logger
}

// DefaultProbeInterval is C's default inactivity probe for TCP remotes.
const DefaultProbeInterval = 5 * time.Second

// Server serves JSON-RPC sessions for a Backend.
type Server struct {
	backend Backend
	opts    Options
	log     *slog.Logger
	budget  *budget // nil: none

	mu        sync.RWMutex
	methods   map[string]Method
	notifies  map[string]NotifyHandler
	builtins  map[string]bool // methods and notifications of registerBuiltins
	listeners map[net.Listener]struct{}
	// handshaking holds the accepted TLS connections whose handshake
	// runs (tls.go); Close closes them.
	handshaking map[net.Conn]struct{}
	sessions    map[*Session]struct{}
	actives     map[*Active]struct{}
	onOpen      []func(*Session)
	closed      bool
	nextID      uint64
	wg          sync.WaitGroup

	// unixSeq numbers the sessions accepted on unix sockets ("unix#N").
	unixSeq atomic.Uint64

	// beforeReply runs before every reply is written (see SetBeforeReply).
	beforeReply atomic.Pointer[func(*Session)]
	// afterTransact runs after every transaction (see SetAfterTransact).
	afterTransact atomic.Pointer[func(*Session, Database)]
	// readOnly makes every session read-only (see SetReadOnly).
	readOnly atomic.Bool
}

// NewServer returns a server with the built-in OVSDB methods registered.
func NewServer(b Backend, opts Options) *Server {
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = DefaultMaxMessageSize
	}
	if opts.ProbeInterval == 0 {
		opts.ProbeInterval = DefaultProbeInterval
	}
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = 1024
	}
	if opts.InputBudget == 0 {
		opts.InputBudget = DefaultInputBudget
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.Default()
	}
	s := &Server{
		backend:   b,
		opts:      opts,
		log:       lg.With("module", "jsonrpc"),
		methods:   map[string]Method{},
		notifies:  map[string]NotifyHandler{},
		builtins:  map[string]bool{},
		listeners: map[net.Listener]struct{}{},
		sessions:  map[*Session]struct{}{},
	}
	if opts.InputBudget > 0 {
		s.budget = newBudget(opts.InputBudget)
	}
	s.registerBuiltins()
	return s
}

// Register adds or replaces a request method. Register before serving:
// sessions look methods up at dispatch time, so later registrations apply
// to later requests. Replacing a built-in method (list_dbs, get_schema,
// transact, get_server_id, echo) is a programming error: Register panics.
// To act on every transaction, use SetAfterTransact.
func (s *Server) Register(name string, m Method) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.builtins[name] {
		panic("jsonrpc: Register: " + name + " is a built-in method")
	}
	s.methods[name] = m
}

// RegisterNotify adds or replaces a handler for a client notification. It
// panics for the built-in "cancel", as Register does.
func (s *Server) RegisterNotify(name string, h NotifyHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.builtins["notify "+name] {
		panic("jsonrpc: RegisterNotify: " + name + " is a built-in notification")
	}
	s.notifies[name] = h
}

// SetReadOnly makes every session of the server read-only (true) or
// leaves each to its own setting (false), at once for the open sessions
// and for those to come: C's ovsdb_jsonrpc_server_set_read_only, which a
// backup server of active-backup replication sets. A read-only session's
// transactions refuse every operation that may modify a database and its
// lock, steal and unlock requests are refused (Session.ReadOnly). Unlike
// C, turning it off leaves the sessions of a remote configured read_only
// read-only.
func (s *Server) SetReadOnly(b bool) { s.readOnly.Store(b) }

// ReadOnly reports the SetReadOnly setting.
func (s *Server) ReadOnly() bool { return s.readOnly.Load() }

// OnSession registers a function called for every new session before its
// first message is read.
func (s *Server) OnSession(fn func(*Session)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onOpen = append(s.onOpen, fn)
}

// SetBeforeReply installs fn, called with the session before each reply
// (result or error) is written, from the goroutine writing it. Monitors use
// it to write a session's already-due updates first, as C flushes them
// before any reply. fn must not write a reply itself; nil removes it.
func (s *Server) SetBeforeReply(fn func(*Session)) {
	if fn == nil {
		s.beforeReply.Store(nil)
		return
	}
	s.beforeReply.Store(&fn)
}

// SetAfterTransact installs fn, called by the built-in "transact" with the
// session and the database when a transaction has returned its result
// (committed, failed or canceled), in the handler's goroutine, before the
// reply is written (and before the before-reply hook). Monitors use it to
// queue the updates of the session's own commit ahead of the reply, as C
// does. nil removes it.
func (s *Server) SetAfterTransact(fn func(*Session, Database)) {
	if fn == nil {
		s.afterTransact.Store(nil)
		return
	}
	s.afterTransact.Store(&fn)
}

func (s *Server) method(name string) (Method, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.methods[name]
	return m, ok
}

func (s *Server) notify(name string) NotifyHandler {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.notifies[name]
}

// InputBuffered reports the input bytes the sessions hold against the
// budget (Options.InputBudget): messages being read and requests not yet
// started.
func (s *Server) InputBuffered() int64 { return s.budget.Used() }

// ErrServerClosed is returned by operations on a closed server.
var ErrServerClosed = errors.New("jsonrpc: server closed")

// Sessions returns the open sessions.
func (s *Server) Sessions() []*Session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Session, 0, len(s.sessions))
	for ss := range s.sessions {
		out = append(out, ss)
	}
	return out
}

// ServeConn serves one connection in a new session and returns at once.
// probe is the inactivity probe interval (0 or negative: none). The
// session closes conn when it ends. Its Name is the peer's address.
func (s *Server) ServeConn(conn net.Conn, probe time.Duration) (*Session, error) {
	return s.serveConn(conn, probe, "", nil)
}

// serveConn is ServeConn with the session's name and a hook run after the
// OnSession hooks.
func (s *Server) serveConn(conn net.Conn, probe time.Duration, name string, onSession func(*Session)) (*Session, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return nil, ErrServerClosed
	}
	s.nextID++
	ss := newSession(s, conn, s.nextID, probe)
	ss.name = name
	s.sessions[ss] = struct{}{}
	hooks := append([]func(*Session){}, s.onOpen...)
	s.wg.Add(1)
	s.mu.Unlock()
	for _, fn := range hooks {
		fn(ss)
	}
	if onSession != nil {
		onSession(ss)
	}
	go func() {
		defer s.wg.Done()
		ss.run()
		s.mu.Lock()
		delete(s.sessions, ss)
		s.mu.Unlock()
	}()
	return ss, nil
}

// Close closes the listeners being served (Serve), stops the active
// remotes (Connect), closes all sessions and waits for their goroutines to
// end.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ls := make([]net.Listener, 0, len(s.listeners))
	for l := range s.listeners {
		ls = append(ls, l)
	}
	ss := make([]*Session, 0, len(s.sessions))
	for x := range s.sessions {
		ss = append(ss, x)
	}
	as := make([]*Active, 0, len(s.actives))
	for a := range s.actives {
		as = append(as, a)
	}
	for c := range s.handshaking {
		_ = c.Close()
	}
	s.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	for _, a := range as {
		a.shutdown()
	}
	for _, x := range ss {
		x.Close()
	}
	s.wg.Wait()
	return nil
}

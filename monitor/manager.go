package monitor

import (
	"encoding/json"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// Session is what the manager needs from a JSON-RPC session
// (*jsonrpc.Session implements it).
type Session interface {
	Notify(method string, params any) error
	Close() error
	OnClose(fn func())
	AfterReply(fn func())
}

// Options configure a Manager. Zero values mean the defaults.
type Options struct {
	// HistoryTxns bounds the transactions kept per database for
	// monitor_cond_since (default 100).
	HistoryTxns int
	// HistoryRows bounds the row changes kept in that history (default
	// 100000); the oldest transactions are dropped first.
	HistoryRows int
	// MaxBacklogMsgs and MaxBacklogBytes bound the updates queued for one
	// client that does not read; past either the client is disconnected
	// (defaults 10000 messages, 64 MiB). The byte limit applies to two or
	// more queued updates: a single update larger than it is delivered.
	MaxBacklogMsgs  int
	MaxBacklogBytes int
	Logger          *slog.Logger
	// NoHistory, if set, names the databases that keep no transaction
	// history, as C's standalone databases: their last-txn-id is always
	// all zeros (monitor_cond_since replies, update3) and
	// monitor_cond_since never finds the client's id. It is asked once,
	// when the database gets its first monitor, without locks held.
	NoHistory func(db *ovsdb.Database) bool
}

// Manager owns the monitors of all sessions and databases.
type Manager struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	dbs     map[*ovsdb.Database]*dbState
	clients map[Session]*client
	closed  bool

	// byss mirrors clients for lock-free lookups on every reply (Flush).
	byss sync.Map // Session -> *client
	// noLoop (tests) starts no background processing: commits reach
	// clients only through Sync, Flush and the monitor requests.
	noLoop bool
}

// NewManager returns an empty manager.
func NewManager(opts Options) *Manager {
	if opts.HistoryTxns <= 0 {
		opts.HistoryTxns = 100
	}
	if opts.HistoryRows <= 0 {
		opts.HistoryRows = 100000
	}
	if opts.MaxBacklogMsgs <= 0 {
		opts.MaxBacklogMsgs = 10000
	}
	if opts.MaxBacklogBytes <= 0 {
		opts.MaxBacklogBytes = 64 << 20
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.Default()
	}
	return &Manager{opts: opts, log: lg.With("module", "monitor"),
		dbs: map[*ovsdb.Database]*dbState{}, clients: map[Session]*client{}}
}

type txnRec struct {
	seq  uint64
	id   schema.UUID
	cs   *ovsdb.ChangeSet
	rows int
}

// dbState is the per-database part: the commit queue, the history and
// the monitors.
type dbState struct {
	mgr  *Manager
	db   *ovsdb.Database
	stop func()
	kick chan struct{}
	done chan struct{}

	// procMu serialises processing of the queue (and condition changes).
	procMu sync.Mutex

	mu       sync.Mutex
	seq      uint64
	lastID   schema.UUID
	pending  []txnRec
	history  []txnRec
	histBase schema.UUID // the txn just before history[0]
	histRows int
	monitors map[*monitor]struct{}
	// noHistory (Options.NoHistory): lastID and histBase stay zero and
	// history empty.
	noHistory bool

	// queued is the seq of the last commit observed and processed the
	// seq of the last one turned into client updates: Flush processes
	// only when processed < queued.
	queued    atomic.Uint64
	processed atomic.Uint64
}

type monitor struct {
	id      any
	key     string
	version Version
	ds      *dbState
	cl      *client
	tables  map[string]*tableMon
	shape   string
	start   uint64 // last txn seq included in the initial reply
}

func (m *monitor) computeShape() {
	var b strings.Builder
	b.WriteByte(byte('0' + m.version))
	b.WriteString(m.ds.db.Name())
	b.WriteByte('/')
	for _, n := range sortedTables(m.tables) {
		m.tables[n].shapeKey(&b)
	}
	m.shape = b.String()
}

func (mg *Manager) dbFor(db *ovsdb.Database) *dbState {
	mg.mu.Lock()
	if ds := mg.dbs[db]; ds != nil {
		mg.mu.Unlock()
		return ds
	}
	mg.mu.Unlock()
	noHist := mg.opts.NoHistory != nil && mg.opts.NoHistory(db)
	mg.mu.Lock()
	defer mg.mu.Unlock()
	if ds := mg.dbs[db]; ds != nil {
		return ds
	}
	ds := &dbState{mgr: mg, db: db, kick: make(chan struct{}, 1), done: make(chan struct{}),
		monitors: map[*monitor]struct{}{}, noHistory: noHist}
	ds.stop = db.Observe(func(_ map[string]map[schema.UUID]*ovsdb.Row, last schema.UUID) {
		if !noHist {
			ds.lastID, ds.histBase = last, last
		}
	}, ds.observe)
	mg.dbs[db] = ds
	if !mg.noLoop {
		go ds.loop()
	}
	return ds
}

// observe runs under the database's write lock: queue only.
func (ds *dbState) observe(id schema.UUID, cs *ovsdb.ChangeSet) {
	n := 0
	for _, rows := range cs.Tables {
		n += len(rows)
	}
	ds.mu.Lock()
	ds.seq++
	ds.queued.Store(ds.seq)
	rec := txnRec{seq: ds.seq, id: id, cs: cs, rows: n}
	ds.pending = append(ds.pending, rec)
	if ds.noHistory {
		ds.mu.Unlock()
		ds.kickLoop()
		return
	}
	ds.lastID = id
	ds.history = append(ds.history, rec)
	ds.histRows += n
	o := &ds.mgr.opts
	for len(ds.history) > o.HistoryTxns || (len(ds.history) > 1 && ds.histRows > o.HistoryRows) {
		ds.histRows -= ds.history[0].rows
		ds.histBase = ds.history[0].id
		ds.history[0] = txnRec{}
		ds.history = ds.history[1:]
	}
	ds.mu.Unlock()
	ds.kickLoop()
}

func (ds *dbState) kickLoop() {
	select {
	case ds.kick <- struct{}{}:
	default:
	}
}

func (ds *dbState) loop() {
	for {
		select {
		case <-ds.done:
			return
		case <-ds.kick:
			ds.process()
		}
	}
}

func (ds *dbState) process() {
	ds.procMu.Lock()
	defer ds.procMu.Unlock()
	ds.processLocked()
}

// processLocked turns queued change sets into updates, in commit order.
// Each distinct monitor shape serialises its table-updates once.
func (ds *dbState) processLocked() {
	for {
		ds.mu.Lock()
		batch := ds.pending
		ds.pending = nil
		mons := make([]*monitor, 0, len(ds.monitors))
		for m := range ds.monitors {
			mons = append(mons, m)
		}
		ds.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		for _, rec := range batch {
			cache := map[string]json.RawMessage{}
			for _, m := range mons {
				if m.start >= rec.seq {
					continue
				}
				raw, ok := cache[m.shape]
				if !ok {
					if upd := composeChanges(m.version, m.tables, rec.cs); upd != nil {
						raw = cjson.Marshal(upd)
					}
					cache[m.shape] = raw
				}
				if raw != nil {
					m.cl.send(m.notification(rec.id, raw))
				}
			}
			ds.processed.Store(rec.seq)
		}
	}
}

type outMsg struct {
	method string
	params []any
	size   int
}

func (m *monitor) notification(txn schema.UUID, raw json.RawMessage) outMsg {
	switch m.version {
	case V1:
		return outMsg{"update", []any{m.id, raw}, len(raw)}
	case V2:
		return outMsg{"update2", []any{m.id, raw}, len(raw)}
	}
	if m.ds.noHistory {
		txn = schema.UUID{}
	}
	return outMsg{"update3", []any{m.id, txn.String(), raw}, len(raw)}
}

// client is one session's monitors and its queue of outgoing updates,
// written by its own goroutine so a slow reader stalls nobody else.
type client struct {
	mg *Manager
	ss Session

	mu       sync.Mutex
	cond     *sync.Cond
	queue    []outMsg
	bytes    int
	held     int
	sending  bool
	closed   bool
	monitors map[string]*monitor
}

func (mg *Manager) clientFor(ss Session) (*client, error) {
	mg.mu.Lock()
	if c := mg.clients[ss]; c != nil {
		mg.mu.Unlock()
		return c, nil
	}
	if mg.closed {
		mg.mu.Unlock()
		return nil, ovsdberr.New(ovsdberr.TagInternal, "server is shutting down")
	}
	c := &client{mg: mg, ss: ss, monitors: map[string]*monitor{}}
	c.cond = sync.NewCond(&c.mu)
	mg.clients[ss] = c
	mg.byss.Store(ss, c)
	mg.mu.Unlock()
	go c.sender()
	ss.OnClose(func() { mg.dropClient(ss) })
	return c, nil
}

func (mg *Manager) dropClient(ss Session) {
	mg.mu.Lock()
	c := mg.clients[ss]
	delete(mg.clients, ss)
	if c != nil {
		mg.byss.CompareAndDelete(ss, c)
	}
	mg.mu.Unlock()
	if c == nil {
		return
	}
	c.mu.Lock()
	c.closed = true
	c.queue = nil
	mons := c.monitors
	c.monitors = map[string]*monitor{}
	c.cond.Broadcast()
	c.mu.Unlock()
	for _, m := range mons {
		m.ds.remove(m)
	}
}

func (ds *dbState) remove(m *monitor) {
	ds.mu.Lock()
	delete(ds.monitors, m)
	ds.mu.Unlock()
}

func (c *client) send(msg outMsg) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.queue = append(c.queue, msg)
	c.bytes += msg.size
	// One update is never too big: an update larger than the byte limit
	// (ovn-northd's own 150,000-row transaction on a large Southbound
	// database is ~90 MB) is what the client asked for, and closing its
	// session only makes it fetch everything again. A backlog is two or
	// more queued updates (the one being written is not counted).
	over := len(c.queue) > c.mg.opts.MaxBacklogMsgs ||
		(len(c.queue) > 1 && c.bytes > c.mg.opts.MaxBacklogBytes)
	n, b := len(c.queue), c.bytes
	c.cond.Broadcast()
	c.mu.Unlock()
	if over {
		c.mg.log.Warn("monitor backlog limit exceeded, disconnecting", "messages", n, "bytes", b)
		_ = c.ss.Close()
		c.mg.dropClient(c.ss)
	}
}

func (c *client) sender() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for !c.closed && (len(c.queue) == 0 || c.held > 0) {
			c.cond.Wait()
		}
		if c.closed {
			return
		}
		msg := c.queue[0]
		c.queue[0] = outMsg{}
		c.queue = c.queue[1:]
		c.bytes -= msg.size
		c.sending = true
		c.mu.Unlock()
		err := c.ss.Notify(msg.method, msg.params)
		c.mu.Lock()
		c.sending = false
		c.cond.Broadcast()
		if err != nil {
			c.closed = true
			c.queue = nil
			return
		}
	}
}

func (c *client) hold() {
	c.mu.Lock()
	c.held++
	c.mu.Unlock()
}

func (c *client) unhold() {
	c.mu.Lock()
	c.held--
	c.cond.Broadcast()
	c.mu.Unlock()
}

// waitDrained waits until every update queued so far has been written.
func (c *client) waitDrained() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.closed && c.held == 0 && (len(c.queue) > 0 || c.sending) {
		c.cond.Wait()
	}
}

// Sync delivers to ss every update caused by transactions committed on db
// so far and returns once they are written: call it after a transact and
// before its reply.
func (mg *Manager) Sync(ss Session, db *ovsdb.Database) {
	mg.mu.Lock()
	ds := mg.dbs[db]
	c := mg.clients[ss]
	mg.mu.Unlock()
	if ds != nil {
		ds.process()
	}
	if c != nil {
		c.waitDrained()
	}
}

// Flush delivers to ss every update caused by transactions committed so
// far on the databases it monitors and returns once they are written (C
// sends a session's pending updates before any reply). The JSON-RPC layer
// calls it before writing each reply of ss. A session without monitors
// costs one lock-free map lookup; a database whose commits are all
// processed is not locked. While a monitor's reply is pending (its
// updates are held back) it does not wait.
func (mg *Manager) Flush(ss Session) {
	v, ok := mg.byss.Load(ss)
	if !ok {
		return
	}
	v.(*client).flush()
}

func (c *client) flush() {
	var one *dbState
	var more map[*dbState]bool
	c.mu.Lock()
	for _, m := range c.monitors {
		switch {
		case one == nil:
			one = m.ds
		case m.ds != one:
			if more == nil {
				more = map[*dbState]bool{}
			}
			more[m.ds] = true
		}
	}
	c.mu.Unlock()
	if one != nil {
		one.catchUp()
	}
	for ds := range more {
		ds.catchUp()
	}
	c.waitDrained()
}

// catchUp processes the queued commits unless all are processed already.
func (ds *dbState) catchUp() {
	if ds.processed.Load() < ds.queued.Load() {
		ds.process()
	}
}

// Count returns the number of active monitors (memory/show "monitors").
func (mg *Manager) Count() int {
	mg.mu.Lock()
	defer mg.mu.Unlock()
	n := 0
	for _, ds := range mg.dbs {
		ds.mu.Lock()
		n += len(ds.monitors)
		ds.mu.Unlock()
	}
	return n
}

// Canceled names a monitor removed by CancelDatabase.
type Canceled struct {
	Session Session
	ID      any
}

// CancelDatabase removes every monitor of the database named name (the
// database is being removed or converted) and forgets its history. It
// returns the removed monitors so the caller can send "monitor_canceled"
// to db-change-aware sessions.
func (mg *Manager) CancelDatabase(name string) []Canceled {
	mg.mu.Lock()
	var states []*dbState
	for db, ds := range mg.dbs {
		if db.Name() == name {
			states = append(states, ds)
			delete(mg.dbs, db)
		}
	}
	mg.mu.Unlock()
	var out []Canceled
	for _, ds := range states {
		ds.stop()
		close(ds.done)
		ds.procMu.Lock()
		ds.mu.Lock()
		mons := ds.monitors
		ds.monitors = map[*monitor]struct{}{}
		ds.mu.Unlock()
		ds.procMu.Unlock()
		for m := range mons {
			m.cl.mu.Lock()
			if m.cl.monitors[m.key] == m {
				delete(m.cl.monitors, m.key)
			}
			m.cl.mu.Unlock()
			out = append(out, Canceled{Session: m.cl.ss, ID: m.id})
		}
	}
	sort.Slice(out, func(i, j int) bool { return cjson.String(out[i].ID) < cjson.String(out[j].ID) })
	return out
}

// Close stops all database observers.
func (mg *Manager) Close() {
	mg.mu.Lock()
	mg.closed = true
	names := map[string]bool{}
	for db := range mg.dbs {
		names[db.Name()] = true
	}
	mg.mu.Unlock()
	for n := range names {
		mg.CancelDatabase(n)
	}
}

package server

// The remotes as C's ovsdb-server runs them: the configured names
// (Server.remotes: "--remote" options and ovsdb-server/add-remote, among
// them "db:DB,TABLE,COLUMN" names) are resolved to targets with their
// options (C's reconfigure_remotes, query_db_remotes and
// add_manager_options), and the live remotes, one per target, are made to
// match (C's ovsdb_jsonrpc_server_set_remotes): listeners open and close,
// active remotes connect out, probes and backoffs change. C does this on
// every iteration of its main loop; here it is done when the configured
// set changes, when a database named by a db: remote commits to the
// tables the remotes are read from, when a database is added, removed or
// converted, and every 2.5 s (which also retries listeners that failed).
// Every 2.5 s, as C, the status of the remotes is written to the rows
// they were read from (is_connected, status), for databases that are not
// clustered, in a transaction made only when something changed.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// statusInterval is how often the remotes' status is written and failed
// listeners are retried (C's 2.5 s status timer).
const statusInterval = 2500 * time.Millisecond

// defaultDSCP is C's DSCP_DEFAULT (IPTOS_PREC_INTERNETCONTROL >> 2).
const defaultDSCP = 48

// dbRemoteState is the state of the resolved and live remotes; its zero
// value is ready (New does not initialise it).
type dbRemoteState struct {
	// rmu serialises reconciliations (resolve, then apply).
	rmu sync.Mutex

	// Lock order: rmu, then a database's lock (reading its rows), then
	// mu; mu is never held while taking a database's lock, and commit
	// observers (called under a database's write lock) take no lock of
	// this state (kick and the watched tables are atomic).
	mu      sync.Mutex
	live    map[string]*liveRemote // by target
	started bool                   // the worker runs
	stopped bool                   // the server is closing
	kick    atomic.Pointer[chan struct{}]
	stopCh  chan struct{}
	doneCh  chan struct{}
	wg      sync.WaitGroup // accept loops of the live listeners
	watches map[string]*dbWatch
	unwatch []func() // _Server observer
	lastErr string   // last resolution errors reported (C's report_error_if_changed)
	warned  map[string]bool
	hook    bool // OnDatabaseGone registered
	// interval overrides statusInterval when set before the first
	// remote is added (tests).
	interval time.Duration

	rlMu                         sync.Mutex // guards the rate limits only
	listenRL, targetRL, statusRL rateLimit

	// tls configures the ssl: and pssl: remotes (SetTLS); nil until set:
	// an empty configuration, whose connections fail as C's.
	tls atomic.Pointer[tlsconf.Config]
}

// remoteOptions are C's ovsdb_jsonrpc_options of one target.
type remoteOptions struct {
	maxBackoff time.Duration // 0: default
	probe      time.Duration // 0: none
	readOnly   bool
	role       string
	dscp       int
}

// liveRemote is one target being served (C's ovsdb_jsonrpc_remote).
type liveRemote struct {
	target string
	opts   remoteOptions // current options (probe and backoff follow them)
	// readOnly, role and dscp are those the remote was made with: as C,
	// a change of read_only or role applies when the remote is made
	// again, a change of dscp makes it again.
	readOnly bool
	role     string
	dscp     int
	ln       net.Listener    // passive
	act      *jsonrpc.Active // active
	sessions map[*jsonrpc.Session]struct{}
	closed   bool
}

// dbWatch is the commit observer of one database named by db: remotes.
type dbWatch struct {
	db     *ovsdb.Database
	tables atomic.Pointer[map[string]bool] // the tables the remotes are read from
	stop   func()
}

// warnOnce reports whether target has not been warned about before.
func (st *dbRemoteState) warnOnce(target string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.warned[target] {
		return false
	}
	if st.warned == nil {
		st.warned = map[string]bool{}
	}
	st.warned[target] = true
	return true
}

// allow applies one of the state's rate limits.
func (st *dbRemoteState) allow(r *rateLimit, burst int, per time.Duration) bool {
	st.rlMu.Lock()
	defer st.rlMu.Unlock()
	return r.allow(burst, per)
}

// rateLimit is C's vlog rate limit: a burst, then one message per
// interval (messages beyond are dropped).
type rateLimit struct {
	tokens float64
	last   time.Time
}

func (r *rateLimit) allow(burst int, per time.Duration) bool {
	now := time.Now()
	if r.last.IsZero() {
		r.tokens = float64(burst)
	} else {
		r.tokens = min(float64(burst), r.tokens+float64(now.Sub(r.last))/float64(per))
	}
	r.last = now
	if r.tokens >= 1 {
		r.tokens--
		return true
	}
	return false
}

// remotesCloser stands in Server.remotes for the listener of each
// configured remote: Server.Close closes it, which stops every live
// remote, the worker and the observers (idempotent).
type remotesCloser struct{ s *Server }

func (c remotesCloser) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (c remotesCloser) Close() error              { c.s.shutdownRemotes(); return nil }
func (c remotesCloser) Addr() net.Addr            { return &net.UnixAddr{Name: "remotes", Net: "unix"} }

func (s *Server) jsonrpcLog() *slog.Logger {
	l := s.opts.Logger
	if l == nil {
		l = slog.Default()
	}
	return l.With("module", "ovsdb_jsonrpc_server")
}

// needsProbes is C's stream_or_pstream_needs_probes: TCP and SSL remotes
// are probed, unix sockets are not.
func needsProbes(target string) bool {
	kind, _, _ := strings.Cut(target, ":")
	switch kind {
	case "tcp", "ptcp", "ssl", "pssl":
		return true
	}
	return false
}

// defaultOptions are C's ovsdb_jsonrpc_default_options for target, with
// the server's configured probe (Options.JSONRPC.ProbeInterval).
func (s *Server) defaultOptions(target string) remoteOptions {
	o := remoteOptions{dscp: defaultDSCP}
	if needsProbes(target) {
		switch p := s.opts.JSONRPC.ProbeInterval; {
		case p == 0:
			o.probe = jsonrpc.DefaultProbeInterval
		case p > 0:
			o.probe = p
		}
	}
	return o
}

// probeFromColumn is C's reconnect_set_probe_interval: 0 disables the
// probe, anything else is at least 1 s.
func probeFromColumn(ms int64) time.Duration {
	if ms == 0 {
		return 0
	}
	return max(time.Duration(ms)*time.Millisecond, time.Second)
}

// readScalar is C's ovsdb_util_read_column: the value of a column of
// exactly one optional or required atom of type t (nil if the table has
// no such column or the row has no value).
func readScalar(ts *schema.Table, r *ovsdb.Row, name string, t schema.AtomicType) any {
	c := ts.ByName[name]
	if c == nil || c.Type.Key.Type != t || c.Type.Value != nil || c.Type.Max != 1 {
		return nil
	}
	d := r.Field(c.Index)
	if len(d.Keys) == 0 {
		return nil
	}
	return d.Keys[0]
}

// readMapString is C's ovsdb_util_read_map_string_column.
func readMapString(ts *schema.Table, r *ovsdb.Row, name, key string) (string, bool) {
	c := ts.ByName[name]
	if c == nil || c.Type.Key.Type != schema.TypeString || c.Type.Value == nil ||
		c.Type.Value.Type != schema.TypeString || c.Type.Max != schema.Unlimited {
		return "", false
	}
	d := r.Field(c.Index)
	for i, k := range d.Keys {
		if k.(string) == key {
			return d.Values[i].(string), true
		}
	}
	return "", false
}

// dbRemote is a parsed "db:DB,TABLE,COLUMN" remote.
type dbRemote struct {
	name   string
	dbName string
	db     *ovsdb.Database
	table  *schema.Table
	column *schema.Column
}

// refTable is the table the column's UUIDs refer to, or nil when the
// column does not hold references (C reads strings or references, and
// ignores columns of any other type).
func (r *dbRemote) refTable() *schema.Table {
	t := &r.column.Type
	if t.Key.Type == schema.TypeUUID && t.Key.RefTable != nil && t.Value == nil {
		return t.Key.RefTable
	}
	return nil
}

func (r *dbRemote) holdsStrings() bool {
	t := &r.column.Type
	return t.Key.Type == schema.TypeString && t.Value == nil
}

// sortedRows returns a table's rows in _uuid order.
func sortedRows(rows map[schema.UUID]*ovsdb.Row) []*ovsdb.Row {
	ids := make([]schema.UUID, 0, len(rows))
	for id := range rows {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	out := make([]*ovsdb.Row, len(ids))
	for i, id := range ids {
		out[i] = rows[id]
	}
	return out
}

// resolved is the outcome of resolving the configured remotes.
type resolved struct {
	targets map[string]*remoteOptions
	order   []string        // targets in the order met
	literal map[string]bool // targets configured by name (not from a db: remote)
	errs    string          // C's error lines, each ending in "\n"
	watch   map[string]*watchWant
}

// watchWant is a database to observe and the tables of interest.
type watchWant struct {
	db     *ovsdb.Database
	tables map[string]bool
}

// resolveRemotes reads the targets of the configured remotes, as C's
// reconfigure_remotes: a literal remote gets the default options; a db:
// remote adds every string of its column, or every row its column refers
// to, with the options of that row (target, max_backoff,
// inactivity_probe, read_only, role, other_config:dscp).
func (s *Server) resolveRemotes(names []string) *resolved {
	res := &resolved{targets: map[string]*remoteOptions{}, literal: map[string]bool{}, watch: map[string]*watchWant{}}
	add := func(target string) *remoteOptions {
		o := res.targets[target]
		if o == nil {
			d := s.defaultOptions(target)
			o = &d
			res.targets[target] = o
			res.order = append(res.order, target)
		}
		return o
	}
	for _, name := range names {
		if !strings.HasPrefix(name, "db:") {
			add(name)
			res.literal[name] = true
			continue
		}
		r, err := s.parseDBRemote(name)
		if err != nil {
			res.errs += err.Error() + "\n"
			continue
		}
		ww := res.watch[r.dbName]
		if ww == nil || ww.db != r.db {
			ww = &watchWant{db: r.db, tables: map[string]bool{}}
			res.watch[r.dbName] = ww
		}
		ww.tables[r.table.Name] = true
		ref := r.refTable()
		if ref != nil {
			ww.tables[ref.Name] = true
		}
		if !r.holdsStrings() && ref == nil {
			continue
		}
		r.db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
			for _, row := range sortedRows(tables[r.table.Name]) {
				d := row.Field(r.column.Index)
				for _, k := range d.Keys {
					if ref == nil {
						add(k.(string))
						continue
					}
					if rr := tables[ref.Name][k.(schema.UUID)]; rr != nil {
						s.addManagerOptions(ref, rr, add)
					}
				}
			}
		})
	}
	return res
}

// addManagerOptions is C's add_manager_options: the row's target and
// options.
func (s *Server) addManagerOptions(ts *schema.Table, r *ovsdb.Row, add func(string) *remoteOptions) {
	target, ok := readScalar(ts, r, "target", schema.TypeString).(string)
	if !ok {
		if st := &s.dbRemotes; st.allow(&st.targetRL, 1, time.Second) {
			s.log().Info(fmt.Sprintf("Table `%s' has missing or invalid `target' column", ts.Name))
		}
		return
	}
	o := add(target)
	if v, ok := readScalar(ts, r, "max_backoff", schema.TypeInteger).(int64); ok {
		o.maxBackoff = time.Duration(v) * time.Millisecond
	}
	if v, ok := readScalar(ts, r, "inactivity_probe", schema.TypeInteger).(int64); ok {
		o.probe = probeFromColumn(v)
	}
	if v, ok := readScalar(ts, r, "read_only", schema.TypeBoolean).(bool); ok {
		o.readOnly = v
	}
	o.role, _ = readScalar(ts, r, "role", schema.TypeString).(string)
	o.dscp = defaultDSCP
	if v, ok := readMapString(ts, r, "other_config", "dscp"); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 && n <= 63 {
			o.dscp = n
		}
	}
}

// configuredRemotes returns the configured remote names, sorted.
func (s *Server) configuredRemotes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.remotes))
	for n := range s.remotes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// startRemotes starts the worker (once) that reconciles on changes and
// every statusInterval, and writes the status.
func (s *Server) startRemotes() {
	st := &s.dbRemotes
	st.mu.Lock()
	if st.started || st.stopped {
		st.mu.Unlock()
		return
	}
	st.started = true
	kick := make(chan struct{}, 1)
	st.kick.Store(&kick)
	st.stopCh = make(chan struct{})
	st.doneCh = make(chan struct{})
	register := !st.hook
	st.hook = true
	st.mu.Unlock()
	// A database added or removed: its _Server row is inserted or
	// deleted.
	stop := s.sys.Observe(nil, func(_ schema.UUID, cs *ovsdb.ChangeSet) {
		for _, rc := range cs.Tables["Database"] {
			if rc.Old == nil || rc.New == nil {
				s.kickRemotes()
				return
			}
		}
	})
	st.mu.Lock()
	if st.stopped {
		st.mu.Unlock()
		stop()
	} else {
		st.unwatch = append(st.unwatch, stop)
		st.mu.Unlock()
	}
	if register {
		// A database converted (or removed): read its remotes again.
		s.OnDatabaseGone(func(string) { s.kickRemotes() })
	}
	go s.remotesWorker()
}

// kickRemotes asks the worker to reconcile. It takes no lock: commit
// observers call it.
func (s *Server) kickRemotes() {
	ch := s.dbRemotes.kick.Load()
	if ch == nil {
		return
	}
	select {
	case *ch <- struct{}{}:
	default:
	}
}

func (s *Server) remotesWorker() {
	st := &s.dbRemotes
	defer close(st.doneCh)
	kick := *st.kick.Load()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-st.stopCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	iv := st.interval
	if iv <= 0 {
		iv = statusInterval
	}
	tick := time.NewTicker(iv)
	defer tick.Stop()
	// As C, the status is first written at once.
	s.updateRemoteStatus(ctx)
	for {
		select {
		case <-st.stopCh:
			return
		case <-kick:
			s.reconcileRemotes()
		case <-tick.C:
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				// Closed with no remote configured (so without
				// closing remotesCloser): clean up now.
				go s.shutdownRemotes()
				return
			}
			s.reconcileRemotes()
			s.updateRemoteStatus(ctx)
		}
	}
}

// shutdownRemotes stops the worker, the observers and every live remote
// (Server.Close, through remotesCloser).
func (s *Server) shutdownRemotes() {
	st := &s.dbRemotes
	st.mu.Lock()
	if st.stopped {
		st.mu.Unlock()
		return
	}
	st.stopped = true
	started := st.started
	if started {
		close(st.stopCh)
	}
	st.mu.Unlock()
	if started {
		<-st.doneCh
	}
	st.rmu.Lock()
	defer st.rmu.Unlock()
	st.mu.Lock()
	var closing []*liveRemote
	for t, lr := range st.live {
		closing = append(closing, lr)
		delete(st.live, t)
	}
	stops := st.unwatch
	st.unwatch = nil
	for _, w := range st.watches {
		stops = append(stops, w.stop)
	}
	st.watches = nil
	st.mu.Unlock()
	for _, fn := range stops {
		fn()
	}
	for _, lr := range closing {
		s.closeLive(lr)
	}
	st.wg.Wait()
}

// reconcileRemotes resolves the configured remotes and makes the live
// remotes match; it returns the errors of the remotes made now, by target.
func (s *Server) reconcileRemotes() map[string]error {
	st := &s.dbRemotes
	st.rmu.Lock()
	defer st.rmu.Unlock()
	st.mu.Lock()
	stopped := st.stopped
	st.mu.Unlock()
	if stopped {
		return nil
	}
	res := s.resolveRemotes(s.configuredRemotes())
	s.updateWatches(res.watch)
	if res.errs != st.lastErr {
		if res.errs != "" {
			s.log().Warn(res.errs)
		}
		st.lastErr = res.errs
	}

	// Remotes no longer wanted, or whose DSCP changed, go.
	st.mu.Lock()
	var closing []*liveRemote
	for t, lr := range st.live {
		o := res.targets[t]
		if o == nil || o.dscp != lr.dscp {
			if o == nil {
				s.jsonrpcLog().Info(t + ": remote deconfigured")
			}
			closing = append(closing, lr)
			delete(st.live, t)
		}
	}
	st.mu.Unlock()
	for _, lr := range closing {
		s.closeLive(lr)
	}

	errs := map[string]error{}
	for _, t := range res.order {
		o := *res.targets[t]
		st.mu.Lock()
		lr := st.live[t]
		st.mu.Unlock()
		if lr == nil {
			var err error
			if lr, err = s.openLive(t, o, res.literal[t]); err != nil {
				errs[t] = err
				continue
			}
		}
		s.setLiveOptions(lr, o)
	}
	return errs
}

// updateWatches observes the commits of the databases the db: remotes
// are read from (a new engine after a conversion is observed anew).
// Called with rmu held.
func (s *Server) updateWatches(want map[string]*watchWant) {
	st := &s.dbRemotes
	var stops []func()
	var add []string
	st.mu.Lock()
	if st.watches == nil {
		st.watches = map[string]*dbWatch{}
	}
	for name, w := range st.watches {
		if nw := want[name]; nw == nil || nw.db != w.db {
			stops = append(stops, w.stop)
			delete(st.watches, name)
		}
	}
	for name, nw := range want {
		if w := st.watches[name]; w != nil {
			w.tables.Store(&nw.tables)
		} else {
			add = append(add, name)
		}
	}
	st.mu.Unlock()
	for _, fn := range stops {
		fn()
	}
	for _, name := range add {
		nw := want[name]
		w := &dbWatch{db: nw.db}
		w.tables.Store(&nw.tables)
		// Under the database's write lock: only look and kick.
		w.stop = nw.db.Observe(nil, func(_ schema.UUID, cs *ovsdb.ChangeSet) {
			tables := *w.tables.Load()
			for t := range cs.Tables {
				if tables[t] {
					s.kickRemotes()
					return
				}
			}
		})
		st.mu.Lock()
		if st.stopped {
			st.mu.Unlock()
			w.stop()
			continue
		}
		st.watches[name] = w
		st.mu.Unlock()
	}
}

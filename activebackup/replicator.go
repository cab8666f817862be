package activebackup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/chash"
	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/server"
)

// DefaultProbeInterval is C's REPLICATION_DEFAULT_PROBE_INTERVAL: the
// inactivity probe of the connection to the active server, in ms.
const DefaultProbeInterval = 60000

// ErrNoActiveServer is Connect's error when no active server is set; its
// text is C's reply to connect-active-ovsdb-server then (a reply, not an
// error: ovs-appctl exits 0).
var ErrNoActiveServer = errors.New("Unable to connect: active server is not specified.\n")

// Options configure a Replicator.
type Options struct {
	// ServerID returns this server's id (its get_server_id answer): a
	// server does not replicate from itself.
	ServerID func() string
	// SetReadOnly is called with true when the server becomes a backup
	// and with false when it becomes active: the server-wide read-only
	// switch of the sessions (server.(*Server).SetReadOnly), which C
	// sets on a backup. May be nil.
	SetReadOnly func(bool)
	// Logger defaults to slog.Default(); C's module names are set
	// ("replication", "reconnect", "ovsdb_error").
	Logger *slog.Logger
	// TLS configures the connections to an "ssl:" active server (the
	// server's SSL options); nil: they fail as C's without key and
	// certificate.
	TLS *tlsconf.Config
}

// replState is C's replication state, as sync-status reports it.
type replState int

const (
	stInit        replState = iota // not connected yet
	stConnecting                   // connected, setting up (C's *_REQUESTED states)
	stReplicating                  // following the active server
	stError                        // failed: the server turns active
)

// Replicator is the active-backup replication of one server (C's
// replication.c and the sync_from, sync_exclude and is_backup settings
// of ovsdb-server.c). A backup connects to its active server, takes the
// schema and the contents of every database both serve, then applies
// the active server's changes as they come, through each database's
// standalone mode. Its methods are the control commands of C's
// ovsdb-server (see cmd/ovsdb-server) and may be called from any
// goroutine.
type Replicator struct {
	opts Options
	log  *slog.Logger // module replication

	// ctl serialises the commands that start and stop replication.
	ctl sync.Mutex

	mu       sync.Mutex
	syncFrom string
	exclRaw  *string // as last given (nil: never), for the run-time configuration
	excl     exclusions
	probeMS  int
	backup   bool
	dbs      map[*replica]struct{}
	seq      uint64
	run      *runState // the replication running, nil if none
	closed   bool
}

// New returns a Replicator whose server is active, with no active server
// set.
func New(opts Options) *Replicator {
	l := opts.Logger
	if l == nil {
		l = slog.Default()
	}
	return &Replicator{opts: opts, log: l.With("module", "replication"), excl: exclusions{},
		probeMS: DefaultProbeInterval, dbs: map[*replica]struct{}{}}
}

// Opener returns the server.Opener that opens each file with next (nil:
// server.OpenStandalone) and puts every standalone database under this
// Replicator: it follows the active server while the server is a backup.
// Other modes (a clustered database) are returned as next opened them
// and are not replicated.
func (r *Replicator) Opener(next server.Opener) server.Opener {
	if next == nil {
		next = server.OpenStandalone
	}
	return func(path string) (server.Mode, error) {
		m, err := next(path)
		if err != nil {
			return nil, err
		}
		if info, ch := m.Info(); info.Model != "standalone" || ch != nil {
			return m, nil
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		rp := newReplica(r, m, r.backup)
		r.seq++
		rp.seq = r.seq
		r.dbs[rp] = struct{}{}
		return rp, nil
	}
}

// replace puts nrp in old's place (a client's conversion); on a backup,
// replication starts over.
func (r *Replicator) replace(old, nrp *replica) {
	r.mu.Lock()
	delete(r.dbs, old)
	nrp.seq = old.seq
	r.dbs[nrp] = struct{}{}
	backup := r.backup
	r.mu.Unlock()
	if backup {
		go r.Restart()
	}
}

func (r *Replicator) unregister(rp *replica) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.dbs, rp)
}

// replicas returns the served databases by name (the first registered
// of two with one name: the second is being refused by the server).
func (r *Replicator) replicas() map[string]*replica {
	r.mu.Lock()
	list := make([]*replica, 0, len(r.dbs))
	for rp := range r.dbs {
		list = append(list, rp)
	}
	r.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].seq < list[j].seq })
	out := map[string]*replica{}
	for _, rp := range list {
		if n := rp.name(); out[n] == nil && !strings.HasPrefix(n, "_") {
			out[n] = rp
		}
	}
	return out
}

// SetActiveServer records the active server to replicate from
// (ovsdb-server/set-active-ovsdb-server, --sync-from); it takes effect at
// the next Connect.
func (r *Replicator) SetActiveServer(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.syncFrom = s
}

// ActiveServer returns the active server set ("" if none).
func (r *Replicator) ActiveServer() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.syncFrom
}

// IsBackup reports whether the server is a backup.
func (r *Replicator) IsBackup() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.backup
}

// Connect makes the server a backup of the active server set
// (ovsdb-server/connect-active-ovsdb-server): clients' writes are refused
// from now on, and replication starts, from the beginning if it was
// running (C's replication_init). Without an active server it returns
// ErrNoActiveServer and changes nothing.
func (r *Replicator) Connect() error {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	r.mu.Lock()
	from := r.syncFrom
	r.mu.Unlock()
	if from == "" {
		return ErrNoActiveServer
	}
	r.stopRun()
	r.setRole(true)
	r.startRun()
	return nil
}

// Disconnect makes the server active (ovsdb-server/disconnect-active-
// ovsdb-server, a promotion): the connection to the active server is
// closed, the changes already received are applied, and the databases
// are plain standalone ones from then on, everything replicated being in
// their files.
func (r *Replicator) Disconnect() {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	r.stopRun()
	r.setRole(false)
}

// Restart starts replication over if the server is a backup, as C does
// when a database is added or removed or the excluded tables change.
func (r *Replicator) Restart() {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	if !r.IsBackup() {
		return
	}
	r.stopRun()
	r.forgetTxns()
	r.startRun()
}

// SetProbeInterval sets the inactivity probe of the connection to the
// active server, in ms (ovsdb-server/set-active-ovsdb-server-probe-
// interval): 0 none, otherwise at least 1000, as C.
func (r *Replicator) SetProbeInterval(ms int) {
	r.mu.Lock()
	r.probeMS = ms
	rs := r.run
	r.mu.Unlock()
	if rs != nil {
		rs.rd.SetProbe(probeDuration(ms))
	}
}

func probeDuration(ms int) time.Duration {
	if ms == 0 {
		return 0
	}
	return time.Duration(max(ms, 1000)) * time.Millisecond
}

// SetExcludeTables sets the tables left out of replication
// (--sync-exclude-tables, ovsdb-server/set-sync-exclude-tables), a list of
// DB:TABLE names separated by commas or spaces; on a backup, replication
// starts over. It never fails (see parseExclusions); the error is for
// C's "Can't parse excluded table", which glibc never gives.
func (r *Replicator) SetExcludeTables(s string) error {
	ex := parseExclusions(s)
	r.mu.Lock()
	r.exclRaw = &s
	r.excl = ex
	r.mu.Unlock()
	r.Restart()
	return nil
}

// ExcludeTables returns the excluded tables as C's
// get-sync-exclude-tables prints them ("DB:TABLE,..." sorted).
func (r *Replicator) ExcludeTables() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.excl.String()
}

// ExcludeTablesSetting returns the list as last given to
// SetExcludeTables, and whether it was given.
func (r *Replicator) ExcludeTablesSetting() (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.exclRaw == nil {
		return "", false
	}
	return *r.exclRaw, true
}

// Close stops replication (the server closes the databases).
func (r *Replicator) Close() {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.stopRun()
}

// setRole switches every database and the sessions to the role.
func (r *Replicator) setRole(backup bool) {
	r.mu.Lock()
	r.backup = backup
	list := make([]*replica, 0, len(r.dbs))
	for rp := range r.dbs {
		list = append(list, rp)
	}
	r.mu.Unlock()
	if backup && r.opts.SetReadOnly != nil {
		r.opts.SetReadOnly(true)
	}
	for _, rp := range list {
		rp.setBackup(backup)
	}
	// A database opened meanwhile took the role set above.
	if !backup && r.opts.SetReadOnly != nil {
		r.opts.SetReadOnly(false)
	}
}

func (r *Replicator) forgetTxns() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for rp := range r.dbs {
		rp.mu.Lock()
		rp.lastTxn = schema.UUID{}
		rp.mu.Unlock()
	}
}

// runState is one replication run, from Connect (or a restart) to
// Disconnect or a failure; it reconnects by itself.
type runState struct {
	from   string
	cancel context.CancelFunc
	done   chan struct{}
	rd     *jsonrpc.Redialer

	mu      sync.Mutex
	state   replState
	dbNames []string // replicated, for sync-status
	queued  int      // changes received and not yet applied
	// lastUpdate is when a change of the active server was last
	// applied (or found already there); zero: never.
	lastUpdate time.Time
	applied    uint64 // changes applied since the run started
	resumed    int    // monitors that got only what followed a known transaction
	// dialFailed: a connection attempt to the active server failed
	// (WaitReplicating stops waiting then).
	dialFailed bool
}

func (r *Replicator) startRun() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	rs := &runState{from: r.syncFrom, cancel: cancel, done: make(chan struct{}),
		rd: jsonrpc.NewRedialer(r.syncFrom, r.opts.Logger)}
	rs.rd.SetProbe(probeDuration(r.probeMS))
	rs.rd.SetTLS(r.opts.TLS)
	r.run = rs
	go r.runLoop(ctx, rs)
}

// stopRun stops the replication running, if any, and waits for it: the
// changes it had received are applied.
func (r *Replicator) stopRun() {
	r.mu.Lock()
	rs := r.run
	r.run = nil
	r.mu.Unlock()
	if rs != nil {
		rs.cancel()
		<-rs.done
	}
}

// fail ends rs after an error, as C: the error is logged, the server
// stops being a backup (C's main loop, when replication is no longer
// alive) and writes are accepted again.
func (r *Replicator) fail(rs *runState, err error) {
	r.log.With("module", "ovsdb_error").Error("unexpected ovsdb error: " + err.Error())
	rs.mu.Lock()
	rs.state = stError
	rs.mu.Unlock()
	r.mu.Lock()
	current := r.run == rs
	if current {
		r.run = nil
	}
	r.mu.Unlock()
	if current {
		go func() {
			<-rs.done
			r.ctl.Lock()
			defer r.ctl.Unlock()
			r.mu.Lock()
			again := r.run != nil // restarted meanwhile
			r.mu.Unlock()
			if !again {
				r.setRole(false)
			}
		}()
	}
}

// Status is the reply of ovsdb-server/sync-status: C's lines ("state:
// active", or "state: backup" and the replication's state: "connecting:
// SERVER", or "replicating: SERVER", "database: DB, ..." and "exclude:
// DB:TABLE,..." if tables are excluded), then, on a backup that has
// replicated, lines of ours saying how far behind it may be:
// "lag: N transactions received, not yet applied" and
// "last update: S seconds ago" (S with millisecond precision).
func (r *Replicator) Status() string {
	r.mu.Lock()
	backup, rs, excl := r.backup, r.run, r.excl.String()
	r.mu.Unlock()
	if !backup {
		return "state: active\n"
	}
	var b strings.Builder
	b.WriteString("state: backup\n")
	if rs == nil {
		// Between a failure and the switch to active.
		return b.String()
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	switch rs.state {
	case stInit, stConnecting:
		fmt.Fprintf(&b, "connecting: %s", rs.from)
	case stReplicating:
		fmt.Fprintf(&b, "replicating: %s\ndatabase:", rs.from)
		for i, n := range rs.dbNames {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(" " + n)
		}
		if excl != "" {
			b.WriteString("\nexclude: " + excl)
		}
	case stError:
		fmt.Fprintf(&b, "Replication to (%s) failed\n", rs.from)
	}
	if !rs.lastUpdate.IsZero() {
		if !strings.HasSuffix(b.String(), "\n") {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "lag: %d transactions received, not yet applied\n", rs.queued)
		fmt.Fprintf(&b, "last update: %s seconds ago\n",
			strconv.FormatFloat(time.Since(rs.lastUpdate).Seconds(), 'f', 3, 64))
	}
	return b.String()
}

// cOrder returns names in the order C's sync-status lists its
// replicated databases (its shash of them, made from the server's shash
// of databases).
func cOrder(names []string) []string { return chash.Order(chash.Order(names...)...) }

// WaitReplicating waits until a backup has taken the active server's
// contents (sync-status would say "replicating"), or d has passed, and
// reports whether it has; it gives up as soon as a connection attempt
// fails (an unreachable active server). An active server returns true at
// once. The
// binary calls it before its --detach completes, so that a script that
// starts a backup and reads it at once (ovn-ctl runs `ovn-nbctl init`)
// finds the active server's rows, as it does with C's faster start.
func (r *Replicator) WaitReplicating(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		r.mu.Lock()
		backup, rs := r.backup, r.run
		r.mu.Unlock()
		if !backup {
			return true
		}
		if rs != nil {
			rs.mu.Lock()
			st, failed := rs.state, rs.dialFailed
			rs.mu.Unlock()
			if st == stReplicating {
				return true
			}
			if failed {
				// The active server does not answer: no point in
				// holding the start back (C's start does not wait).
				return false
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

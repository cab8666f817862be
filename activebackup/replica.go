package activebackup

// replica: one database of a server that may be a backup, as a
// server.Mode over its standalone mode.

import (
	"context"
	"fmt"
	"sync"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/server"
)

// replica is a standalone database under active-backup replication. While
// the server is a backup, clients' writes are refused (C's read-only
// error) and the Replicator writes the active server's changes through
// the standalone mode (inner), so that they are in the file before they
// are visible. While the server is active, it is the standalone mode.
type replica struct {
	r   *Replicator
	seq uint64 // registration order: the first of two same-named wins

	// xmu is held by whoever replaces or writes through inner outside
	// the clients' path: the Replicator applying a change or converting,
	// a client's Convert, Close. Clients' transactions do not take it.
	xmu sync.Mutex

	mu      sync.Mutex
	inner   server.Mode
	changed chan struct{} // closed when inner's engine is replaced by the Replicator
	backup  bool
	retired bool // converted (a new replica serves) or closed
	// inflight holds the cancel functions of the clients' write
	// transactions running while active; idle is signalled when it
	// empties.
	inflight map[*int]context.CancelFunc
	idle     *sync.Cond
	// lastTxn is the active server's transaction id whose changes the
	// contents include, when known (zero: unknown): a reconnection asks
	// for the changes after it (monitor_cond_since). It is cleared
	// whenever the contents may have changed otherwise.
	lastTxn schema.UUID
}

func newReplica(r *Replicator, inner server.Mode, backup bool) *replica {
	rp := &replica{r: r, inner: inner, changed: make(chan struct{}), backup: backup,
		inflight: map[*int]context.CancelFunc{}}
	rp.idle = sync.NewCond(&rp.mu)
	return rp
}

func (rp *replica) mode() server.Mode {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.inner
}

func (rp *replica) name() string { return rp.mode().Database().Name() }

// Database is the standalone mode's engine.
func (rp *replica) Database() *ovsdb.Database { return rp.mode().Database() }

// Transact is the standalone mode's. On a backup, clients' writes are
// refused by their read-only sessions (Options.SetReadOnly; C's error
// "insert operation not allowed when database server is in read only
// mode"), and the server's own writes (the status columns of db:
// remotes) go through, as C writes them on its backup. A write running
// when the server becomes a backup is let finish (a blocked wait is
// canceled) before the Replicator looks at the contents.
func (rp *replica) Transact(ctx context.Context, ops []any, opts ovsdb.TransactOptions) []any {
	if opts.ReadOnly || ovsdb.ClassifyOps(ops).ReadOnly {
		return rp.mode().Transact(ctx, ops, opts)
	}
	rp.mu.Lock()
	m := rp.inner
	if rp.backup {
		rp.mu.Unlock()
		return m.Transact(ctx, ops, opts)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	key := new(int)
	rp.inflight[key] = cancel
	rp.mu.Unlock()
	res := m.Transact(ctx, ops, opts)
	rp.mu.Lock()
	delete(rp.inflight, key)
	if len(rp.inflight) == 0 {
		rp.idle.Broadcast()
	}
	rp.mu.Unlock()
	return res
}

// setBackup switches the replica's role. Becoming a backup waits for the
// clients' writes in flight, whose blocked waits are canceled (their
// clients get "canceled", as for a "cancel" request), so that nothing
// but the Replicator writes afterwards. The known transaction id is
// forgotten either way.
func (rp *replica) setBackup(b bool) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.backup = b
	rp.lastTxn = schema.UUID{}
	if !b {
		return
	}
	for _, cancel := range rp.inflight {
		cancel()
	}
	for len(rp.inflight) > 0 {
		rp.idle.Wait()
	}
}

// Info is the standalone mode's: C shows a backup's databases as
// standalone, connected and leader. The channel is closed when the
// Replicator has given the replica a new engine (a conversion to the
// active server's schema), so that the server serves it.
func (rp *replica) Info() (server.Info, <-chan struct{}) {
	rp.mu.Lock()
	m, ch := rp.inner, rp.changed
	rp.mu.Unlock()
	info, _ := m.Info()
	return info, ch
}

// Convert is a client's "convert": allowed on a backup as in C. The
// standalone mode converts; a new replica serves the result (the server
// then treats it as a standalone conversion). On a backup, replication
// starts over, which converts the database back to the active server's
// schema if it differs.
func (rp *replica) Convert(ns *schema.DatabaseSchema) (server.Mode, error) {
	rp.xmu.Lock()
	defer rp.xmu.Unlock()
	rp.mu.Lock()
	m, backup := rp.inner, rp.backup
	rp.mu.Unlock()
	nm, err := m.Convert(ns)
	if err != nil {
		return nil, err
	}
	nrp := newReplica(rp.r, nm, backup)
	rp.mu.Lock()
	rp.retired = true
	rp.mu.Unlock()
	rp.r.replace(rp, nrp)
	return nrp, nil
}

// convertTo gives the replica the engine of its database converted to ns
// (the active server's schema), with xmu held: the server sees Info's
// channel closed and serves the new engine (its modeConverted).
func (rp *replica) convertTo(ns *schema.DatabaseSchema) error {
	rp.mu.Lock()
	m := rp.inner
	rp.mu.Unlock()
	nm, err := m.Convert(ns)
	if err != nil {
		return err
	}
	rp.mu.Lock()
	rp.inner = nm
	old := rp.changed
	rp.changed = make(chan struct{})
	rp.lastTxn = schema.UUID{}
	rp.mu.Unlock()
	close(old)
	return nil
}

func (rp *replica) Compact() error { return rp.mode().Compact() }

func (rp *replica) Control(command string, args []string) (string, error) {
	return rp.mode().Control(command, args)
}

func (rp *replica) Memory() map[string]int { return rp.mode().Memory() }

// Close closes the standalone mode once the Replicator has stopped
// writing through it.
func (rp *replica) Close() error {
	rp.xmu.Lock()
	defer rp.xmu.Unlock()
	rp.mu.Lock()
	rp.retired = true
	m := rp.inner
	rp.mu.Unlock()
	rp.r.unregister(rp)
	return m.Close()
}

// transact writes a replicated change through the standalone mode, with
// xmu held; it fails on a retired replica.
func (rp *replica) transact(ops []any) ([]any, error) {
	rp.mu.Lock()
	m, retired := rp.inner, rp.retired
	rp.mu.Unlock()
	if retired {
		return nil, errRetired
	}
	return m.Transact(context.Background(), ops, ovsdb.TransactOptions{}), nil
}

var errRetired = fmt.Errorf("database closed or converted meanwhile")

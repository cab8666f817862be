package server

import (
	"context"
	"sync"

	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// LockMode says how a session asked for a lock.
type LockMode int

const (
	// LockWait ("lock") queues behind the current owner.
	LockWait LockMode = iota
	// LockSteal ("steal") takes the lock from its owner at once.
	LockSteal
)

// LockSession is who holds or waits for a lock (a *jsonrpc.Session in
// the server; anything comparable in tests).
type LockSession interface {
	Notify(method string, params any) error
}

type lockWaiter struct {
	name string
	mode LockMode
	sess LockSession
	lock *lockQueue // nil once removed from the queue (stolen "steal" waiter)
}

// lockQueue is one named lock: waiters[0] owns it. A queue exists only
// while it has waiters.
type lockQueue struct {
	name    string
	waiters []*lockWaiter
}

func (q *lockQueue) remove(w *lockWaiter) {
	for i, x := range q.waiters {
		if x == w {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			return
		}
	}
}

// Locks is the server-wide lock table of RFC 7047's lock/steal/unlock,
// with C ovsdb-server's semantics (ovsdb/server.c): locks are per server,
// not per database; a "steal" puts the stealer in front and, if the victim
// got the lock by stealing too, drops the victim from the queue (it stays
// known to its session until it sends "unlock"); a "lock" waiter keeps
// its place and gets "locked" again when the stealer unlocks.
//
// Notifications ("locked", "stolen") are sent while the table's mutex is
// held so that every session sees them in the order the table changed.
type Locks struct {
	mu       sync.Mutex
	locks    map[string]*lockQueue
	sessions map[LockSession]map[string]*lockWaiter
}

// NewLocks returns an empty lock table.
func NewLocks() *Locks {
	return &Locks{
		locks:    map[string]*lockQueue{},
		sessions: map[LockSession]map[string]*lockWaiter{},
	}
}

func notifyLock(s LockSession, method, name string) {
	_ = s.Notify(method, []any{name})
}

// Lock handles "lock" (LockWait) and "steal" (LockSteal) for session s
// and reports whether s owns the lock afterwards. method is the request
// method named in errors.
func (l *Locks) Lock(s LockSession, name string, mode LockMode, method string, params []any) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ws := l.sessions[s]
	if ws[name] != nil {
		return false, ovsdberr.Syntax(params, "must issue \"unlock\" before new \"%s\"", method)
	}
	q := l.locks[name]
	if q == nil {
		q = &lockQueue{name: name}
		l.locks[name] = q
	}
	var victim *lockWaiter
	if mode == LockSteal && len(q.waiters) > 0 {
		victim = q.waiters[0]
	}
	w := &lockWaiter{name: name, mode: mode, sess: s, lock: q}
	if mode == LockSteal {
		q.waiters = append([]*lockWaiter{w}, q.waiters...)
	} else {
		q.waiters = append(q.waiters, w)
	}
	if ws == nil {
		ws = map[string]*lockWaiter{}
		l.sessions[s] = ws
	}
	ws[name] = w
	if victim != nil {
		if victim.mode == LockSteal {
			q.remove(victim)
			victim.lock = nil
		}
		notifyLock(victim.sess, "stolen", name)
	}
	return q.waiters[0] == w, nil
}

// Unlock handles "unlock" for session s.
func (l *Locks) Unlock(s LockSession, name string, params []any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.sessions[s][name]
	if w == nil {
		return ovsdberr.Syntax(params, "unlock: \"unlock\" without \"lock\" or \"steal\"")
	}
	l.release(w)
	return nil
}

// release removes w from its queue and its session. Like C, whoever owns
// the lock afterwards is told "locked", even when w was only waiting and
// the owner did not change.
func (l *Locks) release(w *lockWaiter) {
	if q := w.lock; q != nil {
		q.remove(w)
		w.lock = nil
		if len(q.waiters) == 0 {
			delete(l.locks, q.name)
		} else {
			notifyLock(q.waiters[0].sess, "locked", q.name)
		}
	}
	if ws := l.sessions[w.sess]; ws != nil {
		delete(ws, w.name)
		if len(ws) == 0 {
			delete(l.sessions, w.sess)
		}
	}
}

// ReleaseAll drops every lock request of session s (the session closed).
func (l *Locks) ReleaseAll(s LockSession) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.sessions[s] {
		l.release(w)
	}
	delete(l.sessions, s)
}

// Owns reports whether session s holds the named lock (the "assert"
// operation).
func (l *Locks) Owns(s LockSession, name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.sessions[s][name]
	return w != nil && w.lock != nil && w.lock.waiters[0] == w
}

// Status lists a session's locks as C's remote status reports them
// (locks_held, locks_waiting, locks_lost of an active remote's row): held,
// waiting ("lock" not yet granted) and lost (stolen "steal" requests).
func (l *Locks) Status(s LockSession) (held, waiting, lost []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.sessions[s] {
		switch {
		case w.lock != nil && w.lock.waiters[0] == w:
			held = append(held, w.name)
		case w.mode == LockWait:
			waiting = append(waiting, w.name)
		default:
			lost = append(lost, w.name)
		}
	}
	return held, waiting, lost
}

// lockName parses the params of lock, steal and unlock: exactly one id.
func lockName(method string, params []any) (string, error) {
	if len(params) == 1 {
		if s, ok := params[0].(string); ok && schema.IsValidID(s) {
			return s, nil
		}
	}
	return "", ovsdberr.Syntax(params, "%s request params must be <id>", method)
}

// errReadOnlyLock is C's error reply to lock, steal and unlock on a
// read-only session (a remote configured read_only): a bare string.
var errReadOnlyLock = &jsonrpc.ErrorValue{Value: "lock and unlock methods not allowed, DB server is read only."}

// registerLockMethods installs lock, steal, unlock and the per-session
// hooks (assert ownership, release on close).
func (s *Server) registerLockMethods() {
	lockHandler := func(mode LockMode, method string) jsonrpc.Handler {
		return func(_ context.Context, ss *jsonrpc.Session, params []any) (any, error) {
			if ss.ReadOnly() {
				return nil, errReadOnlyLock
			}
			name, err := lockName(method, params)
			if err != nil {
				return nil, err
			}
			owner, err := s.locks.Lock(ss, name, mode, method, params)
			if err != nil {
				return nil, err
			}
			return map[string]any{"locked": owner}, nil
		}
	}
	s.rpc.Register("lock", jsonrpc.Method{Handler: lockHandler(LockWait, "lock")})
	s.rpc.Register("steal", jsonrpc.Method{Handler: lockHandler(LockSteal, "steal")})
	s.rpc.Register("unlock", jsonrpc.Method{Handler: func(_ context.Context, ss *jsonrpc.Session, params []any) (any, error) {
		if ss.ReadOnly() {
			return nil, errReadOnlyLock
		}
		name, err := lockName("unlock", params)
		if err != nil {
			return nil, err
		}
		if err := s.locks.Unlock(ss, name, params); err != nil {
			return nil, err
		}
		return map[string]any{}, nil
	}})
	s.rpc.OnSession(func(ss *jsonrpc.Session) {
		ss.SetHasLock(func(name string) bool { return s.locks.Owns(ss, name) })
		ss.OnClose(func() { s.locks.ReleaseAll(ss) })
	})
}

package ovsdb

import "github.com/ovsdb-go/ovsdb-server/schema"

// CommitObserver receives every change set made visible in db (by Transact
// or Apply), in commit order, with the transaction's id. With a
// GroupCommitter a change set is made visible only once it is durable. It is called
// synchronously with the database's write lock held, so it must be quick
// (typically: append to a queue) and must not call back into db.
type CommitObserver func(txnID schema.UUID, cs *ChangeSet)

type observerEntry struct {
	fn CommitObserver
}

// Observe registers obs for every later commit and, atomically with the
// registration, calls snapshot (when non-nil) with the committed state and
// the id of the last committed transaction (all zeros before the first).
// No commit can fall between the snapshot and the registration. snapshot
// runs with the database lock held and must not modify the
// maps or rows. The returned function unregisters obs.
func (db *Database) Observe(snapshot func(tables map[string]map[schema.UUID]*Row, lastTxn schema.UUID),
	obs CommitObserver) (stop func()) {
	e := &observerEntry{fn: obs}
	db.mu.Lock()
	if snapshot != nil {
		snapshot(db.durableTablesLocked(), db.lastTxn)
	}
	db.observers = append(db.observers, e)
	db.mu.Unlock()
	return func() {
		db.mu.Lock()
		defer db.mu.Unlock()
		for i, x := range db.observers {
			if x == e {
				db.observers = append(db.observers[:i:i], db.observers[i+1:]...)
				return
			}
		}
	}
}

// LastTxnID returns the id of the last committed transaction (all zeros
// before the first commit).
func (db *Database) LastTxnID() schema.UUID {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.lastTxn
}

// observeLocked assigns the next transaction id (id, or a random one when
// id is all zeros) and tells the observers. Called with mu held for
// writing, after cs has been applied.
func (db *Database) observeLocked(cs *ChangeSet, id schema.UUID) {
	if id == (schema.UUID{}) {
		id = schema.NewUUID()
	}
	db.lastTxn = id
	for _, e := range db.observers {
		e.fn(db.lastTxn, cs)
	}
}

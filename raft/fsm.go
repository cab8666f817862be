package raft

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// DefaultDedupeSize is the default number of applied transaction ids whose
// replies the FSM remembers.
const DefaultDedupeSize = 4096

// ApplyResult is what FSM.Apply returns for one entry (the Response of
// hashicorp/raft's ApplyFuture).
type ApplyResult struct {
	// Reply is the transaction's result array; nil when Blocked.
	Reply []any
	// Blocked: a "wait" op was unsatisfied and had time left; nothing
	// was changed and the proposer should re-propose later.
	Blocked bool
	// Duplicate: the transaction id was applied before; Reply is the
	// remembered reply and nothing was executed.
	Duplicate bool
	// Err is set when the entry could not be decoded or names another
	// database (nothing was executed).
	Err error
}

// ConvertFunc makes the database of schema ns holding the rows tables
// (of schema old, as Database.Read gives them) converted by C's rules,
// committed as one transaction executed with opts; with opts.NewUUID and
// opts.TxnID set it must compute the same database on every member.
// internal/standalone.ConvertDatabaseWith is the one the clustered mode
// passes (raft does not import the file store).
type ConvertFunc func(tables map[string]map[schema.UUID]*ovsdb.Row, old, ns *schema.DatabaseSchema,
	opts ovsdb.TransactOptions) (*ovsdb.Database, error)

// FSM is the replicated state machine of one clustered database: it
// executes every committed entry with the engine, deterministically.
type FSM struct {
	// db is the applied state. It is replaced (never modified in place
	// by a conversion) when a conversion entry is applied or a snapshot
	// of another schema is restored; engine is then closed and replaced.
	db atomic.Pointer[ovsdb.Database]

	// applyMu serialises Apply (hashicorp/raft's FSM goroutine), catchUp
	// (client goroutines on a follower), Snapshot's copy and Restore.
	applyMu sync.Mutex

	mu      sync.Mutex
	applied uint64
	notify  chan struct{} // closed and replaced when applied changes
	dedupe  *lru
	engine  chan struct{} // closed and replaced when db is replaced

	// convert converts the state for a conversion entry (nil: such
	// entries fail, nothing changes). schemaChanged, when set, is told the
	// schema of each database that replaces db; called with applyMu held.
	convert       ConvertFunc
	schemaChanged func(*schema.DatabaseSchema)

	// record, when set, is told the position of each command entry
	// before its effects become visible (Config.AppliedLog); called
	// with applyMu held.
	record func(Position)
	// onApply, when set, is told the position of each entry
	// hashicorp/raft hands to Apply, before it is applied (the leader's
	// commit notices); called with applyMu held, it must not block.
	onApply func(Position)

	// arbiter: this member holds no database (arbiter.go): entries are
	// recorded, not executed, and snapshots hold no data.
	arbiter bool
}

// NewFSM returns an FSM over an empty database of schema s remembering the
// replies of the last dedupeSize transactions (<= 0: DefaultDedupeSize).
func NewFSM(s *schema.DatabaseSchema, dedupeSize int) *FSM {
	if dedupeSize <= 0 {
		dedupeSize = DefaultDedupeSize
	}
	f := &FSM{notify: make(chan struct{}), engine: make(chan struct{}), dedupe: newLRU(dedupeSize),
		convert: defaultConvert}
	f.db.Store(ovsdb.NewDatabase(s, ovsdb.NopCommitter{}))
	return f
}

// SetConvert sets the function that converts the state when a conversion
// entry is applied (Config.Convert does it for a Node's FSM). Call it
// before the FSM applies anything.
func (f *FSM) SetConvert(fn ConvertFunc) { f.convert = fn }

// Database returns the applied state. It stays the same object until a
// conversion replaces it: a conversion entry applied, or a snapshot
// whose schema differs from the current one restored (a Restore of the
// same schema changes the contents, not the pointer). EngineChanged
// tells when.
func (f *FSM) Database() *ovsdb.Database { return f.db.Load() }

// EngineChanged returns a channel closed when Database next returns
// another database.
func (f *FSM) EngineChanged() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.engine
}

// setDatabase makes db the applied state and tells EngineChanged's
// waiters and schemaChanged; applyMu is held.
func (f *FSM) setDatabase(db *ovsdb.Database) {
	f.db.Store(db)
	f.mu.Lock()
	close(f.engine)
	f.engine = make(chan struct{})
	f.mu.Unlock()
	if f.schemaChanged != nil {
		f.schemaChanged(db.Schema())
	}
}

// AppliedIndex returns the index of the last entry applied (or restored).
func (f *FSM) AppliedIndex() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// waitApplied blocks until the applied index is at least idx (true) or ctx
// or stop is done (false).
func (f *FSM) waitApplied(ctx context.Context, stop <-chan struct{}, idx uint64) bool {
	for {
		f.mu.Lock()
		ok, ch := f.applied >= idx, f.notify
		f.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		case <-stop:
			return false
		}
	}
}

// appliedPast is waitApplied(ctx, stop, idx+1) as a channel, closed once
// the applied index is above idx or stop or ctx is done, for a select
// with other events. release ends the wait (it may be called more than
// once); until then a goroutine waits.
func (f *FSM) appliedPast(ctx context.Context, stop <-chan struct{}, idx uint64) (
	past <-chan struct{}, release func()) {
	ch := make(chan struct{})
	wctx, cancel := context.WithCancel(ctx)
	go func() {
		f.waitApplied(wctx, stop, idx+1)
		close(ch)
	}()
	return ch, cancel
}

func (f *FSM) setApplied(idx uint64) {
	f.mu.Lock()
	f.applied = idx
	close(f.notify)
	f.notify = make(chan struct{})
	f.mu.Unlock()
}

// raiseApplied sets the applied index to idx if it is lower: the entries
// up to idx were applied (or are non-command entries covered by the
// restored snapshot).
func (f *FSM) raiseApplied(idx uint64) {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	if idx > f.AppliedIndex() {
		f.setApplied(idx)
	}
}

// Apply implements hraft.FSM. A single Entry answers *ApplyResult; a
// batch answers []*ApplyResult, one per Entry in batch order (a batch that
// cannot be split answers one *ApplyResult with Err, nothing executed).
func (f *FSM) Apply(l *hraft.Log) any {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	if l.Index <= f.AppliedIndex() {
		// Applied already by catchUp. Only committed entries of earlier
		// leaders get here (never one a future of this leader waits for).
		return &ApplyResult{Err: errAlreadyApplied}
	}
	if f.onApply != nil {
		// Committed: followers may apply it while this member does.
		f.onApply(Position{Index: l.Index, Term: l.Term})
	}
	return f.applyLocked(l)
}

var errAlreadyApplied = errors.New("raft: entry applied already")

// applyLocked applies one log entry; applyMu is held.
func (f *FSM) applyLocked(l *hraft.Log) any {
	if f.arbiter {
		// Committed and stored; an arbiter executes nothing.
		f.setApplied(l.Index)
		return &ApplyResult{Err: ErrArbiter}
	}
	if f.record != nil {
		f.record(Position{Index: l.Index, Term: l.Term})
	}
	defer f.setApplied(l.Index)
	if len(l.Data) == 0 || l.Data[0] != batchVersion {
		return f.applyEntry(l.Data)
	}
	parts, err := splitBatch(l.Data)
	if err != nil {
		logger().Error("undecodable log entry", "index", l.Index, "err", err)
		return &ApplyResult{Err: err}
	}
	out := make([]*ApplyResult, len(parts))
	for i, p := range parts {
		out[i] = f.applyEntry(p)
	}
	return out
}

func (f *FSM) applyEntry(data []byte) *ApplyResult {
	e, err := DecodeEntry(data)
	if err != nil {
		logger().Error("undecodable log entry", "err", err)
		return &ApplyResult{Err: err}
	}
	db := f.Database()
	if e.DB != db.Name() {
		return &ApplyResult{Err: fmt.Errorf("entry for database %q applied to %q", e.DB, db.Name())}
	}
	f.mu.Lock()
	reply, dup := f.dedupe.get(e.TxnID)
	f.mu.Unlock()
	if dup {
		return &ApplyResult{Reply: reply, Duplicate: true}
	}
	if e.Schema != nil {
		reply := convertReply(f.convertLocked(db, e))
		f.mu.Lock()
		f.dedupe.put(e.TxnID, reply)
		f.mu.Unlock()
		return &ApplyResult{Reply: reply}
	}
	locks := e.Locks
	opts := ovsdb.TransactOptions{
		HasLock: func(name string) bool {
			for _, l := range locks {
				if l == name {
					return true
				}
			}
			return false
		},
		NewUUID:     e.uuidSource(),
		TxnID:       e.TxnID,
		Role:        e.Role,
		ClientID:    e.ClientID,
		HasClientID: e.HasClientID,
	}
	res, blocked := db.TransactOnce(context.Background(), e.Ops, opts, e.ElapsedMS)
	if blocked {
		return &ApplyResult{Blocked: true}
	}
	f.mu.Lock()
	f.dedupe.put(e.TxnID, res)
	f.mu.Unlock()
	return &ApplyResult{Reply: res}
}

// convertLocked applies the conversion entry e to db, the applied state:
// every member converts the same rows with the same UUID source and
// transaction id, so all compute the same database, which replaces db. On
// an error nothing changes (the error is the same on every member).
// applyMu is held.
func (f *FSM) convertLocked(db *ovsdb.Database, e *Entry) error {
	ns, err := schema.ParseSchemaBytes(e.Schema)
	if err != nil {
		return err
	}
	if err := checkConvert(db, ns); err != nil {
		return err
	}
	if f.convert == nil {
		logger().Error(fmt.Sprintf("%s: conversion entry not applied: no converter (raft.Config.Convert)", db.Name()))
		return ovsdberr.New(ovsdberr.TagOVSDB, "%s: this member cannot convert databases", db.Name())
	}
	var ndb *ovsdb.Database
	db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
		ndb, err = f.convert(tables, db.Schema(), ns, ovsdb.TransactOptions{NewUUID: e.uuidSource(), TxnID: e.TxnID})
	})
	if err != nil {
		logger().Info(fmt.Sprintf("%s: conversion to schema version %s not applied: %v", ns.Name, ns.Version, err))
		return err
	}
	f.setDatabase(ndb)
	logger().Info(fmt.Sprintf("%s: converted database to schema version %s", ns.Name, ns.Version))
	return nil
}

// checkConvert returns C's error for a conversion of db to ns that no
// member may apply: another database's schema, or ephemeral columns, which
// clustered databases do not have (ovsdb-client convert makes them
// persistent before sending the schema).
func checkConvert(db *ovsdb.Database, ns *schema.DatabaseSchema) error {
	if ns.Name != db.Name() {
		return ovsdberr.New("invalid parameters", "new schema name (%s) does not match database name (%s)", ns.Name, db.Name())
	}
	names := make([]string, 0, len(ns.Tables))
	for name := range ns.Tables {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, c := range ns.Tables[name].Columns[2:] {
			if !c.Persistent {
				return ovsdberr.New(ovsdberr.TagSyntax, "Table %s column %s is ephemeral but clustered databases do not support ephemeral columns.", name, c.Name)
			}
		}
	}
	return nil
}

// convertReply is the reply remembered for a conversion entry: [{}] when
// it was applied, [error] otherwise (decoded by convertResult).
func convertReply(err error) []any {
	if err != nil {
		return []any{ovsdberr.ToJSON(err)}
	}
	return []any{map[string]any{}}
}

// convertResult is the error of a conversion whose reply is reply.
func convertResult(reply []any) error {
	if len(reply) != 1 {
		return ovsdberr.New(ovsdberr.TagInternal, "conversion: unexpected reply %s", cjson.Marshal(reply))
	}
	m, _ := reply[0].(map[string]any)
	tag, _ := m["error"].(string)
	if tag == "" {
		return nil
	}
	e := &ovsdberr.Error{Tag: tag}
	e.Details, _ = m["details"].(string)
	e.IOError, _ = m["io-error"].(string)
	if text, ok := m["syntax"].(string); ok {
		if v, err := schema.DecodeJSON([]byte(text)); err == nil {
			e.Syntax, e.HasSyntax = v, true
		}
	}
	return e
}

// maxCatchUp bounds the entries catchUp applies at once; a member further
// behind leaves them to hashicorp/raft.
const maxCatchUp = 256

// catchUp applies, now, the committed entries up to pos that this member
// holds and has not applied yet. A follower calls it when the leader has
// answered its forwarded write with pos: it would otherwise learn that pos
// is committed only from the leader's next AppendEntries, after storing
// the entries that come with it. Safe because an entry with pos's index
// and term in the local log means the local log equals the leader's up to
// pos (Raft's log matching property), and pos is committed; hashicorp/raft
// later offers the same entries to Apply, which skips them. Nothing is
// done when the local entry at pos.Index is missing or of another term.
func (f *FSM) catchUp(logs hraft.LogStore, pos Position) {
	if pos.Term == 0 || f.AppliedIndex() >= pos.Index {
		return
	}
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	f.applyUpTo(logs, pos, maxCatchUp)
}

// replay applies the local log up to pos, a position this member recorded
// as applied before it stopped (Config.AppliedLog), so that a restarted
// member serves at once the state it served before, not its last snapshot.
// The same rule as catchUp makes it safe, without a bound. It reports how
// many entries were applied; 0 and false when the log does not hold pos
// (then nothing is applied).
func (f *FSM) replay(logs hraft.LogStore, pos Position) (int, bool) {
	if pos.Term == 0 {
		return 0, false
	}
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	before := f.AppliedIndex()
	if before >= pos.Index {
		return 0, true
	}
	if !f.applyUpTo(logs, pos, 0) {
		return 0, false
	}
	return int(f.AppliedIndex() - before), true
}

// applyUpTo applies the local entries after the applied index up to pos
// if the local entry at pos.Index has pos.Term and all of them are held
// (limit > 0 bounds their number); applyMu is held. It reports whether it
// applied up to pos.
func (f *FSM) applyUpTo(logs hraft.LogStore, pos Position, limit uint64) bool {
	first := f.AppliedIndex() + 1
	if first > pos.Index {
		return true
	}
	if limit > 0 && pos.Index-first >= limit {
		return false
	}
	var last hraft.Log
	if logs.GetLog(pos.Index, &last) != nil || last.Term != pos.Term {
		return false
	}
	if first < pos.Index {
		// All held? (Below the log's first index are only entries the
		// restored snapshot covers; a gap means nothing can be applied.)
		var l hraft.Log
		if logs.GetLog(first, &l) != nil {
			return false
		}
	}
	for i := first; i <= pos.Index; i++ {
		l := &last
		if i < pos.Index {
			l = new(hraft.Log)
			if logs.GetLog(i, l) != nil {
				return false
			}
		}
		if l.Type == hraft.LogCommand {
			f.applyLocked(l)
		} else {
			f.setApplied(i) // configuration, no-op, barrier: nothing for the FSM
		}
	}
	return true
}

// snapshotVersion is the "version" member of snapshot files.
const snapshotVersion = 1

// Snapshot implements hraft.FSM: it copies the table maps (pointers to
// immutable rows) under the engine's read lock; Persist serialises them.
func (f *FSM) Snapshot() (hraft.FSMSnapshot, error) {
	if f.arbiter {
		return arbiterSnapshot{f.AppliedIndex()}, nil
	}
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	db := f.Database()
	s := &fsmSnapshot{schema: db.Schema()}
	db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
		s.tables = make(map[string]map[schema.UUID]*ovsdb.Row, len(tables))
		for name, rows := range tables {
			m := make(map[schema.UUID]*ovsdb.Row, len(rows))
			for id, r := range rows {
				m[id] = r
			}
			s.tables[name] = m
		}
	})
	f.mu.Lock()
	s.index = f.applied
	s.dedupe = f.dedupe.entries()
	f.mu.Unlock()
	return s, nil
}

// Release implements hraft.FSMSnapshot.
func (s *fsmSnapshot) Release() {}

type snapshotFile struct {
	Version int                                   `json:"version"`
	Index   uint64                                `json:"index"`
	Schema  json.RawMessage                       `json:"schema"`
	Data    map[string]map[string]json.RawMessage `json:"data"`
	Dedupe  []json.RawMessage                     `json:"dedupe"`
	// Arbiter marks an arbiter's snapshot (arbiter.go), which holds no
	// data and is refused.
	Arbiter bool `json:"arbiter"`
}

// Restore implements hraft.FSM: it replaces the database's contents with
// the snapshot's and reloads the dedupe table. A snapshot of the current
// schema is applied as one change set to the same Database, so consumers
// holding it, such as monitors, see the difference as an ordinary commit.
// A snapshot of another schema (taken after a conversion this member has
// not applied) replaces the Database, as a conversion does.
func (f *FSM) Restore(rc io.ReadCloser) error {
	if f.arbiter {
		return f.arbiterRestore(rc)
	}
	defer rc.Close()
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	var sf snapshotFile
	if err := json.NewDecoder(bufio.NewReaderSize(rc, 1<<16)).Decode(&sf); err != nil {
		return fmt.Errorf("raft snapshot: %w", err)
	}
	if sf.Arbiter {
		return fmt.Errorf("raft snapshot: taken by an arbiter, it holds no database: %w", ErrArbiter)
	}
	if sf.Version != snapshotVersion {
		return fmt.Errorf("raft snapshot: unknown version %d", sf.Version)
	}
	if applied := f.AppliedIndex(); sf.Index > 0 && sf.Index < applied {
		// A leader's snapshot older than what this member applied
		// (entries applied by catchUp or the start-up replay, which
		// hashicorp/raft does not count): every applied entry is
		// committed, so the current state is the snapshot's plus the
		// committed entries after it. Replacing it would make the member
		// serve an older state than it served; hashicorp/raft offers the
		// entries after the snapshot to Apply, which skips the applied
		// ones.
		logger().Info(fmt.Sprintf("snapshot at index %d is older than the applied index %d; state kept", sf.Index, applied))
		return nil
	}
	cur := f.Database()
	sch := cur.Schema()
	if len(sf.Schema) > 0 {
		ss, err := schema.ParseSchemaBytes(sf.Schema)
		if err != nil {
			return fmt.Errorf("raft snapshot: schema: %w", err)
		}
		if !sameSchema(ss, sch) {
			sch = ss
			cur = nil // a new database, below
		}
	}
	newRows := map[string]map[schema.UUID]*ovsdb.Row{}
	for tname, rows := range sf.Data {
		ts := sch.Table(tname)
		if ts == nil {
			return fmt.Errorf("raft snapshot: unknown table %q", tname)
		}
		m := make(map[schema.UUID]*ovsdb.Row, len(rows))
		for idText, raw := range rows {
			id, err := schema.ParseUUID(idText)
			if err != nil {
				return fmt.Errorf("raft snapshot: row id %q: %w", idText, err)
			}
			v, err := schema.DecodeJSON(raw)
			if err != nil {
				return fmt.Errorf("raft snapshot: row %s: %w", id, err)
			}
			obj, _ := v.(map[string]any)
			fields := make([]schema.Datum, len(ts.Columns))
			for _, c := range ts.Columns {
				js, ok := obj[c.Name]
				if !ok {
					fields[c.Index] = schema.DefaultDatum(&c.Type)
					continue
				}
				d, err := schema.ParseDatum(&c.Type, js, nil)
				if err != nil {
					return fmt.Errorf("raft snapshot: row %s column %s: %w", id, c.Name, err)
				}
				fields[c.Index] = d
			}
			fields[schema.ColUUID] = schema.NewScalar(id)
			m[id] = ovsdb.NewRow(fields)
		}
		newRows[tname] = m
	}
	cs := &ovsdb.ChangeSet{Tables: map[string]map[schema.UUID]*ovsdb.RowChange{}}
	add := func(t string, id schema.UUID, rc *ovsdb.RowChange) {
		m := cs.Tables[t]
		if m == nil {
			m = map[schema.UUID]*ovsdb.RowChange{}
			cs.Tables[t] = m
		}
		m[id] = rc
	}
	db := cur
	if db == nil {
		db = ovsdb.NewDatabase(sch, ovsdb.NopCommitter{})
	}
	db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
		for tname, rows := range tables {
			for id, r := range rows {
				if newRows[tname][id] == nil {
					add(tname, id, &ovsdb.RowChange{Old: r})
				}
			}
		}
		for tname, rows := range newRows {
			for id, r := range rows {
				add(tname, id, &ovsdb.RowChange{Old: tables[tname][id], New: r})
			}
		}
	})
	if !cs.Empty() {
		db.Apply(cs)
	}
	d := newLRU(f.dedupe.max)
	for _, raw := range sf.Dedupe {
		v, err := schema.DecodeJSON(raw)
		if err != nil {
			return fmt.Errorf("raft snapshot: dedupe: %w", err)
		}
		pair, _ := v.([]any)
		if len(pair) != 2 {
			return fmt.Errorf("raft snapshot: dedupe entry is not a pair")
		}
		s, _ := pair[0].(string)
		id, err := schema.ParseUUID(s)
		if err != nil {
			return fmt.Errorf("raft snapshot: dedupe id: %w", err)
		}
		reply, _ := pair[1].([]any)
		d.put(id, reply)
	}
	f.mu.Lock()
	f.dedupe = d
	f.mu.Unlock()
	if cur == nil {
		f.setDatabase(db)
	}
	f.setApplied(sf.Index)
	return nil
}

// sameSchema reports whether a and b are the same schema (the same C
// JSON text).
func sameSchema(a, b *schema.DatabaseSchema) bool {
	return a == b || bytes.Equal(cjson.Marshal(a.CJSON()), cjson.Marshal(b.CJSON()))
}

// lru is a bounded map of transaction id -> reply, evicting the oldest.
type lru struct {
	max   int
	order *list.List // of dedupeEntry, oldest first
	m     map[schema.UUID]*list.Element
}

type dedupeEntry struct {
	id    schema.UUID
	reply []any
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), m: map[schema.UUID]*list.Element{}}
}

func (l *lru) get(id schema.UUID) ([]any, bool) {
	e := l.m[id]
	if e == nil {
		return nil, false
	}
	return e.Value.(dedupeEntry).reply, true
}

func (l *lru) put(id schema.UUID, reply []any) {
	if e := l.m[id]; e != nil {
		l.order.Remove(e)
	}
	l.m[id] = l.order.PushBack(dedupeEntry{id, reply})
	for l.order.Len() > l.max {
		e := l.order.Front()
		l.order.Remove(e)
		delete(l.m, e.Value.(dedupeEntry).id)
	}
}

func (l *lru) entries() []dedupeEntry {
	out := make([]dedupeEntry, 0, l.order.Len())
	for e := l.order.Front(); e != nil; e = e.Next() {
		out = append(out, e.Value.(dedupeEntry))
	}
	return out
}

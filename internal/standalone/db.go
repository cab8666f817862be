package standalone

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage"
)

// logger is looked up at each use so that a handler installed later
// (cmd/ovsdb-server's vlog) receives this package's lines.
func logger() *slog.Logger { return slog.Default().With("module", "standalone") }

// Compaction scheduling, as C's storage.c.
const (
	snapshotBase  = 10 * time.Minute
	snapshotRange = 10 * time.Minute
	snapshotMax   = 24 * time.Hour
	minLogRecords = 100
)

// Comment of the snapshot record written by online compaction (as C).
const compactComment = "compacting database online"

// DB is a standalone database: an engine database backed by a log file.
// It implements ovsdb.Committer.
type DB struct {
	path   string
	schema *schema.DatabaseSchema
	db     *ovsdb.Database

	compactMu sync.Mutex // serialises compactions

	mu       sync.Mutex // guards everything below
	log      *storage.Log
	nRead    int
	nWritten int
	nextMin  time.Time
	nextMax  time.Time
	tail     [][]byte // records written while a compaction runs; nil otherwise
	closing  bool     // Close started: no new automatic compaction
	closed   bool
	wg       sync.WaitGroup

	// Group commit (groupcommit.go): buffers reused by WriteBatch, which
	// the engine never runs concurrently (used without mu).
	wbuf    []byte   // the batch's records
	scratch []byte   // one record's data
	spans   [][2]int // each record's data in wbuf
	// writeHook, if set (tests), runs before each group write with the
	// records, under mu; an error fails the write.
	writeHook func(recs []byte) error
	// compactHook, if set (tests), runs during compaction without d.mu:
	// "prepared" after the snapshot is in the temporary file, "round"
	// after each tail round copied without d.mu.
	compactHook func(stage string)

	now func() time.Time // for tests
}

// Create creates a new database file holding only the schema, like
// "ovsdb-tool create". It fails if the file exists.
func Create(path string, s *schema.DatabaseSchema) error {
	l, err := storage.Open(path, storage.MagicStandalone, storage.CreateExcl)
	if err != nil {
		return err
	}
	if err := l.WriteRaw(schemaRecord(s)); err != nil {
		l.Close()
		return err
	}
	if err := l.Commit(); err != nil {
		l.Close()
		return err
	}
	return l.Close()
}

// Open opens a standalone database file for reading and writing: it reads
// the schema, replays every transaction record into a new ovsdb.Database
// and attaches itself as that database's Committer. A torn or corrupt tail
// is logged and dropped (the next write truncates it); a transaction that
// cannot be applied ends replay the same way. A clustered file gives an
// error matching storage.ErrClustered.
func Open(path string) (*DB, error) {
	l, err := storage.Open(path, storage.MagicStandalone+"|"+storage.MagicClustered, storage.ReadWrite)
	if err != nil {
		return nil, err
	}
	if l.Magic() == storage.MagicClustered {
		l.Close()
		return nil, &storage.ClusteredError{Path: path}
	}
	d, err := load(path, l)
	if err != nil {
		l.Close()
		return nil, err
	}
	return d, nil
}

func load(path string, l *storage.Log) (*DB, error) {
	// The schema record is parsed from its text, whose member order decides
	// C's iteration orders (see schema.ParseSchemaBytes).
	raw, err := l.ReadRaw()
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, ovsdberr.New(ovsdberr.TagOVSDB, "%s: unexpected end of file reading schema", path)
	}
	s, err := schema.ParseSchemaBytes(raw)
	if err != nil {
		return nil, err
	}
	d := &DB{path: path, schema: s, log: l, nRead: 1, now: time.Now}
	d.db = ovsdb.NewDatabase(s, nil)
	rp := &replayer{s: s, db: d.db}
	for {
		rec, err := l.Read()
		if err != nil {
			// Probably a crash in the middle of a write: use what we have.
			logger().Error(err.Error(), "file", path)
			break
		}
		if rec == nil {
			break
		}
		d.nRead++
		if d.nRead == 2 {
			l.MarkBase()
		}
		cs, err := rp.changeSet(rec)
		if err != nil {
			logger().Error("cannot replay transaction; ignoring it and the rest of the file",
				"file", path, "offset", l.Offset(), "err", err)
			l.Unread()
			break
		}
		d.db.Apply(cs)
	}
	d.scheduleNext(false)
	d.db.SetCommitter(d)
	return d, nil
}

// Database returns the engine database.
func (d *DB) Database() *ovsdb.Database { return d.db }

// Path returns the file name.
func (d *DB) Path() string { return d.path }

func (d *DB) scheduleNext(quick bool) {
	base, rng := snapshotBase, snapshotRange
	if quick {
		base, rng = base/10, rng/10
	}
	now := d.now()
	d.nextMin = now.Add(base + time.Duration(rand.Int64N(int64(rng))))
	if !quick {
		d.nextMax = now.Add(snapshotMax)
	}
}

// shouldCompact is C's ovsdb_storage_should_snapshot for a log. Called
// with d.mu held.
func (d *DB) shouldCompact() bool {
	now := d.now()
	if now.Before(d.nextMin) {
		return false
	}
	n := d.nRead + d.nWritten
	if now.Before(d.nextMax) {
		return n >= minLogRecords && d.log.GrewLots()
	}
	return n > 0
}

var errClosed = errors.New("closed")

// schemaRecord is the data of a schema record (schema.ToJSON is an
// ordered object, which storage.Log.Write does not take).
func schemaRecord(s *schema.DatabaseSchema) []byte {
	return append(cjson.Marshal(s.CJSON()), '\n')
}

// Compact rewrites the file as the schema plus one record holding every
// row (plus records committed while it ran), atomically replacing it. It
// must not be called from inside a transaction commit.
func (d *DB) Compact() error {
	d.compactMu.Lock()
	defer d.compactMu.Unlock()
	return d.compact()
}

// Compaction copies the records committed after its snapshot (d.tail)
// into the new file in rounds without d.mu while more than tailUnlocked
// are waiting, at most tailRounds times; the rest is copied under d.mu.
const (
	tailUnlocked = 64
	tailRounds   = 4
)

func (d *DB) compact() error {
	start := d.now()
	// 1. A consistent view: the log holds exactly the records reflected
	// in these rows, and every later record goes to d.tail.
	// d.mu first: a write and its publication happen under d.mu
	// (WriteBatch), so the snapshot holds every record written so far.
	rows := map[string][]*ovsdb.Row{}
	d.mu.Lock()
	closed := d.closed
	lg := d.log
	if !closed {
		d.db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
			for name, t := range tables {
				rs := make([]*ovsdb.Row, 0, len(t))
				for _, r := range t {
					rs = append(rs, r)
				}
				rows[name] = rs
			}
		})
		d.tail = [][]byte{}
	}
	d.mu.Unlock()
	if closed {
		return errClosed
	}
	fail := func(p *storage.Pending, err error) error {
		if p != nil {
			p.Abort()
		}
		d.tail = nil
		d.scheduleNext(true)
		return err
	}
	// 2. Serialise without blocking writers (rows are immutable).
	data := append(appendSnapshot(nil, d.schema, rows, compactComment, d.now()), '\n')
	rows = nil
	// 3. Hash, write and sync the schema and the snapshot into the
	// temporary file, still without d.mu: commits keep going to the old
	// file (lg is only replaced by Convert, which compactMu excludes).
	p, err := lg.PrepareReplace(schemaRecord(d.schema), data)
	data = nil
	if d.compactHook != nil && err == nil {
		d.compactHook("prepared")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		return fail(nil, err)
	}
	// 4. Copy what was committed meanwhile, in commit order; while much is
	// waiting, without d.mu.
	for round := 0; round < tailRounds && len(d.tail) > tailUnlocked && !d.closed; round++ {
		tail := d.tail
		d.tail = [][]byte{}
		d.mu.Unlock()
		err := p.Append(records(tail)...)
		if d.compactHook != nil {
			d.compactHook("round")
		}
		d.mu.Lock()
		if err != nil {
			return fail(p, err)
		}
	}
	if d.closed {
		return fail(p, errClosed)
	}
	// 5. Under d.mu from here to the end (no write in progress): the last
	// records, fsync, rename, switch.
	tail := d.tail
	d.tail = nil
	if err := p.Append(records(tail)...); err != nil {
		return fail(p, err)
	}
	if err := p.Commit(); err != nil {
		return fail(nil, err)
	}
	d.scheduleNext(false)
	elapsed := d.now().Sub(start)
	lvl := slog.LevelDebug
	if elapsed > time.Second {
		lvl = slog.LevelInfo
	}
	logger().Log(context.Background(), lvl, "database compaction done",
		"db", d.schema.Name, "ms", elapsed.Milliseconds())
	return nil
}

// records converts record data for storage.Pending.Append.
func records(tail [][]byte) []any {
	out := make([]any, len(tail))
	for i, t := range tail {
		out[i] = t
	}
	return out
}

// Close waits for a running compaction, detaches from the engine and
// closes the file (releasing the lock).
func (d *DB) Close() error {
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return nil
	}
	d.closing = true
	d.mu.Unlock()
	d.wg.Wait() // let a running automatic compaction finish
	d.compactMu.Lock()
	defer d.compactMu.Unlock()
	d.db.SetCommitter(closedCommitter{d.path})
	// Write what is still queued (no new commits can come now).
	d.db.Flush()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.log == nil {
		return nil
	}
	return d.log.Close()
}

type closedCommitter struct{ path string }

func (c closedCommitter) Commit(context.Context, *ovsdb.ChangeSet) error {
	return ovsdberr.New(ovsdberr.TagIOError, "%s: database is closed", c.path)
}

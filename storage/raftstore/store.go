package raftstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	bolt "go.etcd.io/bbolt"

	"github.com/ovsdb-go/ovsdb-server/internal/fsmode"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// logger is looked up at each use so that a handler installed later
// (cmd/ovsdb-server's vlog) receives this package's lines.
func logger() *slog.Logger { return slog.Default().With("module", "raftstore") }

// DefaultElectionTimerMS is the election timer of a new cluster when none is
// given, as in C's ovsdb-tool create-cluster.
const DefaultElectionTimerMS = 1000

// DefaultLockTimeout is how long Open waits for another process (or another
// Store in this process) to release the file.
const DefaultLockTimeout = time.Second

// DefaultRetain is how many completed snapshots the SnapshotStore keeps.
const DefaultRetain = 2

// formatTag identifies a file written by this package (bucket "meta", key
// "format"); a bbolt file without it is not ours.
const formatTag = "ovsdb-go raftstore 1"

var (
	bktMeta     = []byte("meta")
	bktLog      = []byte("log")
	bktStable   = []byte("stable")
	bktSnap     = []byte("snap")     // snapshot ID -> snapshot metadata (JSON)
	bktSnapData = []byte("snapdata") // snapshot ID -> bucket of chunks
	keyFormat   = []byte("format")
	keyHeader   = []byte("header")
)

// Meta is the member's identity and the cluster parameters it was created
// with: what C keeps in the header record of a clustered database file.
type Meta struct {
	// ClusterID is the cluster's id (C "cluster_id"); zero while a member
	// created by join-cluster without --cid has not joined yet.
	ClusterID schema.UUID
	// ServerID is this member's id (C "server_id"), never zero.
	ServerID schema.UUID
	// LocalAddress is the Raft address this member listens on, such as
	// "tcp:127.0.0.1:6643" (C "local_address").
	LocalAddress string
	// Name is the database name (C "name").
	Name string
	// Schema is the database schema JSON text as given to create-cluster
	// (C keeps it inside "prev_data"); empty for a member that has not
	// joined yet.
	Schema []byte
	// ElectionTimerMS is the election timer in milliseconds; 0 means
	// DefaultElectionTimerMS. It is set by create-cluster --election-timer
	// and by cluster/change-election-timer (C keeps both in log records,
	// and "prev_election_timer" in the header after compaction).
	ElectionTimerMS int
	// RemoteAddresses are the addresses of existing members given to
	// join-cluster (C "remote_addresses"); non-empty exactly while the member
	// has not joined yet.
	RemoteAddresses []string
	// Left records that this member was removed from its cluster
	// (cluster/leave, or kicked by another member): it takes no further
	// part in the cluster and cannot rejoin with its server id. Files
	// without the field are members.
	Left bool
	// Arbiter marks a member that stores the Raft log and votes but
	// holds no database state and serves no clients (ovsdb-tool
	// join-cluster --arbiter). A file is made one or the other and never
	// changes kind. Files without the field are data members.
	Arbiter bool
}

// Joining reports whether the member was created by join-cluster and has
// not joined its cluster yet.
func (m Meta) Joining() bool { return len(m.RemoteAddresses) > 0 }

// header is the JSON form of Meta in the file.
type header struct {
	ClusterID       string   `json:"cluster_id,omitempty"`
	ServerID        string   `json:"server_id"`
	LocalAddress    string   `json:"local_address"`
	Name            string   `json:"name"`
	Schema          string   `json:"schema,omitempty"`
	ElectionTimerMS int      `json:"election_timer,omitempty"`
	RemoteAddresses []string `json:"remote_addresses,omitempty"`
	Left            bool     `json:"left,omitempty"`
	Arbiter         bool     `json:"arbiter,omitempty"`
}

func (m Meta) validate(path string) error {
	switch {
	case m.ServerID.IsZero():
		return ovsdberr.New(ovsdberr.TagOVSDB, "%s: server id must not be zero", path)
	case m.ClusterID.IsZero() && !m.Joining():
		return ovsdberr.New(ovsdberr.TagOVSDB, "%s: cluster id must not be zero unless joining", path)
	case m.Name == "":
		return ovsdberr.New(ovsdberr.TagOVSDB, "%s: database name must not be empty", path)
	case m.LocalAddress == "":
		return ovsdberr.New(ovsdberr.TagOVSDB, "%s: local address must not be empty", path)
	case m.ElectionTimerMS < 0:
		return ovsdberr.New(ovsdberr.TagOVSDB, "%s: election timer must not be negative", path)
	case len(m.Schema) == 0 && !m.Joining():
		return ovsdberr.New(ovsdberr.TagOVSDB, "%s: schema must not be empty unless joining", path)
	}
	return nil
}

func (m Meta) encode() ([]byte, error) {
	h := header{
		ServerID:        m.ServerID.String(),
		LocalAddress:    m.LocalAddress,
		Name:            m.Name,
		Schema:          string(m.Schema),
		ElectionTimerMS: m.ElectionTimerMS,
		RemoteAddresses: m.RemoteAddresses,
		Left:            m.Left,
		Arbiter:         m.Arbiter,
	}
	if !m.ClusterID.IsZero() {
		h.ClusterID = m.ClusterID.String()
	}
	return json.Marshal(h)
}

func decodeMeta(b []byte) (Meta, error) {
	var h header
	if err := json.Unmarshal(b, &h); err != nil {
		return Meta{}, err
	}
	var m Meta
	var err error
	if h.ClusterID != "" {
		if m.ClusterID, err = schema.ParseUUID(h.ClusterID); err != nil {
			return Meta{}, err
		}
	}
	if m.ServerID, err = schema.ParseUUID(h.ServerID); err != nil {
		return Meta{}, err
	}
	m.LocalAddress = h.LocalAddress
	m.Name = h.Name
	if h.Schema != "" {
		m.Schema = []byte(h.Schema)
	}
	m.ElectionTimerMS = h.ElectionTimerMS
	m.RemoteAddresses = h.RemoteAddresses
	m.Left = h.Left
	m.Arbiter = h.Arbiter
	return m, nil
}

func (m Meta) clone() Meta {
	m.Schema = bytes.Clone(m.Schema)
	if m.RemoteAddresses != nil {
		m.RemoteAddresses = append([]string(nil), m.RemoteAddresses...)
	}
	return m
}

// Store is one open clustered database file. It is safe for concurrent use.
type Store struct {
	path   string
	db     *bolt.DB
	retain int

	metaMu sync.Mutex
	meta   Meta
	sid    schema.UUID // meta.ServerID, which never changes

	// writeTxns counts committed read-write transactions (tests check that a
	// batch costs one).
	writeTxns atomic.Uint64

	snapMu  sync.Mutex
	readers map[string]int // snapshot ID -> open readers
	closed  bool

	// Write failures (update): whether the last write failed, and a test
	// hook that fails writes.
	writeFailing atomic.Bool
	failWrite    func() error
	failAppend   func() error // fails WAL appends only (tests)

	// A deferred deletion of the log's tail (logstore.go): 0 or the first
	// index deleted; truncMu serialises its changes.
	truncMu   sync.Mutex
	truncFrom atomic.Uint64

	// The applied position (applied.go).
	appliedMu     sync.Mutex
	applied       Applied
	appliedFile   *os.File // the side file, opened at the first record
	appliedFailed bool     // the side file could not be opened

	// The WAL (wal.go), nil for a file whose log is in bucket "log";
	// walID is the bound directory's id, walPending a migration's.
	wal        *walLog
	walID      string
	walPending string
	// A read-only store's WAL entries, read at open (walread.go).
	walRO *roLog

	// OpenReadOnly: writes fail; copyPath, if not empty, is the private
	// copy db reads, removed by Close.
	readOnly bool
	copyPath string
}

// Options tune Open.
type Options struct {
	// LockTimeout bounds the wait for the file lock; 0 means
	// DefaultLockTimeout.
	LockTimeout time.Duration
	// Retain is how many completed snapshots to keep; 0 means
	// DefaultRetain.
	Retain int
}

func cErrno(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	s := err.Error()
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

func ioError(err error, format string, args ...any) *ovsdberr.Error {
	e := ovsdberr.IO(err, format, args...)
	if err != nil {
		e.IOError = cErrno(err)
	}
	return e
}

func boltOptions(timeout time.Duration) *bolt.Options {
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	return &bolt.Options{
		Timeout: timeout,
		// The freelist is rebuilt by scanning at open instead of being
		// rewritten on every commit: cheaper appends, same durability.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	}
}

// Create makes a new clustered database file at path holding m and an empty
// log, as ovsdb-tool create-cluster (m.ClusterID set) or join-cluster
// (m.RemoteAddresses set) does. It fails if path exists. The file appears
// atomically: it is built under a temporary name, synced, and linked into
// place, so a crash never leaves a half-made file at path.
func Create(path string, m Meta) error {
	if err := m.validate(path); err != nil {
		return err
	}
	hdr, err := m.encode()
	if err != nil {
		return ovsdberr.Wrap(ovsdberr.TagInternal, err)
	}
	if _, err := os.Lstat(path); err == nil {
		return ioError(syscall.EEXIST, "%s: create failed", path)
	}
	dir := filepath.Dir(path)
	tmpf, err := fsmode.CreateTemp(dir, "."+filepath.Base(path)+".tmp*", fsmode.Database)
	if err != nil {
		return ioError(err, "%s: create failed", path)
	}
	tmp := tmpf.Name()
	tmpf.Close()
	defer os.Remove(tmp)
	db, err := bolt.Open(tmp, fsmode.Database, boltOptions(0))
	if err != nil {
		return ioError(err, "%s: create failed", path)
	}
	walID := ""
	if useWAL() {
		walID = newWALID()
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bktMeta, bktLog, bktStable, bktSnap, bktSnapData, bktWALState} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		mb := tx.Bucket(bktMeta)
		if err := mb.Put(keyFormat, []byte(formatTag)); err != nil {
			return err
		}
		if walID != "" {
			if err := mb.Put(keyWAL, []byte(walID)); err != nil {
				return err
			}
		}
		return mb.Put(keyHeader, hdr)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return ioError(err, "%s: create failed", path)
	}
	if walID != "" {
		// With no file at path, a directory at its WAL's name is another
		// (deleted or moved) file's log: never read it as ours.
		if err := setAside(WALDir(path), "log directory of a database file that is no longer there"); err != nil {
			return err
		}
		if err := makeWALDir(WALDir(path), walID); err != nil {
			return ioError(err, "%s: create failed", WALDir(path))
		}
	}
	if err := os.Link(tmp, path); err != nil {
		return ioError(err, "%s: create failed", path)
	}
	if err := syncDir(dir); err != nil {
		return ioError(err, "%s: sync of directory failed", path)
	}
	logger().Debug("created clustered database file", "path", path, "name", m.Name,
		"cid", m.ClusterID.String(), "sid", m.ServerID.String())
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// Open opens the clustered database file at path with default Options.
func Open(path string) (*Store, error) { return OpenWithOptions(path, Options{}) }

// OpenWithOptions opens the clustered database file at path for exclusive
// use: a second Open of the same file, in this or another process, fails
// after opts.LockTimeout with "failed to lock lockfile (Resource temporarily
// unavailable)". Snapshot chunks left by a crash mid-snapshot are removed.
func OpenWithOptions(path string, opts Options) (*Store, error) {
	f, err := Sniff(path)
	if err != nil {
		return nil, err
	}
	if f != FormatBolt {
		return nil, ovsdberrNotOurs(path, f)
	}
	if err := checkWhole(path); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, fsmode.Database, boltOptions(opts.LockTimeout))
	if err != nil {
		return nil, boltOpenError(path, err)
	}
	s := &Store{path: path, db: db, retain: opts.Retain, readers: map[string]int{}}
	if s.retain <= 0 {
		s.retain = DefaultRetain
	}
	if err := s.loadHeader(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.removeOrphans(); err != nil {
		db.Close()
		return nil, ioError(err, "%s: cleanup of interrupted snapshot failed", path)
	}
	switch {
	case s.walID != "":
		err = s.openWAL(s.walID)
	case useWAL():
		err = s.migrate()
	}
	if err != nil {
		if s.wal != nil {
			s.wal.close()
		}
		db.Close()
		return nil, err
	}
	return s, nil
}

// boltOpenError is the error of bolt.Open in C's words.
func boltOpenError(path string, err error) error {
	if errors.Is(err, bolt.ErrTimeout) {
		return ioError(syscall.EAGAIN, "%s: failed to lock lockfile", path)
	}
	if errors.Is(err, bolt.ErrInvalid) || errors.Is(err, bolt.ErrChecksum) || errors.Is(err, bolt.ErrVersionMismatch) {
		return ovsdberrFormat(path, err)
	}
	return ioError(err, "%s: open failed", path)
}

// ovsdberrFormat is "ovsdb error: PATH: unexpected file format (ERR)".
func ovsdberrFormat(path string, err error) error {
	return ovsdberr.New(ovsdberr.TagOVSDB, "%s: unexpected file format (%v)", path, err)
}

// ovsdberrNotOurs is the error for a file of format f that is not ours.
func ovsdberrNotOurs(path string, f Format) error {
	return ovsdberr.New(ovsdberr.TagOVSDB, "%s: not a clustered database file of this server (%s)", path, f)
}

// loadHeader checks the buckets and format tag and reads the Meta.
func (s *Store) loadHeader() error {
	var hdr []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bktMeta)
		if mb == nil || string(mb.Get(keyFormat)) != formatTag {
			return errNotOurs
		}
		for _, b := range [][]byte{bktLog, bktStable, bktSnap, bktSnapData} {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("bucket %q missing", b)
			}
		}
		hdr = bytes.Clone(mb.Get(keyHeader))
		s.walID = string(mb.Get(keyWAL))
		s.walPending = string(mb.Get(keyWALNew))
		return nil
	})
	if err == nil {
		s.meta, err = decodeMeta(hdr)
		s.sid = s.meta.ServerID
	}
	if err != nil {
		return ovsdberrFormat(s.path, err)
	}
	return nil
}

var errNotOurs = errors.New("bbolt file without a raftstore header")

// Path returns the file name the store was opened with.
func (s *Store) Path() string { return s.path }

// Meta returns a copy of the member's metadata.
func (s *Store) Meta() Meta {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	return s.meta.clone()
}

// SetMeta replaces the metadata durably (for example when a joining member
// learns its cluster id and drops its remote addresses, or when the election
// timer changes).
func (s *Store) SetMeta(m Meta) error {
	if err := m.validate(s.path); err != nil {
		return err
	}
	hdr, err := m.encode()
	if err != nil {
		return ovsdberr.Wrap(ovsdberr.TagInternal, err)
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	if err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bktMeta).Put(keyHeader, hdr)
	}); err != nil {
		return ioError(err, "%s: write failed", s.path)
	}
	s.meta = m.clone()
	return nil
}

// Close closes the file. Open snapshot sinks are abandoned (their chunks are
// removed by the next Open) and later calls on the stores fail.
func (s *Store) Close() error {
	s.snapMu.Lock()
	s.closed = true
	s.snapMu.Unlock()
	s.appliedMu.Lock()
	if s.appliedFile != nil {
		s.appliedFile.Close()
		s.appliedFile = nil
	}
	s.appliedFailed = true // no side file after Close
	s.appliedMu.Unlock()
	var err error
	if s.wal != nil {
		err = s.wal.close()
		// The applied position rides on bbolt commits, which appends no
		// longer make: store the last one.
		if _, ok := s.lastApplied(); ok {
			if uerr := s.update(s.putApplied); err == nil {
				err = uerr
			}
		}
	}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	if s.copyPath != "" {
		os.Remove(s.copyPath)
	}
	return err
}

// update runs fn in one read-write transaction committed with fsync. A
// failed commit changes nothing in the file (bbolt rolls it back). The
// first failure after a success is logged as a warning (C logs "entering
// failure mode due to I/O error" and stops; here the callers retry: Raft
// resends entries a follower could not store, a leader that cannot store
// steps down), the first success after failures at info level.
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	var err error
	if s.failWrite != nil {
		err = s.failWrite()
	}
	if err == nil {
		err = s.db.Update(fn)
	}
	if err != nil {
		return s.writeFailed(err)
	}
	s.writeSucceeded()
	s.writeTxns.Add(1)
	return nil
}

// writeFailed logs the first of a streak of write failures and returns err.
func (s *Store) writeFailed(err error) error {
	if !errors.Is(err, bolt.ErrDatabaseNotOpen) && !errors.Is(err, wal.ErrClosed) && !s.writeFailing.Swap(true) {
		logger().Warn(fmt.Sprintf("%s: cannot write (%s); entries are not stored until writes succeed again",
			s.path, cErrno(err)), "err", err)
	}
	return err
}

// writeSucceeded logs the first success after failures.
func (s *Store) writeSucceeded() {
	if s.writeFailing.Swap(false) {
		logger().Info(fmt.Sprintf("%s: writes succeed again", s.path))
	}
}

// Format is the kind of a database file.
type Format int

// File formats recognised by Sniff.
const (
	FormatUnknown    Format = iota
	FormatStandalone        // OVSDB log, magic "JSON" (package storage)
	FormatCCluster          // C ovsdb-server clustered log, magic "CLUSTER"
	FormatBolt              // a bbolt file (this package)
)

func (f Format) String() string {
	switch f {
	case FormatStandalone:
		return "standalone"
	case FormatCCluster:
		return "C clustered"
	case FormatBolt:
		return "bbolt clustered"
	}
	return "unknown"
}

// bbolt's meta page: page header (id 8, flags 2, count 2, overflow 4), then
// the meta with its magic first, in native (little-endian here) order.
const boltMagic = 0xED0CDAED

// Sniff identifies the file at path from its first bytes. Errors follow C's
// ovsdb-tool wording: a missing file is "I/O error: X: open failed (No such
// file or directory)", an empty file "X: cannot identify file type", anything
// else unknown "X: unexpected file format".
func Sniff(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return FormatUnknown, ioError(err, "%s: open failed", path)
	}
	defer f.Close()
	var buf [32]byte
	n, err := io.ReadFull(f, buf[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return FormatUnknown, ioError(err, "%s: read failed", path)
	}
	b := buf[:n]
	switch {
	case n == 0:
		return FormatUnknown, ovsdberr.New(ovsdberr.TagOVSDB, "%s: cannot identify file type", path)
	case bytes.HasPrefix(b, []byte("OVSDB JSON ")):
		return FormatStandalone, nil
	case bytes.HasPrefix(b, []byte("OVSDB CLUSTER ")):
		return FormatCCluster, nil
	case n >= 20 && (leU32(b[16:20]) == boltMagic || beU32(b[16:20]) == boltMagic):
		return FormatBolt, nil
	}
	return FormatUnknown, ovsdberr.New(ovsdberr.TagOVSDB, "%s: unexpected file format", path)
}

func leU32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func beU32(b []byte) uint32 {
	return uint32(b[3]) | uint32(b[2])<<8 | uint32(b[1])<<16 | uint32(b[0])<<24
}

// IsCluster reports whether path holds a clustered database: a file of this
// package or a C clustered log. A standalone file gives false; a missing or
// unrecognisable file gives Sniff's error.
func IsCluster(path string) (bool, error) {
	f, err := Sniff(path)
	if err != nil {
		return false, err
	}
	return f == FormatBolt || f == FormatCCluster, nil
}

// Interfaces implemented on the file.
var (
	_ raft.LogStore      = (*logStore)(nil)
	_ raft.StableStore   = (*stableStore)(nil)
	_ raft.SnapshotStore = (*snapshotStore)(nil)
)

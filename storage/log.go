package storage

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/internal/fsmode"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// Magic strings of the two kinds of OVSDB files.
const (
	MagicStandalone = "JSON"
	MagicClustered  = "CLUSTER"
)

// maxHeader is the largest header line C accepts (its fgets buffer is 128
// bytes including the terminating NUL).
const maxHeader = 127

// logger is looked up at each use so that a handler installed later
// (cmd/ovsdb-server's vlog) receives this package's lines.
func logger() *slog.Logger { return slog.Default().With("module", "storage") }

// Mode says how a log is opened.
type Mode int

// Open modes, as C's ovsdb_log_open_mode.
const (
	ReadOnly   Mode = iota // read records only; no lock
	ReadWrite              // read, then append; holds the lock file
	CreateExcl             // create a new empty file; fails if it exists
)

// ClusteredError is returned when a file holds a clustered ("OVSDB
// CLUSTER") database where a standalone one was required.
type ClusteredError struct{ Path string }

func (e *ClusteredError) Error() string {
	return fmt.Sprintf("%s: cannot apply this operation to clustered database file", e.Path)
}

// ErrClustered matches any *ClusteredError with errors.Is.
var ErrClustered = errors.New("clustered database file")

// Is makes errors.Is(err, ErrClustered) true.
func (e *ClusteredError) Is(target error) bool { return target == ErrClustered }

type state int

const (
	stRead state = iota
	stReadError
	stWrite
	stWriteError
	stBroken
)

// Log is an open OVSDB log file. It is not safe for concurrent use.
type Log struct {
	path  string // as given by the caller, for messages
	abs   string // absolute path
	magic string
	f     *os.File
	rd    *bufio.Reader
	lock  *lockFile

	st         state
	err        error
	prevOffset int64
	offset     int64 // end of the last good record read or written
	base       int64
}

func ioError(err error, format string, args ...any) *ovsdberr.Error {
	return ovsdberr.IO(unwrapPath(err), format, args...)
}

// unwrapPath returns the system error inside an *os.PathError.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func syntaxError(format string, args ...any) *ovsdberr.Error {
	return ovsdberr.New(ovsdberr.TagSyntax, format, args...)
}

// Open opens the log file at path. magic lists the acceptable magic strings
// separated by "|" (for example "JSON" or "JSON|CLUSTER"); a new or empty
// file gets the magic given, which must then be a single word. Writers
// (ReadWrite, CreateExcl) take the lock file ".<name>.~lock~".
func Open(path, magic string, mode Mode) (*Log, error) {
	return open(path, magic, mode, mode != ReadOnly)
}

func open(path, magic string, mode Mode, locking bool) (*Log, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, ioError(err, "could not determine current working directory")
	}
	var lk *lockFile
	if locking {
		lk, err = lock(path)
		if err != nil {
			return nil, err
		}
	}
	f, err := openFile(path, mode)
	if err != nil {
		lk.unlock()
		op := "open"
		if mode == CreateExcl {
			op = "create"
		}
		return nil, ioError(err, "%s: %s failed", path, op)
	}
	l := &Log{path: path, abs: abs, f: f, rd: bufio.NewReaderSize(f, 64*1024), lock: lk}
	fail := func(e error) (*Log, error) {
		f.Close()
		lk.unlock()
		return nil, e
	}
	hdr, err := l.rd.ReadString('\n')
	if len(hdr) == 0 && err == io.EOF {
		if strings.Contains(magic, "|") {
			return fail(ovsdberr.New(ovsdberr.TagOVSDB, "%s: cannot identify file type", path))
		}
		l.magic = magic
		if mode != ReadOnly {
			syncDir(abs)
		}
	} else {
		if err != nil && err != io.EOF {
			return fail(ioError(err, "%s: read error", path))
		}
		m, _, _, ok := parseHeader(hdr)
		if !ok {
			return fail(ovsdberr.New(ovsdberr.TagOVSDB, "%s: unexpected file format", path))
		}
		if !magicOK(m, magic) {
			if m == MagicClustered {
				return fail(&ClusteredError{Path: path})
			}
			return fail(ovsdberr.New(ovsdberr.TagOVSDB, "%s: cannot identify file type", path))
		}
		l.magic = m
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(ioError(err, "%s: seek failed", path))
	}
	l.rd.Reset(f)
	return l, nil
}

func openFile(path string, mode Mode) (*os.File, error) {
	switch mode {
	case ReadOnly:
		return os.Open(path)
	case ReadWrite:
		return os.OpenFile(path, os.O_RDWR, 0)
	default:
		flags := os.O_RDWR | os.O_CREATE | os.O_EXCL
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSymlink != 0 {
				flags = os.O_RDWR | os.O_CREATE // dangling symlink, as C
			}
		}
		return os.OpenFile(path, flags, fsmode.Database)
	}
}

func magicOK(m, accepted string) bool {
	for _, w := range strings.Split(accepted, "|") {
		if w == m {
			return true
		}
	}
	return false
}

// parseHeader parses "OVSDB <magic> <len> <sha1>\n".
func parseHeader(h string) (magic string, length int64, sum [20]byte, ok bool) {
	rest, found := strings.CutPrefix(h, "OVSDB ")
	if !found || len(h) > maxHeader {
		return
	}
	sp := strings.IndexByte(rest, ' ')
	if sp < 0 {
		return
	}
	magic, rest = rest[:sp], rest[sp+1:]
	sp = strings.IndexByte(rest, ' ')
	if sp <= 0 {
		return
	}
	n, err := strconv.ParseUint(rest[:sp], 10, 63)
	if err != nil || n == 0 || rest[0] == '+' {
		return
	}
	rest = rest[sp+1:]
	if len(rest) != 41 || rest[40] != '\n' {
		return
	}
	if _, err := hex.Decode(sum[:], []byte(rest[:40])); err != nil {
		return
	}
	return magic, int64(n), sum, true
}

// Path returns the file name given to Open.
func (l *Log) Path() string { return l.path }

// Magic returns the file's magic ("JSON" or "CLUSTER").
func (l *Log) Magic() string { return l.magic }

// Offset returns the end of the last record read or written.
func (l *Log) Offset() int64 { return l.offset }

// ReadRaw reads the next record and returns its bytes (JSON text and the
// trailing new-line). It returns nil, nil at end of file. After an error
// every further read returns the same error.
func (l *Log) ReadRaw() ([]byte, error) {
	switch l.st {
	case stReadError, stWriteError, stBroken:
		return nil, l.err
	case stWrite:
		return nil, nil
	}
	data, n, err := readRecord(l.rd, l.path, l.magic, l.offset)
	if err != nil {
		l.st, l.err = stReadError, err
		return nil, err
	}
	if data == nil {
		return nil, nil
	}
	l.prevOffset = l.offset
	l.offset += n
	return data, nil
}

// Read reads the next record as a JSON object (numbers as json.Number).
// It returns nil, nil at end of file.
func (l *Log) Read() (map[string]any, error) {
	data, err := l.ReadRaw()
	if data == nil || err != nil {
		return nil, err
	}
	v, _ := schema.DecodeJSON(data) // validated by readRecord
	return v.(map[string]any), nil
}

// readRecord reads one record at offset from r. It returns the record's
// bytes and its total size, or nil, 0, nil at a clean end of file.
func readRecord(r *bufio.Reader, name, magic string, offset int64) ([]byte, int64, error) {
	hdr, err := readLine(r)
	if len(hdr) == 0 && err == io.EOF {
		return nil, 0, nil
	}
	if err != nil && err != io.EOF {
		return nil, 0, ioError(err, "%s: read failed", name)
	}
	m, length, want, ok := parseHeader(hdr)
	if !ok || m != magic {
		return nil, 0, syntaxError("%s: parse error at offset %d in header line \"%s\"",
			name, offset, strings.TrimSuffix(hdr, "\n"))
	}
	dataOffset := offset + int64(len(hdr))
	// Read in chunks so that a huge bogus length does not allocate.
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, r, length); err != nil {
		return nil, 0, ioError(err, "%s: error reading %d bytes starting at offset %d",
			name, length, dataOffset)
	}
	data := buf.Bytes()
	got := sha1.Sum(data)
	if got != want {
		return nil, 0, syntaxError("%s: %d bytes starting at offset %d have SHA-1 hash %x but should have hash %x",
			name, length, dataOffset, got, want)
	}
	v, err := schema.DecodeJSON(data)
	if err != nil {
		return nil, 0, syntaxError("%s: %d bytes starting at offset %d are not valid JSON (%v)",
			name, length, dataOffset, err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, 0, syntaxError("%s: %d bytes starting at offset %d are not a JSON object",
			name, length, dataOffset)
	}
	return data, int64(len(hdr)) + length, nil
}

// readLine reads up to a new-line but at most maxHeader bytes, like C's
// fgets into a 128-byte buffer.
func readLine(r *bufio.Reader) (string, error) {
	var sb strings.Builder
	for sb.Len() < maxHeader {
		c, err := r.ReadByte()
		if err != nil {
			return sb.String(), err
		}
		sb.WriteByte(c)
		if c == '\n' {
			break
		}
	}
	return sb.String(), nil
}

// Unread makes the record returned by the last successful read count as
// not read: the next write overwrites it.
func (l *Log) Unread() {
	if l.st == stRead {
		l.offset = l.prevOffset
	}
}

// ReadError returns the error that stopped reading, if any.
func (l *Log) ReadError() error {
	if l.st == stReadError {
		return l.err
	}
	return nil
}

func (l *Log) truncate() error {
	l.st = stWrite
	if l.f == nil {
		return ioError(nil, "%s: log is closed", l.path)
	}
	if st, err := l.f.Stat(); err == nil && st.Size() > l.offset {
		logger().Warn("truncating log to last good record",
			"file", l.path, "from", st.Size(), "to", l.offset)
	}
	if _, err := l.f.Seek(l.offset, io.SeekStart); err != nil {
		return ioError(err, "%s: cannot seek to offset %d", l.path, l.offset)
	}
	if err := l.f.Truncate(l.offset); err != nil {
		return ioError(err, "%s: cannot truncate to length %d", l.path, l.offset)
	}
	return nil
}

// ComposeRecord returns the header and data of a record holding json, as
// C writes them (compact JSON followed by a new-line).
func ComposeRecord(magic string, json any) (header, data []byte) {
	data = append(cjson.Marshal(json), '\n')
	return composeHeader(magic, data), data
}

func composeHeader(magic string, data []byte) []byte {
	return appendHeader(make([]byte, 0, 16+len(magic)+20+40), magic, data)
}

// appendHeader appends "OVSDB <magic> <len> <sha1 hex>\n" for data to dst
// (without fmt: this runs once per committed transaction).
func appendHeader(dst []byte, magic string, data []byte) []byte {
	sum := sha1.Sum(data)
	dst = append(dst, "OVSDB "...)
	dst = append(dst, magic...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(data)), 10)
	dst = append(dst, ' ')
	dst = hex.AppendEncode(dst, sum[:])
	return append(dst, '\n')
}

// AppendRecord appends to dst one complete record (header and data) whose
// data (JSON text and new-line) is data, in this log's format. It does not
// touch the file, so it may be called concurrently with the other methods;
// the result is written with WriteRecords.
func (l *Log) AppendRecord(dst, data []byte) []byte {
	return AppendRecord(dst, l.magic, data)
}

// AppendRecord appends to dst one complete record (header and data) of a
// log with the given magic.
func AppendRecord(dst []byte, magic string, data []byte) []byte {
	return append(appendHeader(dst, magic, data), data...)
}

// Write appends a record holding json (an object or array). If some
// records were not read, or reading failed, the file is first truncated at
// the end of the last good record. Writes are atomic (a failed write is
// removed) but durable only after Commit.
func (l *Log) Write(json any) error {
	switch json.(type) {
	case map[string]any, []any, *cjson.Object:
	default:
		return ovsdberr.New(ovsdberr.TagInternal, "bad JSON type")
	}
	return l.WriteRaw(append(cjson.Marshal(json), '\n'))
}

// WriteRaw appends a record whose data (JSON text and new-line) is data.
func (l *Log) WriteRaw(data []byte) error {
	return l.WriteRecords(l.AppendRecord(nil, data))
}

// WriteRecords appends complete records (one or more, as built by
// AppendRecord) with a single write. If some records were not read, or
// reading or an earlier write failed, the file is first truncated at the
// end of the last good record. A failed write is removed from the file (so
// a later write starts at the same offset) and leaves the log in a state
// where the next write truncates again.
func (l *Log) WriteRecords(recs []byte) error {
	switch l.st {
	case stRead, stReadError, stWriteError:
		if err := l.truncate(); err != nil {
			l.st, l.err = stWriteError, err
			return err
		}
		l.st, l.err = stWrite, nil
	case stBroken:
		return l.err
	}
	if _, err := l.f.Write(recs); err != nil {
		logger().Warn(fmt.Sprintf("%s: write failed (%s)", l.abs, ovsdberr.Strerror(unwrapPath(err)))) // C's line
		_ = l.f.Truncate(l.offset)
		_, _ = l.f.Seek(l.offset, io.SeekStart)
		l.err = ioError(err, "%s: write failed", l.path)
		l.st = stWriteError
		return l.err
	}
	l.offset += int64(len(recs))
	return nil
}

// WriteBatch appends complete records (as built by AppendRecord) with one
// write and, if sync, makes everything written so far durable
// (fdatasync). It is all or nothing: when the write or the sync fails, the
// file is truncated back to where the batch started, so no part of the
// batch can be read back (C leaves a record whose fsync failed in the
// file), and the next write truncates again first in case that failed too.
func (l *Log) WriteBatch(recs []byte, sync bool) error {
	start := l.offset
	if err := l.WriteRecords(recs); err != nil {
		return err
	}
	if !sync {
		return nil
	}
	if err := l.Commit(); err != nil {
		logger().Warn(fmt.Sprintf("%s: fsync failed (%s), removing the records just written", l.abs,
			ovsdberr.Strerror(unwrapPath(err))))
		l.offset = start
		_ = l.f.Truncate(start)
		_, _ = l.f.Seek(start, io.SeekStart)
		l.err, l.st = err, stWriteError
		return err
	}
	return nil
}

// Commit makes the records written so far durable (fdatasync).
func (l *Log) Commit() error {
	if l.f == nil {
		return nil
	}
	if err := fdatasync(l.f); err != nil {
		return ioError(err, "%s: fsync failed", l.path)
	}
	return nil
}

// MarkBase records the current size as the base for GrewLots.
func (l *Log) MarkBase() { l.base = l.offset }

// GrewLots reports whether the log grew enough since MarkBase to make
// compaction worthwhile: over 10 MiB and more than twice the base (C's
// rule).
func (l *Log) GrewLots() bool {
	return l.offset > 10*1024*1024 && l.offset/2 > l.base
}

// Replace atomically replaces the log's contents by records (JSON values
// or []byte record data as from ComposeRecord): it writes "<file>.tmp",
// fsyncs it, renames it over the file and fsyncs the directory. The base
// for GrewLots becomes the end of the replaced file. On success the log is
// in write mode at the end of the new file. It is PrepareReplace followed
// by Commit.
func (l *Log) Replace(records ...any) error {
	p, err := l.PrepareReplace(records...)
	if err != nil {
		return err
	}
	return p.Commit()
}

// Pending is a replacement of a log's contents being prepared in
// "<file>.tmp" (see PrepareReplace). Exactly one of Commit or Abort must
// end it. A Pending is not safe for concurrent use.
type Pending struct {
	l      *Log
	nl     *Log   // the temporary file
	tmp    string // its name
	target string // the file it replaces (symlinks resolved)
	dirty  bool   // written since the last fdatasync
	ended  bool
}

// PrepareReplace starts an atomic replacement of the log's contents: it
// creates "<file>.tmp" (removing a stale one), writes records (JSON values
// or []byte record data, as for Replace) to it and fdatasyncs it. The log
// itself is not touched: until Commit it stays the live file, and
// PrepareReplace and the Pending's Append may run concurrently with
// writes to l (they use only l's immutable name, magic and lock). This
// lets a caller do the expensive part of a compaction (hashing, writing
// and syncing a large snapshot) without blocking writers, and then hold
// its own lock only for Append of the records committed meanwhile and
// Commit.
//
// Crash safety: until Commit's rename the old file is untouched; a crash
// leaves at worst a stale "<file>.tmp", which the next replacement
// removes (and which C ignores).
func (l *Log) PrepareReplace(records ...any) (*Pending, error) {
	if l.lock == nil {
		return nil, ovsdberr.New(ovsdberr.TagInternal, "%s: log not opened for writing", l.path)
	}
	target, err := filepath.EvalSymlinks(l.abs)
	if err != nil {
		target = l.abs
	}
	tmp := target + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, ioError(err, "failed to remove %s", tmp)
	}
	nl, err := open(tmp, l.magic, CreateExcl, false)
	if err != nil {
		return nil, err
	}
	p := &Pending{l: l, nl: nl, tmp: tmp, target: target}
	if err := p.Append(records...); err != nil {
		p.Abort()
		return nil, err
	}
	if err := p.sync(); err != nil {
		p.Abort()
		return nil, err
	}
	return p, nil
}

// Append writes more records (JSON values or []byte record data) to the
// end of the temporary file. They become durable with Commit.
func (p *Pending) Append(records ...any) error {
	if p.ended {
		return ovsdberr.New(ovsdberr.TagInternal, "%s: replacement already ended", p.tmp)
	}
	for _, r := range records {
		var err error
		if b, ok := r.([]byte); ok {
			err = p.nl.WriteRaw(b)
		} else {
			err = p.nl.Write(r)
		}
		if err != nil {
			return err
		}
		p.dirty = true
	}
	return nil
}

// Size returns the size of the temporary file written so far.
func (p *Pending) Size() int64 { return p.nl.offset }

func (p *Pending) sync() error {
	if !p.dirty {
		return nil
	}
	if err := p.nl.Commit(); err != nil {
		return err
	}
	p.dirty = false
	return nil
}

// Commit finishes the replacement: it fdatasyncs what Append wrote since
// PrepareReplace, renames the temporary file over the log's file, fsyncs
// the directory and switches the log to the new file (in write mode at its
// end; the base for GrewLots becomes that end). It must not run
// concurrently with other use of the log. On error the temporary file is
// removed and the log still uses the old file, unchanged.
func (p *Pending) Commit() error {
	if p.ended {
		return ovsdberr.New(ovsdberr.TagInternal, "%s: replacement already ended", p.tmp)
	}
	l := p.l
	if l.st == stBroken {
		err := l.err
		p.Abort()
		return err
	}
	if l.f == nil {
		p.Abort()
		return ioError(nil, "%s: log is closed", l.path)
	}
	if err := p.sync(); err != nil {
		p.Abort()
		return err
	}
	if err := os.Rename(p.tmp, p.target); err != nil {
		p.Abort()
		return ioError(err, "failed to rename \"%s\" to \"%s\"", p.tmp, p.target)
	}
	p.ended = true
	syncDir(p.target) // the directory that holds the renamed file
	old := l.f
	l.f, p.nl.f = p.nl.f, nil
	old.Close()
	l.rd.Reset(l.f)
	l.st, l.err = stWrite, nil
	l.offset = p.nl.offset
	l.base = p.nl.offset
	return nil
}

// Abort abandons the replacement: it closes and removes the temporary
// file. The log is unaffected. Abort after Commit or Abort does nothing.
func (p *Pending) Abort() {
	if p.ended {
		return
	}
	p.ended = true
	p.nl.Close()
	os.Remove(p.tmp)
}

// Close closes the file and releases the lock.
func (l *Log) Close() error {
	var err error
	if l.f != nil {
		err = l.f.Close()
		l.f = nil
	}
	l.lock.unlock()
	l.lock = nil
	return err
}

func syncDir(abs string) {
	d, err := os.Open(filepath.Dir(abs))
	if err != nil {
		return
	}
	if err := d.Sync(); err != nil {
		logger().Warn("fsync failed", "dir", filepath.Dir(abs), "err", err)
	}
	d.Close()
}

// ReadAll reads every record from r (a whole log file), calling fn with
// each record's JSON object. It stops at the first error, which it
// returns; a clean end of file returns nil. name is used in messages.
func ReadAll(r io.Reader, name, magic string, fn func(rec map[string]any)) error {
	br := bufio.NewReader(r)
	var off int64
	for {
		data, n, err := readRecord(br, name, magic, off)
		if err != nil {
			return err
		}
		if data == nil {
			return nil
		}
		off += n
		v, _ := schema.DecodeJSON(data)
		fn(v.(map[string]any))
	}
}

func decode(data []byte) (any, error) { return schema.DecodeJSON(data) }

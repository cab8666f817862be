package raftstore

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	walfs "github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/segment"
	waltypes "github.com/hashicorp/raft-wal/types"

	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
)

// Reading a WAL without opening it for writing (OpenReadOnly): raft-wal's
// Open recovers the tail segment for appends and deletes segment files its
// metadata does not list, which must never happen under a running server.
// The read-only store reads the segments its (copied) metadata lists with
// raft-wal's Filer.DumpSegment, which only reads, and only entries of
// batches whose commit frame is in the file; the entries are read once, at
// open, into memory (ovsdb-tool reads all of them anyway).

// errWALChanged means the segments did not match the metadata read: a
// running server compacted or truncated its log meanwhile.
var errWALChanged = errors.New("the log changed while it was read")

// roLog is a read-only raft.LogStore over entries read at open.
type roLog struct{ logs []raft.Log }

func (r *roLog) FirstIndex() (uint64, error) {
	if len(r.logs) == 0 {
		return 0, nil
	}
	return r.logs[0].Index, nil
}

func (r *roLog) LastIndex() (uint64, error) {
	if len(r.logs) == 0 {
		return 0, nil
	}
	return r.logs[len(r.logs)-1].Index, nil
}

func (r *roLog) GetLog(index uint64, l *raft.Log) error {
	if len(r.logs) == 0 || index < r.logs[0].Index || index > r.logs[len(r.logs)-1].Index {
		return raft.ErrLogNotFound
	}
	*l = r.logs[index-r.logs[0].Index]
	return nil
}

var errReadOnlyLog = errors.New("database is in read-only mode")

func (r *roLog) StoreLog(*raft.Log) error         { return errReadOnlyLog }
func (r *roLog) StoreLogs([]*raft.Log) error      { return errReadOnlyLog }
func (r *roLog) DeleteRange(uint64, uint64) error { return errReadOnlyLog }

// loadWALReadOnly reads the entries of a read-only store's WAL, if the
// file has one.
func (s *Store) loadWALReadOnly() error {
	if s.walID == "" {
		return nil
	}
	dir := WALDir(s.path)
	got, err := readWALID(dir)
	if err != nil {
		if _, serr := os.Stat(dir); serr != nil {
			return errMissingWAL(s.path, dir)
		}
		return ioError(err, "%s: read failed", dir)
	}
	if got != s.walID {
		return ovsdberrFormat(s.path, fmt.Errorf("log directory %s belongs to another database file", dir))
	}
	ps, err := walMeta{s}.Load(dir)
	if err != nil {
		return ovsdberrFormat(s.path, err)
	}
	logs, err := readSegments(dir, ps)
	if err != nil {
		return err
	}
	s.walRO = &roLog{logs: logs}
	return nil
}

func errMissingWAL(path, dir string) error {
	return ovsdberr.New(ovsdberr.TagOVSDB,
		"%s: its log directory %s is missing (a member's file and its .wal directory are moved, copied and removed together)", path, dir)
}

// readSegments reads the entries of the segments ps lists in dir, in index
// order. A listed file that is missing, or entries that do not follow each
// other, give errWALChanged; an entry that does not decode, an error.
func readSegments(dir string, ps waltypes.PersistentState) ([]raft.Log, error) {
	segs := append([]waltypes.SegmentInfo(nil), ps.Segments...)
	sort.Slice(segs, func(i, j int) bool { return segs[i].BaseIndex < segs[j].BaseIndex })
	f := segment.NewFiler(dir, walfs.New())
	codec := &wal.BinaryCodec{}
	var logs []raft.Log
	for _, si := range segs {
		if si.Codec != wal.CodecBinaryV1 {
			return nil, fmt.Errorf("%s: segment %d uses unknown codec %d", dir, si.ID, si.Codec)
		}
		// Entries past a sealed segment's MaxIndex (a truncated tail) are
		// skipped here: DumpSegment's own upper bound stops before the
		// commit frame of the batch, which would drop the batch.
		sealed := !si.SealTime.IsZero()
		after := uint64(0)
		if si.MinIndex > 0 {
			after = si.MinIndex - 1
		}
		err := f.DumpSegment(si.BaseIndex, si.ID, after, 0, func(_ waltypes.SegmentInfo, e waltypes.LogEntry) (bool, error) {
			if sealed && e.Index > si.MaxIndex {
				return false, nil
			}
			var l raft.Log
			if err := codec.Decode(e.Data, &l); err != nil {
				return false, fmt.Errorf("%w at index %d: %v", errCorruptLog, e.Index, err)
			}
			if l.Index != e.Index {
				return false, fmt.Errorf("%w at index %d: entry says index %d", errCorruptLog, e.Index, l.Index)
			}
			if n := len(logs); n > 0 && l.Index != logs[n-1].Index+1 {
				return false, fmt.Errorf("%w: index %d after %d", errWALChanged, l.Index, logs[n-1].Index)
			}
			logs = append(logs, l)
			return true, nil
		})
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%w: %v", errWALChanged, err)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		if sealed && si.MaxIndex >= si.MinIndex && (len(logs) == 0 || logs[len(logs)-1].Index != si.MaxIndex) {
			return nil, fmt.Errorf("%s: %w: segment %d ends before index %d", dir, errWALChanged, si.ID, si.MaxIndex)
		}
	}
	return logs, nil
}

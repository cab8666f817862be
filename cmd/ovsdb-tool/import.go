package main

// Import of a C clustered database file ("OVSDB CLUSTER") by
// create-cluster: the committed state of the C member's file becomes the
// first snapshot of a new cluster of ours. Our clusters run a different
// Raft protocol (hashicorp/raft) than C's, so a C cluster cannot be joined
// or continued; only its data and schema are carried over, under a new
// cluster id and new server ids (raft/DESIGN.md, "Import of C clustered
// files").

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/ovsdb-go/ovsdb-server/internal/standalone"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/storage"
)

// cImported is the committed state read from a C clustered file.
type cImported struct {
	db *ovsdb.Database
	// commitIndex is the highest commit index the file records (its
	// snapshot's index if it records none past it).
	commitIndex uint64
	// applied counts the log entries after the snapshot that were kept;
	// leftOut the entries past commitIndex that were not (leftOutTxns of
	// them carrying database changes).
	applied, leftOut, leftOutTxns int
}

// cImportEntry is one log entry of a C clustered file: its index and the
// raw text of its data's schema and transaction (nil: none).
type cImportEntry struct {
	index       uint64
	schema, txn []byte
}

// importCClustered reads the committed state of the C clustered file at
// path: the header's snapshot plus the log entries up to the highest
// commit_index record, with C's own checks on the log's consistency (no
// entry skips an index or truncates below the commit index, the commit
// index never regresses nor passes the last entry). Entries past that
// commit index are left out: the file cannot tell whether they were
// committed (C writes commit_index records after the fact, and only when
// its member learns of the commit), and an uncommitted entry may have
// been replaced on the other members. The operator imports the member
// file with the highest commit index, which holds every committed
// transaction up to it.
//
// The file is locked as C's writers lock it, so a C ovsdb-server still
// running on it is detected; it is never written.
func importCClustered(path string) (*cImported, error) {
	lk, err := storage.Open(path, storage.MagicClustered, storage.ReadWrite)
	if err != nil {
		if strings.Contains(err.Error(), "failed to lock lockfile") {
			return nil, fatalf("%s (stop the C ovsdb-server serving it first)", errText(err))
		}
		return nil, err
	}
	defer lk.Close()

	var (
		base             [2][]byte // the snapshot's [schema, data]; nil schema: none
		snapIndex        uint64
		entries          []cImportEntry // indexes snapIndex+1, snapIndex+2, ...
		commit           uint64
		joining, started bool
	)
	for i := 0; ; i++ {
		raw, err := lk.ReadRaw()
		if err != nil {
			return nil, err
		}
		if raw == nil {
			break
		}
		js, err := decodePlain(raw)
		if err != nil {
			return nil, fatalf("%s: record %d: %v", path, i, err)
		}
		if i == 0 {
			h, err := parseCHeader(js)
			if err != nil {
				return nil, err
			}
			started, joining, snapIndex, commit = true, h.joining, h.snapIndex, h.snapIndex
			if h.snapHasData {
				var d struct {
					PrevData []json.RawMessage `json:"prev_data"`
				}
				if err := json.Unmarshal(raw, &d); err != nil || len(d.PrevData) != 2 {
					return nil, fatalf("%s: Incorrect raft header data array length", path)
				}
				base = [2][]byte{nonNull(d.PrevData[0]), nonNull(d.PrevData[1])}
			}
			continue
		}
		r, err := parseCRecord(js)
		if err != nil {
			return nil, err
		}
		logEnd := snapIndex + 1 + uint64(len(entries))
		switch r.typ {
		case cRecEntry:
			if r.index < commit {
				return nil, fatalf("%s: record %d attempts to truncate log from %d to %d entries, but commit index is already %d",
					path, i, logEnd, r.index, commit)
			}
			if r.index > logEnd || r.index <= snapIndex {
				return nil, fatalf("%s: record %d with index %d skips past expected index %d", path, i, r.index, logEnd)
			}
			entries = entries[:r.index-snapIndex-1]
			e := cImportEntry{index: r.index}
			if r.entry.data != nil {
				var d struct {
					Data []json.RawMessage `json:"data"`
				}
				if err := json.Unmarshal(raw, &d); err != nil || len(d.Data) != 2 {
					return nil, fatalf("%s: record %d: Incorrect raft record array length", path, i)
				}
				e.schema, e.txn = nonNull(d.Data[0]), nonNull(d.Data[1])
			}
			entries = append(entries, e)
		case cRecCommitIndex:
			if r.commitIndex < commit {
				return nil, fatalf("%s: record %d regresses commit index from %d to %d", path, i, commit, r.commitIndex)
			}
			if r.commitIndex >= logEnd {
				return nil, fatalf("%s: record %d advances commit index to %d but last log index is %d",
					path, i, r.commitIndex, logEnd-1)
			}
			commit = r.commitIndex
		}
	}
	if !started {
		return nil, fatalf("%s: unexpected end of file", path)
	}

	// The committed state is the last schema seen up to the commit index
	// (the snapshot's, or a conversion entry's, which carries the whole
	// converted database) followed by the transactions after it.
	out := &cImported{commitIndex: commit}
	recs := [][]byte{}
	if base[0] != nil {
		recs = append(recs, base[0])
		if base[1] != nil {
			recs = append(recs, base[1])
		}
	}
	for _, e := range entries {
		if e.index > commit {
			out.leftOut++
			if e.txn != nil {
				out.leftOutTxns++
			}
			continue
		}
		out.applied++
		if e.schema != nil {
			recs = append(recs[:0], e.schema)
		}
		if e.txn != nil {
			recs = append(recs, e.txn)
		}
	}
	if len(recs) == 0 {
		if joining {
			return nil, fatalf("%s: this C cluster member never joined its cluster (its file holds no snapshot and no schema); import the file of a member that did", path)
		}
		return nil, fatalf("%s: C clustered file holds no schema up to its commit index %d", path, commit)
	}
	if recs[0] == nil || !isSchemaText(recs[0]) {
		return nil, fatalf("%s: data without schema", path)
	}
	db, err := replayStandalone(recs)
	if err != nil {
		return nil, fatalf("%s: %s", path, errText(err))
	}
	out.db = db
	return out, nil
}

// nonNull returns raw, or nil if it is JSON null.
func nonNull(raw json.RawMessage) []byte {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	return raw
}

// isSchemaText tells a schema record from a transaction record: a schema
// has a "tables" member that is an object of tables (a transaction's
// members are table names or _date / _comment / _is_diff).
func isSchemaText(raw []byte) bool {
	var s struct {
		Name   *string         `json:"name"`
		Tables json.RawMessage `json:"tables"`
	}
	return json.Unmarshal(raw, &s) == nil && s.Name != nil && len(s.Tables) > 0
}

// decodePlain decodes a record with numbers as json.Number, as the C
// record parsers expect.
func decodePlain(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// replayStandalone builds the database that a standalone file holding
// recs (a schema record, then transaction records) holds, by writing such
// a file in a temporary directory and loading it with the standalone
// store's own replay. That replay drops a record it cannot apply (and
// every later one) with an error in the log; such an error fails the
// import instead.
func replayStandalone(recs [][]byte) (*ovsdb.Database, error) {
	dir, err := os.MkdirTemp("", "ovsdb-tool-import-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "import.db")
	l, err := storage.Open(path, storage.MagicStandalone, storage.CreateExcl)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if err = l.WriteRaw(append(append([]byte(nil), r...), '\n')); err != nil {
			break
		}
	}
	if err == nil {
		err = l.Commit()
	}
	l.Close()
	if err != nil {
		return nil, err
	}

	prev := slog.Default()
	errs := &errorCounter{Handler: prev.Handler(), n: &atomic.Int64{}, first: &atomic.Value{}}
	slog.SetDefault(slog.New(errs))
	d, err := standalone.Open(path)
	slog.SetDefault(prev)
	if err != nil {
		return nil, err
	}
	db := d.Database()
	if err := d.Close(); err != nil {
		return nil, err
	}
	if errs.n.Load() > 0 {
		msg, _ := errs.first.Load().(string)
		return nil, fmt.Errorf("a committed transaction cannot be replayed (%s)", msg)
	}
	return db, nil
}

// errorCounter is a slog handler passing records on to Handler and
// counting those at level Error (first: the first one's message and
// attributes).
type errorCounter struct {
	slog.Handler
	n     *atomic.Int64
	first *atomic.Value
}

func (h *errorCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		if h.n.Add(1) == 1 {
			var b strings.Builder
			b.WriteString(r.Message)
			r.Attrs(func(a slog.Attr) bool {
				fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
				return true
			})
			h.first.Store(b.String())
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h *errorCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return &errorCounter{Handler: h.Handler.WithAttrs(as), n: h.n, first: h.first}
}

func (h *errorCounter) WithGroup(name string) slog.Handler {
	return &errorCounter{Handler: h.Handler.WithGroup(name), n: h.n, first: h.first}
}

package server

// The standalone replication mode: one database file written by
// internal/standalone (group commit, online compaction). It is the
// default Opener.

import (
	"context"
	"fmt"

	"github.com/ovsdb-go/ovsdb-server/internal/standalone"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

// CreateStandalone creates the standalone database file path (which
// must not exist) holding schema s and no data, as "ovsdb-tool create"
// does. Serve it with AddDatabase on a Server whose Options.Open is nil
// (or OpenStandalone).
func CreateStandalone(path string, s *schema.DatabaseSchema) error {
	return standalone.Create(path, s)
}

// OpenStandalone opens the standalone database file at path (as
// "ovsdb-tool create" makes it). It is the Opener of a Server whose
// Options.Open is nil. A clustered file is refused: it needs the
// clustered mode's opener (package cluster).
func OpenStandalone(path string) (Mode, error) {
	if f, err := raftstore.Sniff(path); err == nil && f == raftstore.FormatBolt {
		return nil, fmt.Errorf("%s: clustered database file: open it with the clustered mode (package cluster) as Options.Open", path)
	}
	d, err := standalone.Open(path)
	if err != nil {
		return nil, err
	}
	return standaloneMode{d}, nil
}

// standaloneMode is a standalone database file as a Mode.
type standaloneMode struct{ d *standalone.DB }

func (m standaloneMode) Database() *ovsdb.Database { return m.d.Database() }

func (m standaloneMode) Transact(ctx context.Context, ops []any, opts ovsdb.TransactOptions) []any {
	return m.d.Database().Transact(ctx, ops, opts)
}

// Info: C shows a standalone database as connected and leader, with no
// index, cid or sid.
func (m standaloneMode) Info() (Info, <-chan struct{}) {
	return Info{Model: "standalone", Connected: true, Leader: true}, nil
}

func (m standaloneMode) Convert(ns *schema.DatabaseSchema) (Mode, error) {
	nd, err := m.d.Convert(ns)
	if err != nil {
		return nil, err
	}
	return standaloneMode{nd}, nil
}

func (m standaloneMode) Compact() error { return m.d.Compact() }

func (m standaloneMode) Control(command string, _ []string) (string, error) {
	return "", fmt.Errorf("%s: %w", command, ErrUnsupported)
}

func (m standaloneMode) Memory() map[string]int { return nil }

func (m standaloneMode) Close() error { return m.d.Close() }

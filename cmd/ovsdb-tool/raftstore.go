package main

import (
	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/cluster"
	"github.com/ovsdb-go/ovsdb-server/internal/standalone"
	"github.com/ovsdb-go/ovsdb-server/raft"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

// boltCluster plugs storage/raftstore in as the tool's clustered store.
type boltCluster struct{}

func init() { clusterStore = boltCluster{} }

func (boltCluster) IsCluster(path string) bool { return cluster.IsClusteredFile(path) }

// Meta reads the file's metadata, also while a server runs on it
// (raftstore.OpenReadOnly), as C's tool reads a clustered log.
func (boltCluster) Meta(path string) (clusterMeta, error) {
	st, err := raftstore.OpenReadOnly(path)
	if err != nil {
		return clusterMeta{}, err
	}
	defer st.Close()
	m := st.Meta()
	return clusterMeta{ClusterID: m.ClusterID, ServerID: m.ServerID, LocalAddress: m.LocalAddress, Name: m.Name}, nil
}

// Create makes a new one-member cluster with cluster.CreateWith.
// schemaJSON is the schema's C JSON with every column persistent.
func (boltCluster) Create(path string, m clusterMeta, schemaJSON []byte, data any, electionTimerMS uint64) error {
	s, err := schema.ParseSchemaBytes(schemaJSON)
	if err != nil {
		return err
	}
	obj, _ := data.(map[string]any)
	return cluster.CreateWith(path, s, m.LocalAddress, cluster.CreateOptions{Data: obj,
		ElectionTimerMS: electionTimerMS, ClusterID: m.ClusterID, ServerID: m.ServerID})
}

// Join makes a joining member's file with cluster.JoinWith.
func (boltCluster) Join(path string, m clusterMeta, remotes []string) error {
	return cluster.JoinWith(path, m.Name, m.LocalAddress, remotes, cluster.JoinOptions{ClusterID: m.ClusterID, ServerID: m.ServerID,
		Arbiter: m.Arbiter})
}

// Standalone rebuilds the member's state from its latest snapshot and
// every log entry after it (entries not yet known to be committed
// included, as C's cluster-to-standalone does with its log), conversions
// included: the schema written is the one of the rebuilt state.
func (boltCluster) Standalone(path string) ([]byte, []byte, error) {
	st, err := raftstore.OpenReadOnly(path)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	m := st.Meta()
	if m.Joining() && len(m.Schema) == 0 {
		return nil, nil, fatalf("%s: member has not joined its cluster yet", path)
	}
	fsm, after, err := restoreLatest(st)
	if err != nil {
		return nil, nil, err
	}
	err = st.ForEachLog(func(l *hraft.Log, derr error) error {
		if derr != nil {
			return derr
		}
		if l.Index > after && l.Type == hraft.LogCommand {
			fsm.Apply(l)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	db := fsm.Database()
	return record(db.Schema().CJSON()), record(snapshotJSON(db, "", true)), nil
}

// restoreLatest returns an FSM holding the member's latest snapshot (or
// its empty database if it has none) and able to apply conversion
// entries as members do, and the snapshot's index.
func restoreLatest(st *raftstore.Store) (*raft.FSM, uint64, error) {
	s, err := schema.ParseSchemaBytes(st.Meta().Schema)
	if err != nil {
		return nil, 0, err
	}
	fsm := raft.NewFSM(s, 0)
	fsm.SetConvert(standalone.ConvertDatabaseWith)
	snaps, err := st.SnapshotStore().List()
	if err != nil || len(snaps) == 0 {
		return fsm, 0, err
	}
	meta, rc, err := st.SnapshotStore().Open(snaps[0].ID)
	if err != nil {
		return nil, 0, err
	}
	if err := fsm.Restore(rc); err != nil {
		return nil, 0, err
	}
	return fsm, meta.Index, nil
}

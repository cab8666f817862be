package main

import (
	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/cluster"
	"github.com/ovsdb-go/ovsdb-server/raft"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

// boltCluster plugs storage/raftstore in as the tool's clustered store.
type boltCluster struct{}

func init() { clusterStore = boltCluster{} }

func (boltCluster) IsCluster(path string) bool { return cluster.IsClusteredFile(path) }

func (boltCluster) Meta(path string) (clusterMeta, error) {
	st, err := raftstore.Open(path)
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
	return cluster.JoinWith(path, m.Name, m.LocalAddress, remotes, cluster.JoinOptions{ClusterID: m.ClusterID, ServerID: m.ServerID})
}

// Standalone rebuilds the member's state from its latest snapshot and
// every log entry after it (entries not yet known to be committed
// included, as C's cluster-to-standalone does with its log).
func (boltCluster) Standalone(path string) ([]byte, []byte, error) {
	st, err := raftstore.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	m := st.Meta()
	if m.Joining() && len(m.Schema) == 0 {
		return nil, nil, fatalf("%s: member has not joined its cluster yet", path)
	}
	s, err := schema.ParseSchemaBytes(m.Schema)
	if err != nil {
		return nil, nil, err
	}
	fsm := raft.NewFSM(s, 0)
	var after uint64
	snaps, err := st.SnapshotStore().List()
	if err != nil {
		return nil, nil, err
	}
	if len(snaps) > 0 {
		meta, rc, err := st.SnapshotStore().Open(snaps[0].ID)
		if err != nil {
			return nil, nil, err
		}
		if err := fsm.Restore(rc); err != nil {
			return nil, nil, err
		}
		after = meta.Index
	}
	ls := st.LogStore()
	first, err := ls.FirstIndex()
	if err != nil {
		return nil, nil, err
	}
	last, err := ls.LastIndex()
	if err != nil {
		return nil, nil, err
	}
	for i := max(first, after+1); first > 0 && i <= last; i++ {
		var l hraft.Log
		if err := ls.GetLog(i, &l); err != nil {
			return nil, nil, err
		}
		if l.Type == hraft.LogCommand {
			fsm.Apply(&l)
		}
	}
	return record(s.CJSON()), record(snapshotJSON(fsm.Database(), "", true)), nil
}

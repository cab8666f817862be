package main

import (
	"bytes"
	"os"
	"strings"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/raft"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

// boltCluster plugs storage/raftstore in as the tool's clustered store.
type boltCluster struct{}

func init() { clusterStore = boltCluster{} }

func (boltCluster) IsCluster(path string) bool {
	f, err := raftstore.Sniff(path)
	return err == nil && f == raftstore.FormatBolt
}

func (boltCluster) Meta(path string) (clusterMeta, error) {
	st, err := raftstore.Open(path)
	if err != nil {
		return clusterMeta{}, err
	}
	defer st.Close()
	m := st.Meta()
	return clusterMeta{ClusterID: m.ClusterID, ServerID: m.ServerID, LocalAddress: m.LocalAddress, Name: m.Name}, nil
}

// Create writes the member file and, as the cluster's initial state, a
// Raft snapshot at index 1, term 1 whose configuration holds this member
// alone and whose contents are data (in the raft FSM's snapshot format),
// so the first start needs no bootstrap and the data are replicated to
// joining members by install-snapshot.
func (boltCluster) Create(path string, m clusterMeta, schemaJSON []byte, data any, electionTimerMS uint64) error {
	meta := raftstore.Meta{ClusterID: m.ClusterID, ServerID: m.ServerID, LocalAddress: m.LocalAddress,
		Name: m.Name, Schema: schemaJSON, ElectionTimerMS: int(electionTimerMS)}
	if _, err := raft.SplitAddress(m.LocalAddress); err != nil {
		return ovsdberr.New(ovsdberr.TagSyntax, "%s", err.Error())
	}
	if err := raftstore.Create(path, meta); err != nil {
		return err
	}
	if err := writeInitialSnapshot(path, meta, data); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

func writeInitialSnapshot(path string, meta raftstore.Meta, data any) error {
	st, err := raftstore.Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	tables := map[string]any{}
	if obj, ok := data.(map[string]any); ok {
		for k, v := range obj {
			if !strings.HasPrefix(k, "_") {
				tables[k] = v
			}
		}
	}
	var buf bytes.Buffer
	buf.WriteString(`{"version":1,"index":0,"schema":`)
	buf.Write(meta.Schema)
	buf.WriteString(`,"data":`)
	buf.Write(cjson.Marshal(tables))
	buf.WriteString(`,"dedupe":[]}`)
	cfg := hraft.Configuration{Servers: []hraft.Server{{Suffrage: hraft.Voter,
		ID: hraft.ServerID(meta.ServerID.String()), Address: hraft.ServerAddress(meta.LocalAddress)}}}
	sink, err := st.SnapshotStore().Create(hraft.SnapshotVersionMax, 1, 1, cfg, 1, nil)
	if err != nil {
		return err
	}
	if _, err := sink.Write(buf.Bytes()); err != nil {
		_ = sink.Cancel()
		return err
	}
	if err := sink.Close(); err != nil {
		return err
	}
	return st.StableStore().SetUint64([]byte("CurrentTerm"), 1)
}

func (boltCluster) Join(path string, m clusterMeta, remotes []string) error {
	if _, err := raft.SplitAddress(m.LocalAddress); err != nil {
		return ovsdberr.New(ovsdberr.TagSyntax, "%s", err.Error())
	}
	for _, r := range remotes {
		if _, err := raft.SplitAddress(r); err != nil {
			return ovsdberr.New(ovsdberr.TagSyntax, "%s", err.Error())
		}
	}
	return raftstore.Create(path, raftstore.Meta{ClusterID: m.ClusterID, ServerID: m.ServerID,
		LocalAddress: m.LocalAddress, Name: m.Name, RemoteAddresses: remotes})
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

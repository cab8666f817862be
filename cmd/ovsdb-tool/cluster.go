package main

import (
	"fmt"
	"os"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage"
)

// clusterMeta is what the tool needs of a clustered database's header.
type clusterMeta struct {
	ClusterID    schema.UUID // zero: not yet known (joining)
	ServerID     schema.UUID
	LocalAddress string
	Name         string
	Arbiter      bool // join-cluster --arbiter
}

// clusterBackend is our own clustered file store (storage/raftstore,
// one bbolt file per member). It is plugged in by assigning clusterStore
// from a file that imports that package; while it is nil, our clustered
// files are not recognised and create-cluster / join-cluster fail.
type clusterBackend interface {
	// IsCluster reports whether path is one of our clustered files.
	IsCluster(path string) bool
	Meta(path string) (clusterMeta, error)
	// Create makes a new one-member cluster whose first snapshot is
	// [schema, data] (data: a transaction object as in a standalone file).
	Create(path string, m clusterMeta, schemaJSON []byte, data any, electionTimerMS uint64) error
	// Join makes a file that will join the cluster at remotes.
	Join(path string, m clusterMeta, remotes []string) error
	// Standalone returns the schema record and the committed state as one
	// transaction record, both ready to be written to a standalone log.
	Standalone(path string) (schemaRec, dataRec []byte, err error)
}

var clusterStore clusterBackend

// ours reports whether path is one of our (bbolt) clustered files.
func ours(path string) bool { return clusterStore != nil && clusterStore.IsCluster(path) }

// isCClustered reports whether path is a C clustered ("OVSDB CLUSTER") file.
func isCClustered(path string) bool {
	l, err := openAny(path)
	if err != nil {
		return false
	}
	defer l.Close()
	return l.Magic() == storage.MagicClustered
}

// readClusterMeta is C's read_cluster_metadata, for both our clustered
// files and C's.
func readClusterMeta(path string) (clusterMeta, error) {
	if ours(path) {
		return clusterStore.Meta(path)
	}
	var m clusterMeta
	l, err := openAny(path)
	if err != nil {
		return m, err
	}
	defer l.Close()
	if l.Magic() != storage.MagicClustered {
		return m, fatalf("%s: not a clustered database", path)
	}
	h, err := l.Read()
	if err != nil {
		return m, err
	}
	if h == nil {
		return m, ovsdberr.New(ovsdberr.TagOVSDB, "%s: unexpected end of file", path)
	}
	p := schema.NewParser(h, "raft header")
	name, _ := p.Member("name", schema.KString).(string)
	sid, _ := p.Member("server_id", schema.KString).(string)
	local, _ := p.Member("local_address", schema.KString).(string)
	cid, _ := p.Member("cluster_id", schema.KString|schema.KOptional).(string)
	if err := p.Err(); err != nil {
		return m, err
	}
	m.Name, m.LocalAddress = name, local
	if m.ServerID, err = schema.ParseUUID(sid); err != nil {
		return m, ovsdberr.New(ovsdberr.TagSyntax, "%s is not a valid UUID", sid)
	}
	if cid != "" {
		if m.ClusterID, err = schema.ParseUUID(cid); err != nil {
			return m, ovsdberr.New(ovsdberr.TagSyntax, "%s is not a valid UUID", cid)
		}
	}
	return m, nil
}

// createCluster: create-cluster DB CONTENTS LOCAL. CONTENTS is a schema
// file, a standalone database file, or (unlike C) a C clustered database
// file, whose committed state is imported into the new cluster
// (importCClustered; entries past its last recorded commit index are
// left out with a warning).
func (t *tool) createCluster(args []string) error {
	dbPath, src, local := args[1], args[2], args[3]
	s, _, err := readSchemaFile(src)
	var data any = map[string]any{}
	if err != nil {
		var d *ovsdb.Database
		if isCClustered(src) {
			imp, ierr := importCClustered(src)
			if ierr != nil {
				return ierr
			}
			if imp.leftOut > 0 {
				logger().Warn(fmt.Sprintf("%s: left out %d log entries (%d of them transactions) past the last recorded commit index %d: they may never have been committed",
					src, imp.leftOut, imp.leftOutTxns, imp.commitIndex))
			}
			d = imp.db
		} else if d, err = loadStandalone(src); err != nil {
			return err
		}
		s = d.Schema()
		data = snapshotJSON(d, "created from "+src, true)
	}
	persistEphemeral(s, src)
	if clusterStore == nil {
		return fatalf("%s: clustered storage is not available in this build", dbPath)
	}
	m := clusterMeta{ClusterID: schema.NewUUID(), ServerID: schema.NewUUID(), LocalAddress: local, Name: s.Name}
	return clusterStore.Create(dbPath, m, cjson.Marshal(s.CJSON()), data, t.electionT)
}

// persistEphemeral makes every column persistent (clusters keep no
// ephemeral columns) and warns as C does, naming the last column changed
// in C's iteration order of tables and columns.
func persistEphemeral(s *schema.DatabaseSchema, src string) {
	n, last, lastTable := 0, "", ""
	for _, tn := range s.CTableNames {
		for _, c := range s.Tables[tn].CColumns {
			if c.Index >= 2 && !c.Persistent {
				c.Persistent = true
				last, lastTable = c.Name, tn
				n++
			}
		}
	}
	if n > 0 {
		logger().Warn(fmt.Sprintf("%s: changed %d columns in '%s' database from ephemeral to persistent, including '%s' column in '%s' table, because clusters do not support ephemeral columns",
			src, n, s.Name, last, lastTable))
	}
}

// joinCluster: join-cluster DB NAME LOCAL REMOTE...
func (t *tool) joinCluster(args []string) error {
	dbPath, name, local := args[1], args[2], args[3]
	if !schema.IsValidID(name) {
		return fatalf("%s: not a valid schema name (use \"schema-name\" command to find the correct name)", name)
	}
	var remotes []string
	seen := map[string]bool{}
	for _, r := range args[4:] {
		if !seen[r] {
			seen[r] = true
			remotes = append(remotes, r)
		}
	}
	if clusterStore == nil {
		return fatalf("%s: clustered storage is not available in this build", dbPath)
	}
	m := clusterMeta{ServerID: schema.NewUUID(), LocalAddress: local, Name: name, Arbiter: t.arbiter}
	if t.hasCID {
		m.ClusterID = t.cid
	}
	return clusterStore.Join(dbPath, m, remotes)
}

// clusterToStandalone: cluster-to-standalone DB CLUSTERDB.
func (t *tool) clusterToStandalone(args []string) error {
	dst, src := args[1], args[2]
	if ours(src) {
		schemaRec, dataRec, err := clusterStore.Standalone(src)
		if err != nil {
			return err
		}
		return writeStandalone(dst, true, schemaRec, dataRec)
	}
	in, err := openAny(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := storage.Open(dst, storage.MagicStandalone, storage.CreateExcl)
	if err != nil {
		return err
	}
	defer out.Close()
	if in.Magic() != storage.MagicClustered {
		return fatalf("Database is not clustered db.\n")
	}
	for i := 0; ; i++ {
		rec, err := in.Read()
		if err != nil {
			return err
		}
		if rec == nil {
			break
		}
		if err := cRecordToStandalone(out, rec, i == 0); err != nil {
			return err
		}
	}
	return out.Commit()
}

// cRecordToStandalone copies the database contents of one C raft record
// (the header's snapshot, or a log entry's data) to a standalone log.
func cRecordToStandalone(out *storage.Log, rec map[string]any, header bool) error {
	if header {
		pd, ok := rec["prev_data"]
		if !ok {
			return nil // joining: no snapshot
		}
		a, ok := pd.([]any)
		if !ok || len(a) != 2 {
			return fatalf("Incorrect raft header data array length")
		}
		if a[0] != nil {
			if _, err := schema.ParseSchema(a[0]); err != nil {
				return err
			}
			if err := out.WriteRaw(append(cjson.Marshal(a[0]), '\n')); err != nil {
				return err
			}
		}
		if _, ok := a[1].(map[string]any); !ok {
			return fatalf("Invalid raft header data")
		}
		return out.WriteRaw(append(cjson.Marshal(a[1]), '\n'))
	}
	d, ok := rec["data"]
	if !ok || d == nil {
		return nil
	}
	a, ok := d.([]any)
	if !ok || len(a) != 2 {
		return fatalf("Incorrect raft record array length")
	}
	if a[1] == nil {
		return nil
	}
	return out.WriteRaw(append(cjson.Marshal(a[1]), '\n'))
}

// writeStandalone writes records to a new standalone file dst (excl:
// fail if it exists, else replace it), removing it on failure.
func writeStandalone(dst string, excl bool, recs ...[]byte) error {
	if !excl {
		if err := os.Remove(dst); err != nil && !os.IsNotExist(err) {
			return ovsdberr.New(ovsdberr.TagIOError, "%s: remove failed (%s)", dst, strerror(err))
		}
	}
	l, err := storage.Open(dst, storage.MagicStandalone, storage.CreateExcl)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err = l.WriteRaw(r); err != nil {
			break
		}
	}
	if err == nil {
		err = l.Commit()
	}
	l.Close()
	if err != nil {
		os.Remove(dst)
	}
	return err
}

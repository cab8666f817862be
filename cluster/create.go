package cluster

// Making the files of clustered database members: the first member of a
// new cluster (ovsdb-tool create-cluster) and a member that joins an
// existing cluster when it is first opened (ovsdb-tool join-cluster).
// ovsdb-tool calls these; an embedding program calls them before serving
// the files with Opener.

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

// CreateOptions are the optional settings of CreateWith.
type CreateOptions struct {
	// Data is the database's initial contents, as the transaction record
	// of a standalone database file holds them:
	// {"TABLE": {"UUID": {"COLUMN": value, ...}, ...}, ...}. Members whose
	// names begin with "_" (such as "_date" and "_comment") are ignored.
	// Nil: the database starts empty.
	Data map[string]any
	// ElectionTimerMS is the cluster's election timer in milliseconds,
	// MinElectionTimerMS..MaxElectionTimerMS (C's bounds; CreateWith
	// refuses others with C's error); 0 means
	// raftstore.DefaultElectionTimerMS. At run time it is changed with
	// cluster/change-election-timer, as in C, where OVN's ovn-ctl
	// --db-nb-election-timer also passes it to create-cluster.
	ElectionTimerMS uint64
	// ClusterID and ServerID are the new cluster's id and this member's
	// server id; zero means a random one.
	ClusterID, ServerID schema.UUID
}

// JoinOptions are the optional settings of JoinWith.
type JoinOptions struct {
	// ClusterID, when not zero, is the id the cluster to join must have
	// (ovsdb-tool join-cluster --cid): opening the file fails if the
	// remotes belong to another cluster.
	ClusterID schema.UUID
	// ServerID is the new member's server id; zero means a random one.
	ServerID schema.UUID
	// Arbiter makes the new member an arbiter (ovsdb-tool join-cluster
	// --arbiter): it stores the Raft log and votes, so it counts for
	// quorum and durability, but holds no database, executes nothing and
	// serves no clients (raft/DESIGN.md, "Arbiter members").
	Arbiter bool
}

// Create makes path (which must not exist) the file of the only member
// of a new cluster for an empty database of schema s. localAddress
// ("tcp:IP:PORT"; "ssl:IP:PORT", served with TLS (Options.TLS); or
// "unix:PATH" with PATH relative to the working directory of the process
// that serves the file) is where the member listens for the other members; it
// is stored in the file and in the cluster's configuration, so it must
// be an address the other members can reach, with a fixed port. Ephemeral
// columns are stored as persistent (clusters have none), as
// "ovsdb-tool create-cluster" does; s itself is not modified. Serve the
// file with a server.Server whose Options.Open is Opener(nil).
func Create(path string, s *schema.DatabaseSchema, localAddress string) error {
	return CreateWith(path, s, localAddress, CreateOptions{})
}

// CreateWith is Create with initial contents, an election timer or
// chosen ids.
//
// The file holds, as the cluster's initial state, a Raft snapshot at index
// 1, term 1 whose configuration is this member alone and whose contents
// are opts.Data, so the member's first start needs no bootstrap and the
// data reach joining members by install-snapshot.
func CreateWith(path string, s *schema.DatabaseSchema, localAddress string, opts CreateOptions) error {
	if err := validateAddress(localAddress); err != nil {
		return err
	}
	if err := ValidateElectionTimer(opts.ElectionTimerMS); opts.ElectionTimerMS != 0 && err != nil {
		return err
	}
	schemaJSON, err := persistentSchemaJSON(s)
	if err != nil {
		return err
	}
	meta := raftstore.Meta{ClusterID: orRandom(opts.ClusterID), ServerID: orRandom(opts.ServerID), LocalAddress: localAddress,
		Name: s.Name, Schema: schemaJSON, ElectionTimerMS: int(opts.ElectionTimerMS)}
	if err := raftstore.Create(path, meta); err != nil {
		return err
	}
	if err := writeInitialSnapshot(path, meta, opts.Data); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// validateAddress checks a cluster address with C's rules and messages
// (raft.ValidateAddress): "ovsdb error: ADDR: syntax error in address" and
// the like.
func validateAddress(addr string) error {
	if err := raft.ValidateAddress(addr); err != nil {
		return ovsdberr.Wrap(ovsdberr.TagOVSDB, err)
	}
	return nil
}

// Election timer bounds, in milliseconds, as C's (raft.c
// ELECTION_MIN_MSEC and ELECTION_MAX_MSEC): create-cluster --election-timer
// and cluster/change-election-timer take values in this range.
const (
	MinElectionTimerMS = 100
	MaxElectionTimerMS = 600000
)

// ValidateElectionTimer is C's raft_validate_election_timer: nil when ms
// is within [MinElectionTimerMS, MaxElectionTimerMS], else C's error,
// "ovsdb error: election timer must be between 100 and 600000, in msec."
func ValidateElectionTimer(ms uint64) error {
	if ms < MinElectionTimerMS || ms > MaxElectionTimerMS {
		return ovsdberr.New(ovsdberr.TagOVSDB, "election timer must be between %d and %d, in msec.",
			MinElectionTimerMS, MaxElectionTimerMS)
	}
	return nil
}

// orRandom returns id, or a random UUID if id is zero.
func orRandom(id schema.UUID) schema.UUID {
	if id.IsZero() {
		return schema.NewUUID()
	}
	return id
}

// persistentSchemaJSON is the C JSON text of s with every column
// persistent, made without modifying s.
func persistentSchemaJSON(s *schema.DatabaseSchema) ([]byte, error) {
	text := cjson.Marshal(s.CJSON())
	ephemeral := false
	for _, t := range s.Tables {
		for _, c := range t.Columns[2:] {
			ephemeral = ephemeral || !c.Persistent
		}
	}
	if !ephemeral {
		return text, nil
	}
	cp, err := schema.ParseSchemaBytes(text)
	if err != nil {
		return nil, err
	}
	for _, t := range cp.Tables {
		for _, c := range t.Columns[2:] {
			c.Persistent = true
		}
	}
	return cjson.Marshal(cp.CJSON()), nil
}

// writeInitialSnapshot writes the snapshot of CreateWith (in the raft
// FSM's snapshot format) and the initial term into the new file at path.
func writeInitialSnapshot(path string, meta raftstore.Meta, data map[string]any) error {
	st, err := raftstore.Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	tables := map[string]any{}
	for k, v := range data {
		if !strings.HasPrefix(k, "_") {
			tables[k] = v
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

// Join makes path (which must not exist) the file of a new member of the
// cluster of database dbName that listens at localAddress
// ("tcp:IP:PORT" or "unix:PATH", reachable by the other members) and joins through
// remotes, the cluster addresses of one or more current members. The
// file holds no schema or data yet: when it is first opened (Open,
// Opener) the member learns them from a remote, which must then be
// reachable, and asks the cluster's leader to add it, in the background,
// until it is added.
func Join(path, dbName, localAddress string, remotes []string) error {
	return JoinWith(path, dbName, localAddress, remotes, JoinOptions{})
}

// JoinWith is Join with a required cluster id or a chosen server id.
func JoinWith(path, dbName, localAddress string, remotes []string, opts JoinOptions) error {
	if !schema.IsValidID(dbName) {
		return ovsdberr.New(ovsdberr.TagSyntax, "%s: not a valid schema name", dbName)
	}
	if err := validateAddress(localAddress); err != nil {
		return err
	}
	if len(remotes) == 0 {
		return ovsdberr.New(ovsdberr.TagSyntax, "%s: no remote address to join through", path)
	}
	var uniq []string
	seen := map[string]bool{}
	for _, r := range remotes {
		if err := validateAddress(r); err != nil {
			return err
		}
		if r == localAddress {
			return ovsdberr.New(ovsdberr.TagOVSDB, "remote addresses cannot be the same as the local address")
		}
		if !seen[r] {
			seen[r] = true
			uniq = append(uniq, r)
		}
	}
	return raftstore.Create(path, raftstore.Meta{ClusterID: opts.ClusterID, ServerID: orRandom(opts.ServerID),
		LocalAddress: localAddress, Name: dbName, RemoteAddresses: uniq, Arbiter: opts.Arbiter})
}

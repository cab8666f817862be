package cluster

// Recovery of a member that lost its majority (issue 13, scope 2): its
// file becomes the file of a one-member cluster of the same cluster id,
// keeping every entry it holds. See raft/DESIGN.md, "Survivor recovery".

import (
	"errors"
	"fmt"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/internal/standalone"
	"github.com/ovsdb-go/ovsdb-server/raft"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

// ErrRecoverNotForced is returned by Recover without force.
var ErrRecoverNotForced = errors.New("refusing to recover: this makes the member the only member of its cluster " +
	"and the other members must never run again with their current files; " +
	"if they are gone for good, run again with --force")

// Recover rewrites the member file at path, whose server must not be
// running (the file is locked while it runs, and Recover then fails with
// raftstore's "failed to lock lockfile"), into a one-member cluster of the
// same cluster id with this member as its only voter. Every entry the
// member holds, committed or not, is applied to its state and kept in a
// new snapshot (hashicorp/raft's RecoverCluster). Without force it changes
// nothing and returns ErrRecoverNotForced.
func Recover(path string, force bool) error {
	st, err := raftstore.Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	m := st.Meta()
	if m.Joining() || len(m.Schema) == 0 {
		return fmt.Errorf("%s: member has not joined its cluster yet: nothing to recover", path)
	}
	if m.Left {
		return fmt.Errorf("%s: this member left its cluster: nothing to recover", path)
	}
	if m.Arbiter {
		return fmt.Errorf("%s: this member is an arbiter: it holds no data; recover a data member instead", path)
	}
	if !force {
		return fmt.Errorf("%s: %w", path, ErrRecoverNotForced)
	}
	return recoverStore(st)
}

// recoverStore runs hashicorp's RecoverCluster on the member's stores with
// a configuration made of this member alone.
func recoverStore(st *raftstore.Store) error {
	m := st.Meta()
	s, err := schema.ParseSchemaBytes(m.Schema)
	if err != nil {
		return err
	}
	fsm := raft.NewFSM(s, 0)
	fsm.SetConvert(standalone.ConvertDatabaseWith)
	id := hraft.ServerID(m.ServerID.String())
	hc := raft.HraftConfig(id, time.Duration(m.ElectionTimerMS)*time.Millisecond)
	cfg := hraft.Configuration{Servers: []hraft.Server{{Suffrage: hraft.Voter,
		ID: id, Address: hraft.ServerAddress(m.LocalAddress)}}}
	// The transport is only handed to the snapshot store, which ignores it.
	if err := hraft.RecoverCluster(hc, fsm, st.LogStore(), st.StableStore(), st.SnapshotStore(), nil, cfg); err != nil {
		return fmt.Errorf("%s: recovery failed: %w", st.Path(), err)
	}
	clusterLog().Warn(fmt.Sprintf("%s: recovered as the only member of cluster %s (server %s)",
		m.Name, raft.Nickname(m.ClusterID.String()), raft.Nickname(m.ServerID.String())))
	return nil
}

// recoverCheck is Control's "cluster/recover" (args: "--force"): it
// checks that the running member may be recovered and returns the path of
// its file. The member itself cannot restart in place (hashicorp/raft
// cannot rewrite a running Raft's configuration, and the server holds the
// member's database): the server's cluster/recover command stops serving
// the database (closing the member and its file), runs Recover on the file
// and serves it again. It refuses without --force and while the member
// knows a leader (its cluster then has a majority).
func (c *Member) recoverCheck(args []string) (string, error) {
	force := false
	for _, a := range args {
		if a != "--force" {
			return "", fmt.Errorf("%s: unknown option (only --force)", a)
		}
		force = true
	}
	m := c.Meta()
	if m.Joining() || len(m.Schema) == 0 {
		return "", errors.New("member has not joined its cluster yet: nothing to recover")
	}
	c.mu.Lock()
	left := c.left
	c.mu.Unlock()
	if left || m.Left {
		return "", errors.New("this member left its cluster: nothing to recover")
	}
	if !force {
		return "", ErrRecoverNotForced
	}
	if st, err := c.node.Status(); err == nil && st.LeaderID != "" {
		return "", fmt.Errorf("this member has a leader (%s): its cluster has a majority; refusing to recover",
			raft.Nickname(string(st.LeaderID)))
	}
	return c.store.Path(), nil
}

package cluster

// Arbiter members (ovsdb-tool join-cluster --arbiter; raft/DESIGN.md,
// "Arbiter members"): what the clustered mode does differently for a
// member that holds no database. The Raft side is raft.Config.Arbiter.

import (
	"fmt"
	"sort"
	"strings"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/raft"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

// IsArbiter reports whether the member is an arbiter.
func (c *Member) IsArbiter() bool { return c.arbiter }

// refusal is the error every client request naming an arbiter's database
// gets: what the server is, and where the data is (the Raft addresses of
// the data members; their OVSDB remotes are on the same hosts).
func (c *Member) refusal() *ovsdberr.Error {
	m := c.Meta()
	arb := c.arbiters()
	var data []string
	if f := c.node.Raft().GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if !arb[s.ID] && s.ID != hraft.ServerID(m.ServerID.String()) {
				data = append(data, fmt.Sprintf("%s (server %s)", s.Address, raft.Nickname(string(s.ID))))
			}
		}
	}
	sort.Strings(data)
	where := "no data member is known yet"
	if len(data) > 0 {
		where = "connect to a data member of the cluster, at the host of " + strings.Join(data, " or ")
	}
	return ovsdberr.New(ovsdberr.TagNotSupported,
		"database %s on this server is a Raft arbiter: it stores the cluster's log and votes, but holds no data and serves no clients; %s",
		m.Name, where)
}

// arbiterIdle is raft.Config.OnIdle for an arbiter: the pages of its
// file read back through the memory map are dropped from the process
// (raftstore.DropMappedPages: they stay in the page cache), then the
// program's ReleaseMemory runs.
func arbiterIdle(st *raftstore.Store, o Options) func() {
	return func() {
		if err := st.DropMappedPages(); err != nil {
			clusterLog().Debug("cannot drop the file's mapped pages", "path", st.Path(), "err", err)
		}
		if o.ReleaseMemory != nil {
			o.ReleaseMemory()
		}
	}
}

package cluster

// The cluster RPC handler of a member: the member-level requests (remove,
// removed, member, timer) on top of the Raft node's own.

import (
	"context"
	"fmt"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/raft"
)

// clusterHandler adds the member-level requests (remove, removed,
// member, timer) to the node's cluster RPC handler.
type clusterHandler struct {
	raft.NodeHandler
	c *Member
}

func (h *clusterHandler) HandleCluster(ctx context.Context, req *raft.Request) *raft.Response {
	switch req.Op {
	case raft.OpRemove:
		if !h.c.IsLeader() {
			return h.notLeader()
		}
		if err := h.c.removeServer(hraft.ServerID(req.ServerID)); err != nil {
			return &raft.Response{Error: err.Error()}
		}
		return &raft.Response{}
	case raft.OpRemoved:
		// The leader tells this member it was removed; only believed
		// for this member's own id.
		if req.ServerID != h.c.Meta().ServerID.String() {
			return &raft.Response{Error: "not this server"}
		}
		go h.c.markLeft("removed by the leader")
		return &raft.Response{}
	case raft.OpMember:
		if !h.c.IsLeader() {
			return h.notLeader()
		}
		resp := &raft.Response{}
		if f := h.c.node.Raft().GetConfiguration(); f.Error() == nil {
			for _, s := range f.Configuration().Servers {
				if string(s.ID) == req.ServerID {
					resp.Member = true
				}
			}
		}
		return resp
	case raft.OpTimer:
		// C's bounds, as cluster/change-election-timer checks them on
		// the leader: a timer outside them is refused, not applied.
		ms := req.ElectionTimerMS
		if ms < MinElectionTimerMS || ms > MaxElectionTimerMS {
			return &raft.Response{Error: fmt.Sprintf("election timer must be between %d and %d, in msec.",
				MinElectionTimerMS, MaxElectionTimerMS)}
		}
		if err := h.c.setElectionTimer(ms); err != nil {
			return &raft.Response{Error: err.Error()}
		}
		return &raft.Response{}
	}
	return h.NodeHandler.HandleCluster(ctx, req)
}

// notLeader is the reply to a leader-only request on a follower: it names
// the leader this member knows, if any.
func (h *clusterHandler) notLeader() *raft.Response {
	addr, id := h.c.node.Raft().LeaderWithID()
	return &raft.Response{Error: "not leader", NotLeader: true, Leader: string(addr), LeaderID: string(id)}
}

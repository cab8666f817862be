package raft

// The leader's side of a join request (OpJoin), including the replacement
// of a silent member by a new server at its address (DESIGN.md, "Wiped
// members rejoin").

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	hraft "github.com/hashicorp/raft"
)

// ReplaceSilence is how many election timers the server at a joiner's
// address must have been silent (no successful AppendEntries or
// InstallSnapshot from the leader, counted from the start of the leader's
// term at the earliest) before the joiner replaces it.
const ReplaceSilence = 2

// joinChangeTimeout bounds each configuration change of a join; catchUpWait
// bounds how long one join request waits for a new nonvoter to catch up
// before it is promoted (the joiner's next request resumes the wait).
const (
	joinChangeTimeout = 10 * time.Second
	catchUpWait       = 10 * time.Second
	catchUpPoll       = 20 * time.Millisecond
)

// peerTracker is what a TrackedTransport tells the leader about its peers.
type peerTracker interface {
	Peers() map[hraft.ServerID]PeerInfo
	LeadingSince(term uint64) (time.Time, bool)
}

// join answers a join request on the leader:
//
//   - a new server at an address no other server of the configuration has
//     (or a repeated request of a voter) is added as a voter, as always;
//   - a new server at the address of another server OLD replaces it when
//     OLD has been silent for ReplaceSilence election timers: OLD is
//     removed, the new server added as a nonvoter and, once caught up,
//     promoted to voter; while OLD answers the join is refused;
//   - a server already a nonvoter (a replacement interrupted by a change
//     of leader or by the wait's bound) is promoted once caught up.
//
// Requests are handled one at a time.
func (h *NodeHandler) join(ctx context.Context, req *Request) *Response {
	n := h.Node
	if req.ServerID == "" || req.Address == "" {
		return &Response{Error: "join: id and address required"}
	}
	h.joinMu.Lock()
	defer h.joinMu.Unlock()
	if n.raft.State() != hraft.Leader {
		return h.notLeader()
	}
	id, addr := hraft.ServerID(req.ServerID), hraft.ServerAddress(req.Address)
	timeout := joinChangeTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return h.joinError(err)
	}
	var self, stale *hraft.Server
	for _, s := range f.Configuration().Servers {
		switch {
		case s.ID == id:
			self = &s
		case s.Address == addr:
			stale = &s
		}
	}
	switch {
	case stale != nil:
		if err := h.replace(*stale, id, addr, f.Index(), timeout); err != nil {
			return h.joinError(err)
		}
	case self != nil && self.Suffrage != hraft.Voter:
		logger().Info(fmt.Sprintf("server %s at %s is a nonvoter: promoting it once it has caught up", id, addr))
	default:
		// A normal join (or a voter asking again).
		if err := n.AddVoter(id, addr, timeout); err != nil {
			return h.joinError(err)
		}
		return h.joined()
	}
	if err := h.promote(ctx, id, addr, timeout); err != nil {
		return h.joinError(err)
	}
	return h.joined()
}

// joined is the answer to a join request that succeeded.
func (h *NodeHandler) joined() *Response {
	cid, _, _ := h.Meta()
	return &Response{LeaderID: string(h.Node.cfg.ID), Leader: string(h.Node.cfg.Address), ClusterID: cid.String()}
}

// joinError is the answer to a join request that failed with err.
func (h *NodeHandler) joinError(err error) *Response {
	if errors.Is(err, hraft.ErrNotLeader) || errors.Is(err, hraft.ErrLeadershipLost) {
		return h.notLeader()
	}
	return &Response{Error: err.Error()}
}

// notLeader is the answer of a member that does not lead.
func (h *NodeHandler) notLeader() *Response {
	addr, id := h.Node.raft.LeaderWithID()
	return &Response{Error: "not leader", NotLeader: true, Leader: string(addr), LeaderID: string(id)}
}

// replace removes old from the configuration (at index cfgIndex) and adds
// the server id at address addr as a nonvoter, if old has been silent long
// enough; otherwise it fails and changes nothing.
func (h *NodeHandler) replace(old hraft.Server, id hraft.ServerID, addr hraft.ServerAddress, cfgIndex uint64, timeout time.Duration) error {
	n := h.Node
	bound := ReplaceSilence * n.raft.ReloadableConfig().ElectionTimeout
	silent, known := h.silence(old.ID)
	if old.ID == n.cfg.ID || !known || silent < bound {
		how := "it is this leader"
		if old.ID != n.cfg.ID {
			how = fmt.Sprintf("last answered %d ms ago", silent.Milliseconds())
			if !known {
				how = "this leader cannot tell when it last answered"
			}
		}
		return fmt.Errorf("server %s at %s still answers; not replaced by server %s (%s; a server is replaced once it has not answered for %d ms)",
			old.ID, addr, id, how, bound.Milliseconds())
	}
	logger().Warn(fmt.Sprintf("replacing server %s at %s, which has not answered for %d ms, with new server %s",
		old.ID, addr, silent.Milliseconds(), id))
	// prevIndex: the configuration is still the one examined.
	if err := n.raft.RemoveServer(old.ID, cfgIndex, timeout).Error(); err != nil {
		return fmt.Errorf("replacing server %s at %s: removing it: %w", old.ID, addr, err)
	}
	if err := n.raft.AddNonvoter(id, addr, 0, timeout).Error(); err != nil {
		return fmt.Errorf("replacing server %s at %s: adding server %s as a nonvoter: %w", old.ID, addr, id, err)
	}
	return nil
}

// silence returns how long the leader has had no successful contact with
// server id, counted from the start of its leadership at the earliest;
// known is false when it cannot tell (no tracked transport, or its
// leadership has not started sending yet).
func (h *NodeHandler) silence(id hraft.ServerID) (silent time.Duration, known bool) {
	n := h.Node
	tr, ok := n.cfg.Transport.(peerTracker)
	if !ok {
		return 0, false
	}
	term, err := strconv.ParseUint(n.raft.Stats()["term"], 10, 64)
	if err != nil {
		return 0, false
	}
	last, ok := tr.LeadingSince(term)
	if !ok {
		return 0, false
	}
	if p, ok := tr.Peers()[id]; ok && p.LastContact.After(last) {
		last = p.LastContact
	}
	return time.Since(last), true
}

// promote waits (bounded by catchUpWait and ctx) until the nonvoter id has
// caught up with the leader's commit index of the start of the wait, or
// has installed a snapshot since, and then makes it a voter. When it has
// not caught up in time the join fails; the joiner's next request resumes
// the wait.
func (h *NodeHandler) promote(ctx context.Context, id hraft.ServerID, addr hraft.ServerAddress, timeout time.Duration) error {
	n := h.Node
	tr, ok := n.cfg.Transport.(peerTracker)
	if !ok {
		return errors.New("join: this member does not track its peers")
	}
	target, start := n.raft.CommitIndex(), time.Now()
	deadline := start.Add(catchUpWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	for {
		p := tr.Peers()[id]
		if p.LastLog >= target || p.Snapshot.After(start) {
			break
		}
		if n.raft.State() != hraft.Leader {
			return hraft.ErrNotLeader
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server %s at %s is catching up (log index %d of %d); it becomes a voter once it has caught up",
				id, addr, p.LastLog, target)
		}
		time.Sleep(catchUpPoll)
	}
	if err := n.raft.AddVoter(id, addr, 0, timeout).Error(); err != nil {
		return fmt.Errorf("promoting server %s at %s to voter: %w", id, addr, err)
	}
	logger().Info(fmt.Sprintf("server %s at %s caught up (log index %d): promoted to voter", id, addr, target))
	return nil
}

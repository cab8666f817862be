package cluster

// What a member shows of itself: the Raft observations it records, the
// cluster/status text, and its row in _Server.Database.

import (
	"sort"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/raft"
	"github.com/ovsdb-go/ovsdb-server/server"
)

// observe records elections and heartbeat failures for cluster/status.
func (c *Member) observe(ch chan hraft.Observation) {
	defer c.wg.Done()
	for {
		select {
		case <-c.stop:
			return
		case o := <-ch:
			c.record(o, time.Now())
		}
	}
}

// record notes one Raft observation made at now.
func (c *Member) record(o hraft.Observation, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch d := o.Data.(type) {
	case hraft.RaftState:
		switch d {
		case hraft.Candidate:
			c.elStart, c.elReason = now, "timeout"
		case hraft.Leader:
			c.elWon = now
			c.failed = map[hraft.ServerID]bool{}
		}
	case hraft.FailedHeartbeatObservation:
		if !c.failed[d.PeerID] {
			c.failed[d.PeerID] = true
			c.nDisconn++
		}
		c.lastMsg[d.PeerID] = d.LastContact
	case hraft.ResumedHeartbeatObservation:
		delete(c.failed, d.PeerID)
		c.lastMsg[d.PeerID] = now
	case hraft.LeaderObservation:
		if d.LeaderID != "" {
			c.lastMsg[d.LeaderID] = now
			c.everLeader = true
		}
	}
}

// StatusText renders cluster/status.
func (c *Member) StatusText() (string, error) {
	st, err := c.node.Status()
	if err != nil {
		return "", err
	}
	now := time.Now()
	arbiters := c.arbiters()
	c.mu.Lock()
	if c.left {
		// C keeps the role a departed member last had (a follower) and
		// no longer knows a leader.
		st.Role, st.LeaderID, st.LeaderAddress = "follower", "", ""
	}
	st.ClusterID = c.meta.ClusterID
	st.ElectionTimer = c.timer
	x := raft.StatusExtra{Joining: c.meta.Joining(), Remotes: c.meta.RemoteAddresses, Leaving: c.leaving, Left: c.left,
		ElectionStart: c.elStart, ElectionReason: c.elReason, ElectionWon: c.elWon, Disconnections: c.nDisconn,
		LastMsg: map[hraft.ServerID]time.Time{}, Arbiters: arbiters}
	for id, t := range c.lastMsg {
		x.LastMsg[id] = t
	}
	failed := map[hraft.ServerID]bool{}
	for id := range c.failed {
		failed[id] = true
	}
	c.mu.Unlock()
	// Connections as C names them: a leader sends to every other server,
	// a follower receives from its leader.
	ids := make([]string, 0, len(st.Servers))
	for _, s := range st.Servers {
		if s.ID != st.ServerID {
			ids = append(ids, string(s.ID))
		}
	}
	sort.Strings(ids)
	switch st.Role {
	case "leader":
		x.MatchIndex = map[hraft.ServerID]uint64{}
		for id, p := range c.trans.Peers() {
			x.MatchIndex[id] = p.LastLog
			if p.LastContact.After(x.LastMsg[id]) {
				x.LastMsg[id] = p.LastContact
			}
		}
		for _, id := range ids {
			if failed[hraft.ServerID(id)] {
				x.Connections = append(x.Connections, "(->"+raft.Nickname(id)+")")
			} else {
				x.Connections = append(x.Connections, "->"+raft.Nickname(id))
			}
		}
	case "follower":
		if st.LeaderID != "" {
			x.Connections = append(x.Connections, "<-"+raft.Nickname(string(st.LeaderID)))
			x.LastMsg[st.LeaderID] = st.LastContact
		}
	}
	if st.LeaderID == "" && !x.Joining && !x.Left {
		// Why there is no quorum: the servers that do not answer.
		x.Unreachable = c.unreachable()
	}
	return raft.FormatStatus(st, x, now), nil
}

// infoPoll is how often a member's _Server.Database facts are polled
// (Info's change channel is closed at this period).
const infoPoll = 50 * time.Millisecond

// Info implements server.Mode: model "clustered", connected (C's
// raft_is_connected), leader, the applied index, the cluster id (zero
// while joining) and the server id. The returned channel is closed at the
// next poll period (hashicorp/raft offers no single notification for all
// of these facts), or at once when a conversion replaces the member's
// database (server.Mode's contract for Database).
func (c *Member) Info() (server.Info, <-chan struct{}) {
	engine := c.node.EngineChanged()
	m := c.Meta()
	info := server.Info{Model: "clustered", Connected: c.Connected(), Leader: c.IsLeader(), Index: c.node.AppliedIndex(),
		SID: m.ServerID}
	if !m.Joining() {
		info.CID = m.ClusterID
	}
	if m.Arbiter {
		// Never a server for clients: not connected, never the leader
		// (clients that want one look elsewhere), every request refused.
		info.Connected, info.Leader = false, false
		info.Refuse = c.refusal().Error()
	}
	ch := make(chan struct{})
	go func() {
		t := time.NewTimer(infoPoll)
		defer t.Stop()
		select {
		case <-t.C:
		case <-engine:
		case <-c.stop:
		}
		close(ch)
	}()
	return info, ch
}

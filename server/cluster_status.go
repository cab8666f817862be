package server

// What a member shows of itself: the Raft observations it records, the
// cluster/status text, and its row in _Server.Database.

import (
	"sort"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/raft"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// observe records elections and heartbeat failures for cluster/status.
func (c *Cluster) observe(ch chan hraft.Observation) {
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
func (c *Cluster) record(o hraft.Observation, now time.Time) {
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
func (c *Cluster) StatusText() (string, error) {
	st, err := c.node.Status()
	if err != nil {
		return "", err
	}
	now := time.Now()
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
		LastMsg: map[hraft.ServerID]time.Time{}}
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
	return raft.FormatStatus(st, x, now), nil
}

// clusterRowState is what _Server.Database shows of a member.
type clusterRowState struct {
	connected, leader bool
	index             uint64
	cid, sid          schema.UUID
}

// clusterRowPoll is how often the _Server row of a member is refreshed.
const clusterRowPoll = 50 * time.Millisecond

// watchCluster keeps e's _Server.Database row up to date (model
// "clustered", connected, leader, cid, sid, index) until c closes or e is
// no longer served.
func (s *Server) watchCluster(e *dbEntry, c *Cluster) {
	var last clusterRowState
	update := func() {
		m := c.Meta()
		st := clusterRowState{connected: c.Connected(), leader: c.IsLeader(), index: c.node.AppliedIndex(),
			sid: m.ServerID}
		if !m.Joining() {
			st.cid = m.ClusterID
		}
		if st == last {
			return
		}
		last = st
		s.setClusterRow(e, st)
	}
	update()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.tick(clusterRowPoll, func() bool {
			s.mu.Lock()
			gone := s.dbs[e.db.Name()] != e
			s.mu.Unlock()
			if gone {
				return false
			}
			update()
			return true
		})
	}()
}

// setClusterRow writes st into e's _Server.Database row.
func (s *Server) setClusterRow(e *dbEntry, st clusterRowState) {
	t := s.sys.Schema().Tables["Database"]
	old := s.sys.Row("Database", e.rowID)
	if old == nil {
		return
	}
	fields := old.Dense()
	fields[schema.ColVersion] = schema.NewScalar(schema.NewUUID())
	set := func(col string, d schema.Datum) { fields[t.ByName[col].Index] = d }
	set("model", schema.NewScalar("clustered"))
	set("connected", schema.NewScalar(st.connected))
	set("leader", schema.NewScalar(st.leader))
	set("index", schema.NewScalar(int64(st.index)))
	set("sid", schema.NewScalar(st.sid))
	if st.cid.IsZero() {
		set("cid", schema.Datum{})
	} else {
		set("cid", schema.NewScalar(st.cid))
	}
	s.sys.Apply(&ovsdb.ChangeSet{Tables: map[string]map[schema.UUID]*ovsdb.RowChange{
		"Database": {e.rowID: {Old: old, New: ovsdb.NewRow(fields)}},
	}})
}

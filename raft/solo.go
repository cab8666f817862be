package raft

import (
	"time"

	hraft "github.com/hashicorp/raft"
)

// electAloneAtOnce makes a member that is the only voter of its latest
// configuration (a cluster just made by create-cluster, or a one-member
// cluster restarted) stand for election now, as C's Raft does, instead of
// after a heartbeat timeout: until it leads, _Server shows it not
// connected, and OVN's first `ovn-nbctl init` after `ovn-ctl start` fails
// with "database connection failed ()".
//
// hashicorp/raft has no call for this; lowering the heartbeat timeout
// through ReloadConfig restarts a follower's heartbeat timer at once, and
// with no contact since start the timer's expiry starts an election. The
// timeout is raised by a millisecond and set back, so the configuration
// ends as it was (the leader lease, not reloadable, is never above it).
// It returns once the member leads (a few milliseconds: one stable-store
// write for the term and vote) or after one election timer.
func (n *Node) electAloneAtOnce() {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	voters, self := 0, false
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == hraft.Voter {
			voters++
			self = self || s.ID == n.cfg.ID
		}
	}
	if voters != 1 || !self {
		return
	}
	rc := n.raft.ReloadableConfig()
	hb := rc.HeartbeatTimeout
	rc.HeartbeatTimeout = hb + time.Millisecond
	if err := n.raft.ReloadConfig(rc); err != nil {
		return
	}
	rc.HeartbeatTimeout = hb
	if err := n.raft.ReloadConfig(rc); err != nil {
		logger().Warn("cannot restore the heartbeat timeout", "err", err)
	}
	// C's member leads before the server serves anything; so does this
	// one, unless its election takes longer than an election timer.
	deadline := time.Now().Add(n.cfg.ElectionTimer)
	for n.raft.State() != hraft.Leader && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

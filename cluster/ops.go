package cluster

// Membership operations of a member: cluster/kick and cluster/leave, the
// removal of a server by the leader, how a member learns (or finds out on
// its own) that it is no longer in its cluster, and
// cluster/change-election-timer.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/raft"
)

// Kick removes a server from the cluster (cluster/kick): SERVER is an
// address or a (partial) server id; the best unique match is removed, as
// C does. Kicking oneself is cluster/leave. Replies and errors are C's.
func (c *Member) Kick(server string) (string, error) {
	st, err := c.node.Status()
	if err != nil {
		return "", err
	}
	var best hraft.Server
	bestScore, nBest := -1, 0
	for _, s := range st.Servers {
		score := 0
		if string(s.Address) == server {
			score = 1 << 30
		} else if server != "" && len(server) <= len(s.ID) && string(s.ID[:len(server)]) == server {
			score = len(server)
		}
		if score > bestScore {
			best, bestScore, nBest = s, score, 1
		} else if score == bestScore {
			nBest++
		}
	}
	if nBest != 1 || bestScore <= 0 {
		return "", errors.New("unknown server")
	}
	if best.ID == st.ServerID {
		return "", c.Leave()
	}
	if c.IsLeader() {
		if err := c.removeServer(best.ID); err != nil {
			return "", err
		}
		return "started removal", nil
	}
	if err := c.remove(best.ID); err != nil {
		return "", errors.New("failed to send removal request")
	}
	return "sent removal request to leader", nil
}

// Leave removes this member from the cluster (cluster/leave), with C's
// errors.
func (c *Member) Leave() error {
	c.mu.Lock()
	switch {
	case c.left || c.leaving:
		c.mu.Unlock()
		return errors.New("already in progress leaving cluster")
	case c.meta.Joining():
		c.mu.Unlock()
		return errors.New("can't leave while join in progress")
	}
	c.leaving = true
	c.mu.Unlock()
	err := c.remove(hraft.ServerID(c.Meta().ServerID.String()))
	if err != nil {
		c.mu.Lock()
		c.leaving = false
		c.mu.Unlock()
		return err
	}
	c.markLeft("left on request")
	return nil
}

// remove removes id on the leader: locally when this member leads, else
// through the leader's cluster RPC.
func (c *Member) remove(id hraft.ServerID) error {
	if c.IsLeader() {
		return c.removeServer(id)
	}
	addr, _ := c.node.Raft().LeaderWithID()
	if addr == "" {
		return errors.New("no leader")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := c.client.Call(ctx, string(addr), &raft.Request{Op: raft.OpRemove, ServerID: string(id)})
	if err != nil {
		return err
	}
	if resp.Error != "" {
		return errors.New(resp.Error)
	}
	return nil
}

// removeServer removes id from the configuration (leader only) and then
// tells the removed member, best effort, that it is no longer a member.
// The leader removing itself just steps down: it is marked left by its
// caller.
func (c *Member) removeServer(id hraft.ServerID) error {
	var addr hraft.ServerAddress
	if f := c.node.Raft().GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if s.ID == id {
				addr = s.Address
			}
		}
	}
	if err := c.node.RemoveServer(id, 10*time.Second); err != nil {
		return err
	}
	if addr == "" || addr == hraft.ServerAddress(c.Meta().LocalAddress) {
		return nil
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.cancelOnStop(ctx, cancel)
		resp, err := c.client.Call(ctx, string(addr), &raft.Request{Op: raft.OpRemoved, ServerID: string(id)})
		if err == nil && resp.Error != "" {
			err = errors.New(resp.Error)
		}
		if err != nil {
			clusterLog().Info("removed server not told of its removal", "server", raft.Nickname(string(id)), "err", err)
		}
	}()
	return nil
}

// markLeft records durably that this member is no longer in its cluster
// and stops its Raft member. It is idempotent.
func (c *Member) markLeft(why string) {
	c.mu.Lock()
	if c.left {
		c.mu.Unlock()
		return
	}
	c.left, c.leaving = true, false
	m := c.meta
	m.Left = true
	if err := c.store.SetMeta(m); err != nil {
		clusterLog().Error("cannot record having left the cluster", "db", m.Name, "err", err)
	} else {
		c.meta = m
	}
	c.mu.Unlock()
	clusterLog().Info(fmt.Sprintf("%s: finished leaving cluster %s (%s)", m.Name, raft.Nickname(m.ClusterID.String()), why))
	if err := c.node.Close(); err != nil {
		clusterLog().Info("stopping raft after leaving", "db", m.Name, "err", err)
	}
}

// membershipCheck is how often a member looks for its own removal.
const membershipCheck = time.Second

// checkMembership detects that this member was removed while it could not
// be told (down, or the notice was lost): when the latest configuration it
// knows does not list it and the leader confirms, it has left.
func (c *Member) checkMembership() {
	defer c.wg.Done()
	c.tick(membershipCheck, func() bool {
		c.checkMembershipOnce()
		return true
	})
}

// checkMembershipOnce is one round of checkMembership.
func (c *Member) checkMembershipOnce() {
	c.mu.Lock()
	skip := c.left || c.leaving || c.meta.Joining()
	self := hraft.ServerID(c.meta.ServerID.String())
	c.mu.Unlock()
	if skip {
		return
	}
	f := c.node.Raft().GetConfiguration()
	if f.Error() != nil {
		return
	}
	var others []string
	listed := false
	for _, s := range f.Configuration().Servers {
		if s.ID == self {
			listed = true
		} else {
			others = append(others, string(s.Address))
		}
	}
	if listed || len(others) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	c.cancelOnStop(ctx, cancel)
	resp, err := c.client.Member(ctx, others, string(self))
	cancel()
	if err == nil && !resp.Member {
		c.markLeft("not in the leader's configuration")
	}
}

// ChangeElectionTimer is cluster/change-election-timer with C's rules
// and messages: leader only, MinElectionTimerMS..MaxElectionTimerMS
// (100..600000 ms), at most doubling per step.
// The new timer is applied on this member and sent to the others (C
// replicates it through the log; ours is applied member by member).
func (c *Member) ChangeElectionTimer(arg string) (string, error) {
	if !c.IsLeader() {
		return "", errors.New("election timer must be changed through leader.")
	}
	ms := atoll(arg)
	c.mu.Lock()
	cur := c.timer.Milliseconds()
	c.mu.Unlock()
	switch {
	case ms == cur:
		return "change election timer to current value.", nil
	case ms < MinElectionTimerMS || ms > MaxElectionTimerMS:
		return "", fmt.Errorf("election timer must be between %d and %d, in msec.", MinElectionTimerMS, MaxElectionTimerMS)
	case ms > cur*2:
		return "", errors.New("election timer increase should not exceed the current value x 2.")
	}
	if err := c.setElectionTimer(int(ms)); err != nil {
		return "", err
	}
	st, _ := c.node.Status()
	for _, s := range st.Servers {
		if s.ID == st.ServerID {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := c.client.Call(ctx, string(s.Address), &raft.Request{Op: raft.OpTimer, ElectionTimerMS: int(ms)})
		cancel()
		if err == nil && resp.Error != "" {
			err = errors.New(resp.Error)
		}
		if err != nil {
			clusterLog().Warn("election timer change not delivered", "server", raft.Nickname(string(s.ID)), "err", err)
		}
	}
	return "change of election timer initiated.", nil
}

// atoll is C's atoll: leading blanks, optional sign, digits; 0 if none.
func atoll(s string) int64 {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
		i++
	}
	j := i
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	v, _ := strconv.ParseInt(s[i:j], 10, 64)
	return v
}

// setElectionTimer applies a new election timer locally and records it
// (on the leader, or on a member told by the leader). hashicorp/raft's
// timers follow raft.HraftConfig's mapping, as at start-up, except that its
// heartbeat timeout (and the election timeout, not below it) cannot go
// below the leader lease, which is fixed when the member starts (half the
// timer it started with): a timer lowered below that takes full effect at
// the member's next start.
func (c *Member) setElectionTimer(ms int) error {
	d := time.Duration(ms) * time.Millisecond
	r := c.node.Raft()
	want := raft.HraftConfig("", d)
	var lease time.Duration
	if st, err := c.node.Status(); err == nil {
		lease = raft.HraftConfig("", st.ElectionTimer).LeaderLeaseTimeout
	}
	rc := r.ReloadableConfig()
	rc.HeartbeatTimeout = max(want.HeartbeatTimeout, lease)
	rc.ElectionTimeout = max(want.ElectionTimeout, rc.HeartbeatTimeout)
	if err := r.ReloadConfig(rc); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.meta
	m.ElectionTimerMS = ms
	if err := c.store.SetMeta(m); err != nil {
		return err
	}
	c.meta, c.timer = m, d
	return nil
}

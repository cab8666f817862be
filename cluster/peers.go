package cluster

// What a member learns of the other servers of its configuration by
// asking them directly (the cluster RPC "hello"): which of them are
// arbiters (shown by cluster/status, named to clients of an arbiter), and,
// while no leader is known, which of them cannot be reached and why
// (cluster/status's "Unreachable" line: why the member has no quorum).

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/raft"
)

// peerProbeInterval is how often the peers are asked; peerProbeTimeout
// bounds one question.
const (
	peerProbeInterval = time.Second
	peerProbeTimeout  = 750 * time.Millisecond
)

// peerState is what the last probe of one server found.
type peerState struct {
	addr    hraft.ServerAddress
	arbiter bool  // known from its own answer (a server never changes kind)
	known   bool  // arbiter is known
	err     error // nil: answered as itself at the last probe
	when    time.Time
}

// probePeers asks every other server of the configuration for its kind
// until it is known, and every server for an answer while no leader is
// known, every peerProbeInterval until the member closes.
func (c *Member) probePeers() {
	defer c.wg.Done()
	c.tick(peerProbeInterval, func() bool {
		c.probeOnce()
		return true
	})
}

func (c *Member) probeOnce() {
	f := c.node.Raft().GetConfiguration()
	if f.Error() != nil {
		return
	}
	self := hraft.ServerID(c.Meta().ServerID.String())
	noLeader := false
	if addr, _ := c.node.Raft().LeaderWithID(); addr == "" {
		noLeader = true
	}
	servers := f.Configuration().Servers
	inConfig := map[hraft.ServerID]bool{}
	type result struct {
		id hraft.ServerID
		st peerState
	}
	results := make(chan result, len(servers))
	asked := 0
	for _, s := range servers {
		inConfig[s.ID] = true
		if s.ID == self {
			continue
		}
		c.mu.Lock()
		old, ok := c.peers[s.ID]
		c.mu.Unlock()
		if ok && old.known && !noLeader {
			continue
		}
		asked++
		go func(s hraft.Server) {
			ctx, cancel := context.WithTimeout(context.Background(), peerProbeTimeout)
			defer cancel()
			st := peerState{addr: s.Address, when: time.Now()}
			resp, err := c.client.Call(ctx, string(s.Address), &raft.Request{Op: raft.OpHello})
			switch {
			case err != nil:
				st.err = err
			case resp.Error != "":
				st.err = errors.New(resp.Error)
			case resp.Self != "" && resp.Self != string(s.ID):
				st.err = fmt.Errorf("answers as server %s", raft.Nickname(resp.Self))
			default:
				st.known, st.arbiter = resp.Self != "", resp.Arbiter
			}
			results <- result{s.ID, st}
		}(s)
	}
	got := map[hraft.ServerID]peerState{}
	for range asked {
		r := <-results
		got[r.id] = r.st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !noLeader {
		// A leader is known: nobody is reported unreachable.
		for id, p := range c.peers {
			p.err = nil
			c.peers[id] = p
		}
	}
	for id, st := range got {
		if old, ok := c.peers[id]; ok && old.known && !st.known {
			st.known, st.arbiter = true, old.arbiter
		}
		c.peers[id] = st
	}
	for id := range c.peers {
		if !inConfig[id] {
			delete(c.peers, id)
		}
	}
}

// arbiters returns the servers known to be arbiters, this one included.
func (c *Member) arbiters() map[hraft.ServerID]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[hraft.ServerID]bool{}
	if c.meta.Arbiter {
		out[hraft.ServerID(c.meta.ServerID.String())] = true
	}
	for id, p := range c.peers {
		if p.known && p.arbiter {
			out[id] = true
		}
	}
	return out
}

// unreachable describes the servers that did not answer the last probe
// (made only while no leader is known), in server id order: "abcd at
// ADDRESS (error)".
func (c *Member) unreachable() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.peers))
	for id, p := range c.peers {
		if p.err != nil {
			ids = append(ids, string(id))
		}
	}
	sort.Strings(ids)
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		p := c.peers[hraft.ServerID(id)]
		msg := p.err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg, "dial") {
			msg = msg[i+2:] // "connection refused", not the whole dial chain
		}
		out = append(out, fmt.Sprintf("%s at %s (%s)", raft.Nickname(id), p.addr, msg))
	}
	return out
}

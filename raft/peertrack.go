package raft

import (
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"
)

// PeerInfo is what a leader last learned from a follower's successful
// AppendEntries reply (heartbeats included): when, and the follower's
// last log index.
type PeerInfo struct {
	LastContact time.Time
	LastLog     uint64
}

// TrackedTransport is a NetworkTransport that remembers, per peer, the
// last successful AppendEntries reply. hashicorp/raft keeps its
// replication state private; cluster/status needs it for C's
// next_index, match_index and "last msg" on a leader's server lines.
// Heartbeats go through AppendEntries (not the pipeline), so the record
// is at most one heartbeat interval old.
type TrackedTransport struct {
	*Transport
	mu    sync.Mutex
	peers map[hraft.ServerID]PeerInfo
}

// NewTrackedTransport is NewTransport with peer tracking.
func (m *Mux) NewTrackedTransport(timeout time.Duration) *TrackedTransport {
	return &TrackedTransport{Transport: m.NewTransport(timeout), peers: map[hraft.ServerID]PeerInfo{}}
}

// AppendEntries implements hraft.Transport and records a successful reply.
func (t *TrackedTransport) AppendEntries(id hraft.ServerID, target hraft.ServerAddress, args *hraft.AppendEntriesRequest,
	resp *hraft.AppendEntriesResponse) error {
	err := t.Transport.AppendEntries(id, target, args, resp)
	if err == nil && resp.Success {
		t.mu.Lock()
		t.peers[id] = PeerInfo{LastContact: time.Now(), LastLog: resp.LastLog}
		t.mu.Unlock()
	}
	return err
}

// Peers returns a copy of the per-peer records.
func (t *TrackedTransport) Peers() map[hraft.ServerID]PeerInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[hraft.ServerID]PeerInfo, len(t.peers))
	for id, p := range t.peers {
		out[id] = p
	}
	return out
}

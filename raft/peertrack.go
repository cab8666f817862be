package raft

import (
	"io"
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"
)

// PeerInfo is what a leader last learned from a follower's successful
// AppendEntries reply (heartbeats included): when, and the follower's
// last log index; and when an InstallSnapshot to it last succeeded.
type PeerInfo struct {
	LastContact time.Time
	LastLog     uint64
	// Snapshot is when the last InstallSnapshot to the peer succeeded
	// (zero: never, from this member); it counts as a contact too.
	Snapshot time.Time
}

// TrackedTransport is a NetworkTransport that remembers, per peer, the
// last successful AppendEntries reply and InstallSnapshot, and when this
// member started sending AppendEntries in its latest term (it sends them
// only as leader: that is when its leadership began). hashicorp/raft keeps
// its replication state private; cluster/status needs it for C's
// next_index, match_index and "last msg" on a leader's server lines, and
// a join at the address of a silent member (join.go) for how long that
// member has not answered. Heartbeats go through AppendEntries (not the
// pipeline), so the record is at most one heartbeat interval old.
type TrackedTransport struct {
	*Transport
	mu    sync.Mutex
	peers map[hraft.ServerID]PeerInfo
	// term and termStart: the latest term of the AppendEntries sent and
	// when the first of them was sent.
	term      uint64
	termStart time.Time
}

// NewTrackedTransport is NewTransport with peer tracking.
func (m *Mux) NewTrackedTransport(timeout time.Duration) *TrackedTransport {
	return &TrackedTransport{Transport: m.NewTransport(timeout), peers: map[hraft.ServerID]PeerInfo{}}
}

// AppendEntries implements hraft.Transport and records a successful reply.
func (t *TrackedTransport) AppendEntries(id hraft.ServerID, target hraft.ServerAddress, args *hraft.AppendEntriesRequest,
	resp *hraft.AppendEntriesResponse) error {
	t.mu.Lock()
	if args.Term > t.term {
		t.term, t.termStart = args.Term, time.Now()
	}
	t.mu.Unlock()
	err := t.Transport.AppendEntries(id, target, args, resp)
	if err == nil && resp.Success {
		t.mu.Lock()
		p := t.peers[id]
		p.LastContact, p.LastLog = time.Now(), resp.LastLog
		t.peers[id] = p
		t.mu.Unlock()
	}
	return err
}

// InstallSnapshot implements hraft.Transport and records a success.
func (t *TrackedTransport) InstallSnapshot(id hraft.ServerID, target hraft.ServerAddress, args *hraft.InstallSnapshotRequest,
	resp *hraft.InstallSnapshotResponse, data io.Reader) error {
	err := t.Transport.InstallSnapshot(id, target, args, resp, data)
	if err == nil && resp.Success {
		t.mu.Lock()
		p := t.peers[id]
		now := time.Now()
		p.LastContact, p.Snapshot = now, now
		p.LastLog = max(p.LastLog, args.LastLogIndex)
		t.peers[id] = p
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

// LeadingSince returns when this member sent its first AppendEntries of
// term, that is when it began leading in term; false if it has sent none
// of that term (or has sent some of a later one).
func (t *TrackedTransport) LeadingSince(term uint64) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if term == 0 || t.term != term {
		return time.Time{}, false
	}
	return t.termStart, true
}

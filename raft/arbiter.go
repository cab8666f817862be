package raft

// Arbiter members (Config.Arbiter; DESIGN.md, "Arbiter members"): a voter
// that stores the Raft log and counts for quorum and durability but holds
// no database. Its FSM records applied indexes and executes nothing, its
// snapshots hold no data (and are never sent to another member), and it
// hands over any leadership it wins to a data member.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"

	hraft "github.com/hashicorp/raft"
)

// ErrArbiter is the error of a request an arbiter cannot serve: a write
// forwarded to it while it leads (it cannot execute it; the sender
// retries once a data member leads), or a snapshot asked of it.
var ErrArbiter = errors.New("raft: this member is an arbiter: it holds no database")

// arbiterTrailingLogs is how many entries an arbiter keeps behind its
// (empty) snapshots: a data member that lags by less can catch up from
// the arbiter when the other data members are gone. Disk only, never
// memory.
const arbiterTrailingLogs = 4 * 10240

// arbiterSnapshot is an arbiter's snapshot: the applied index and nothing
// else. Its JSON form, {"arbiter":true,"index":N}, has no "version", so a
// data member's Restore refuses it.
type arbiterSnapshot struct{ index uint64 }

func (s arbiterSnapshot) Persist(sink hraft.SnapshotSink) error {
	if _, err := fmt.Fprintf(sink, `%s,"index":%d}`, arbiterSnapshotPrefix, s.index); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (arbiterSnapshot) Release() {}

// arbiterRestore is Restore on an arbiter (a data leader installs its
// snapshot): the stream is read to its end and dropped, keeping only the
// index, so the arbiter's memory does not grow with the database.
func (f *FSM) arbiterRestore(rc io.ReadCloser) error {
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 1<<16)
	// Both snapshot forms begin with small members before "schema"
	// and "data": the index is in the first bytes.
	head, _ := br.Peek(256)
	var idx uint64
	if i := indexAfter(head); i > 0 {
		idx = i
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return fmt.Errorf("raft snapshot: %w", err)
	}
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	if idx > f.AppliedIndex() {
		f.setApplied(idx)
	}
	return nil
}

// indexAfter finds `"index":N` in the head of a snapshot (0: absent).
func indexAfter(head []byte) uint64 {
	const key = `"index":`
	for i := 0; i+len(key) < len(head); i++ {
		if string(head[i:i+len(key)]) != key {
			continue
		}
		var n uint64
		for _, c := range head[i+len(key):] {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + uint64(c-'0')
		}
		return n
	}
	return 0
}

// arbiterSnapshots is an arbiter's snapshot store: snapshots are created,
// listed and opened as usual, except the arbiter's own (which hold no
// data): opening one fails. hashicorp/raft opens the latest snapshot to
// restore it at start-up (not done on an arbiter:
// Config.NoSnapshotRestoreOnStart), to feed one a leader has just
// installed here to Restore (a data member's snapshot: allowed), and to
// send one to a member that lags behind the log (allowed only for a data
// member's snapshot this arbiter received). Refusing its own keeps a data
// member from ever storing an empty snapshot.
type arbiterSnapshots struct{ hraft.SnapshotStore }

func (a arbiterSnapshots) Open(id string) (*hraft.SnapshotMeta, io.ReadCloser, error) {
	meta, rc, err := a.SnapshotStore.Open(id)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(rc, 1<<16)
	if head, _ := br.Peek(len(arbiterSnapshotPrefix)); string(head) == arbiterSnapshotPrefix {
		rc.Close()
		return nil, nil, fmt.Errorf("snapshot %s: %w (a lagging member must catch up from a data member)", id, ErrArbiter)
	}
	return meta, peekedReader{br, rc}, nil
}

// arbiterSnapshotPrefix begins every arbiter snapshot (arbiterSnapshot).
const arbiterSnapshotPrefix = `{"arbiter":true`

type peekedReader struct {
	io.Reader
	io.Closer
}

// handOver gives away the leadership an arbiter wins, retrying every half
// election timer while it leads: a data member takes over as soon as one
// has caught up (hashicorp/raft's transfer picks the most up-to-date
// follower and brings it up to date first).
func (n *Node) handOver() {
	go n.trimWhenIdle()
	t := time.NewTicker(n.cfg.ElectionTimer / 2)
	defer t.Stop()
	for {
		select {
		case <-n.closed:
			return
		case <-n.leaderChanged():
		case <-t.C:
		}
		if n.raft.State() != hraft.Leader || n.voters() < 2 {
			continue
		}
		logger().Info("this arbiter is the leader: transferring leadership to a data member")
		if err := n.raft.LeadershipTransfer().Error(); err != nil {
			logger().Info("arbiter leadership transfer failed; retrying", "err", err)
		}
	}
}

// arbiterTrimEvery bounds the time between two trims while entries keep
// coming (trimWhenIdle).
const arbiterTrimEvery = 10 * time.Second

// trimWhenIdle calls Config.OnIdle once the entries stop coming, and
// every arbiterTrimEvery while they keep coming. The hook releases what
// an arbiter keeps only out of habit: the garbage of decoded
// AppendEntries batches and log reads, which the GC target a program
// gives small heaps lets stay resident at several times an arbiter's live
// heap of a few MiB, and the pages of its file read back through the
// memory map (measured by benchmarks/cmd/arbiterbench). raft changes no
// process-wide state itself: the program decides (cluster.Options).
func (n *Node) trimWhenIdle() {
	if n.cfg.OnIdle == nil {
		return
	}
	t := time.NewTicker(n.cfg.ElectionTimer / 2)
	defer t.Stop()
	last := n.fsm.AppliedIndex()
	busy := false
	lastTrim := time.Now()
	for {
		select {
		case <-n.closed:
			return
		case <-t.C:
		}
		cur := n.fsm.AppliedIndex()
		moved := cur != last
		last = cur
		switch {
		case moved && time.Since(lastTrim) < arbiterTrimEvery:
			busy = true
			continue
		case !moved && !busy:
			continue
		}
		busy = false
		n.cfg.OnIdle()
		lastTrim = time.Now()
	}
}

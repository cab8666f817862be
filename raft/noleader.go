package raft

// The bound on a write's wait for a leader (Config.NoLeaderWriteTimeout;
// DESIGN.md, "Quorum loss"): the errors, the default, and the per-node
// value. proposeAs (node.go) and the batcher's noLeaderGuard (batch.go)
// apply it.

import (
	"errors"
	"fmt"
	"time"
)

// DefaultNoLeaderWriteTimeout is Config.NoLeaderWriteTimeout's default:
// shorter than the timeouts OVN's clients put on a transaction (ovn-nbctl
// and ovn-sbctl wait forever unless --timeout; ovn-northd and the
// controllers retry on their own), long enough to ride out any election.
const DefaultNoLeaderWriteTimeout = 30 * time.Second

// ErrNoLeader is the error of a write that waited longer than
// Config.NoLeaderWriteTimeout for a leader: one never sent to any leader
// will never commit ("never proposed"); one sent to a leader that was
// then lost may still commit ("outcome unknown"), as after a lost reply.
var ErrNoLeader = errors.New("raft: cluster has no leader (no quorum)")

// noLeaderError is ErrNoLeader with how long the write waited and
// whether it may have reached a log (sent: it was in a batch proposed or
// forwarded to a leader that was then lost).
type noLeaderError struct {
	waited time.Duration
	sent   bool
}

func (e *noLeaderError) Error() string {
	if e.sent {
		return fmt.Sprintf("cluster has no leader (no quorum): the write waited %.1f s for a leader; it was sent to a leader that was lost, so it may still be committed when a leader is elected (outcome unknown)", e.waited.Seconds())
	}
	return fmt.Sprintf("cluster has no leader (no quorum): the write waited %.1f s for a leader and was not committed (never proposed)", e.waited.Seconds())
}

func (e *noLeaderError) Is(target error) bool { return target == ErrNoLeader }

// noLeaderTimeout is Config.NoLeaderWriteTimeout with its default
// (negative: none).
func (n *Node) noLeaderTimeout() time.Duration {
	if n.cfg.NoLeaderWriteTimeout == 0 {
		return DefaultNoLeaderWriteTimeout
	}
	return n.cfg.NoLeaderWriteTimeout
}

package raft

import (
	"fmt"
	"sort"
	"strings"
	"time"

	hraft "github.com/hashicorp/raft"
)

// Nickname is C's short name of a server or cluster id: its first four
// hex digits.
func Nickname(id string) string {
	if len(id) > 4 {
		return id[:4]
	}
	return id
}

// StatusExtra is what cluster/status shows beyond Node.Status: the
// member's operational state, tracked by its owner.
type StatusExtra struct {
	Joining        bool
	Remotes        []string // remotes for joining
	Leaving, Left  bool
	Failed         bool
	ElectionStart  time.Time // zero: no election seen
	ElectionReason string    // "timeout" or "leadership_transfer"
	ElectionWon    time.Time
	// Connections in C's notation ("->abcd", "<-abcd", "(->abcd)" when
	// down), in order.
	Connections    []string
	Disconnections int
	// LastMsg is the last time each server was heard from (leader: its
	// followers; follower: the leader).
	LastMsg map[hraft.ServerID]time.Time
	// MatchIndex is, on a leader, each follower's last log index as last
	// reported (see TrackedTransport); next_index is one more.
	MatchIndex map[hraft.ServerID]uint64
	// ElectionTimerNew is the timer being changed to (0: none).
	ElectionTimerNew time.Duration
	// Arbiters are the servers known to be arbiters, marked "(arbiter)"
	// on their server lines.
	Arbiters map[hraft.ServerID]bool
	// Unreachable describes the servers that do not answer while no
	// leader is known ("abcd at ADDRESS (why)"); shown on an
	// "Unreachable:" line, which C does not have, only when not empty.
	Unreachable []string
}

// FormatStatus renders cluster/status in C's layout. A follower's
// next_index and match_index appear on a leader's server lines once the
// follower has answered (x.MatchIndex).
func FormatStatus(st Status, x StatusExtra, now time.Time) string {
	var b strings.Builder
	sid := string(st.ServerID)
	fmt.Fprintf(&b, "%s\n", Nickname(sid))
	fmt.Fprintf(&b, "Name: %s\n", st.Name)
	if st.ClusterID.IsZero() {
		b.WriteString("Cluster ID: not yet known\n")
	} else {
		c := st.ClusterID.String()
		fmt.Fprintf(&b, "Cluster ID: %s (%s)\n", Nickname(c), c)
	}
	fmt.Fprintf(&b, "Server ID: %s (%s)\n", Nickname(sid), sid)
	fmt.Fprintf(&b, "Address: %s\n", st.Address)
	status := "cluster member"
	switch {
	case x.Joining:
		status = "joining cluster"
	case x.Leaving:
		status = "leaving cluster"
	case x.Left:
		status = "left cluster"
	case x.Failed:
		status = "failed"
	case st.Role == "candidate":
		status = "disconnected from the cluster (election timeout)"
	}
	fmt.Fprintf(&b, "Status: %s\n", status)
	if x.Joining {
		b.WriteString("Remotes for joining:")
		for _, r := range x.Remotes {
			b.WriteString(" " + r)
		}
		b.WriteByte('\n')
	}
	role := st.Role
	if role != "leader" && role != "candidate" && role != "follower" {
		role = "<error>"
	}
	fmt.Fprintf(&b, "Role: %s\n", role)
	fmt.Fprintf(&b, "Term: %d\n", st.Term)
	putSID := func(title string, id hraft.ServerID) {
		switch {
		case id == st.ServerID:
			fmt.Fprintf(&b, "%s: self\n", title)
		case id == "":
			fmt.Fprintf(&b, "%s: unknown\n", title)
		default:
			fmt.Fprintf(&b, "%s: %s\n", title, Nickname(string(id)))
		}
	}
	putSID("Leader", st.LeaderID)
	putSID("Vote", st.Vote)
	b.WriteByte('\n')
	if !x.ElectionStart.IsZero() {
		reason := x.ElectionReason
		if reason == "" {
			reason = "timeout"
		}
		fmt.Fprintf(&b, "Last Election started %d ms ago, reason: %s\n", now.Sub(x.ElectionStart).Milliseconds(), reason)
	}
	if !x.ElectionWon.IsZero() {
		fmt.Fprintf(&b, "Last Election won: %d ms ago\n", now.Sub(x.ElectionWon).Milliseconds())
	}
	fmt.Fprintf(&b, "Election timer: %d", st.ElectionTimer.Milliseconds())
	if role == "leader" && x.ElectionTimerNew > 0 {
		fmt.Fprintf(&b, " (changing to %d)", x.ElectionTimerNew.Milliseconds())
	}
	b.WriteByte('\n')
	// C's log_start is the first index in the log, log_end one past the
	// last; with an empty log both follow the snapshot.
	start, end := st.LogFirst, st.LogLast+1
	if start == 0 || st.LogLast == 0 {
		start = max(st.AppliedIndex, st.CommitIndex) + 1
		end = start
	}
	fmt.Fprintf(&b, "Log: [%d, %d]\n", start, end)
	fmt.Fprintf(&b, "Entries not yet committed: %d\n", sub1(end, st.CommitIndex))
	fmt.Fprintf(&b, "Entries not yet applied: %d\n", sub1(end, st.AppliedIndex))
	b.WriteString("Connections:")
	for _, c := range x.Connections {
		b.WriteString(" " + c)
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "Disconnections: %d\n", x.Disconnections)
	if len(x.Unreachable) > 0 {
		fmt.Fprintf(&b, "Unreachable: %s\n", strings.Join(x.Unreachable, ", "))
	}
	b.WriteString("Servers:\n")
	servers := append([]hraft.Server(nil), st.Servers...)
	sort.Slice(servers, func(i, j int) bool { return servers[i].ID < servers[j].ID })
	for _, s := range servers {
		id := string(s.ID)
		fmt.Fprintf(&b, "    %s (%s at %s)", Nickname(id), Nickname(id), s.Address)
		if s.ID == st.ServerID {
			b.WriteString(" (self)")
		}
		if x.Arbiters[s.ID] {
			b.WriteString(" (arbiter)")
		}
		if s.Suffrage != hraft.Voter {
			b.WriteString(" (catchup)")
		}
		if role == "leader" && s.ID == st.ServerID {
			fmt.Fprintf(&b, " next_index=%d match_index=%d", end, end-1)
		} else if m, ok := x.MatchIndex[s.ID]; ok && role == "leader" {
			fmt.Fprintf(&b, " next_index=%d match_index=%d", m+1, m)
		}
		if t, ok := x.LastMsg[s.ID]; ok && !t.IsZero() && s.ID != st.ServerID {
			fmt.Fprintf(&b, " last msg %d ms ago", now.Sub(t).Milliseconds())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// sub1 is a-b-1 floored at 0.
func sub1(a, b uint64) uint64 {
	if a <= b+1 {
		return 0
	}
	return a - b - 1
}

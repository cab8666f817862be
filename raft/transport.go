package raft

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"
)

func netLogger() *slog.Logger { return slog.Default().With("module", "raft_net") }

// Every Raft connection names the server it is meant for. After the
// protocol byte 'R' the dialer writes a preamble: one length byte and the
// target's server id (what the sender's configuration has at that
// address). The listener answers one byte: raftAccept, or raftRefuse
// followed by a length byte and its own server id, and then closes the
// connection. hashicorp/raft's RPC headers carry the sender's id and
// address but not the target's; without this a member started with a
// fresh database (a new server id) at the address of a wiped member
// answered the leader's AppendEntries and votes as the old member.
// NetworkTransport pools connections per target address: Transport passes
// it "ADDRESS#ID", so connections are pooled per (address, id) and Dial
// learns the id.
const (
	raftAccept byte = 'k'
	raftRefuse byte = 'n'
	maxIDLen        = 255
)

// targetSep separates the address and the server id in the target
// addresses Transport gives NetworkTransport ('#' is in no address).
const targetSep = "#"

func targetAddress(id hraft.ServerID, addr hraft.ServerAddress) hraft.ServerAddress {
	return addr + targetSep + hraft.ServerAddress(id)
}

// splitTarget undoes targetAddress; an address without an id gives "".
func splitTarget(target string) (addr, id string) {
	if i := strings.LastIndex(target, targetSep); i >= 0 {
		return target[:i], target[i+1:]
	}
	return target, ""
}

// appendPreamble appends the preamble naming server id.
func appendPreamble(b []byte, id string) ([]byte, error) {
	if len(id) > maxIDLen {
		return nil, fmt.Errorf("server id of %d bytes is too long", len(id))
	}
	b = append(b, byte(len(id)))
	return append(b, id...), nil
}

// readPreamble reads a length byte and that many bytes (a server id).
func readPreamble(r io.Reader) (string, error) {
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", err
	}
	b := make([]byte, n[0])
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// readAnswer reads the listener's answer to a preamble: nil when
// accepted, a *RefusedError naming the listener's server id when refused.
func readAnswer(r io.Reader, addr, id string) error {
	var a [1]byte
	if _, err := io.ReadFull(r, a[:]); err != nil {
		return err
	}
	switch a[0] {
	case raftAccept:
		return nil
	case raftRefuse:
		other, err := readPreamble(r)
		if err != nil {
			return err
		}
		return &RefusedError{Address: addr, Target: id, Actual: other}
	}
	return fmt.Errorf("%s: bad answer %#x to a Raft connection", addr, a[0])
}

// RefusedError is the failure of a Raft connection to a member that is not
// the server the sender meant.
type RefusedError struct {
	Address, Target, Actual string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s: member refuses Raft RPCs for server %s: it is server %s", e.Address, Nickname(e.Target), Nickname(e.Actual))
}

// logLimiter lets a message through at most once per interval per key.
type logLimiter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

const refusalLogInterval = 10 * time.Second

func (l *logLimiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if t, ok := l.last[key]; ok && now.Sub(t) < refusalLogInterval {
		return false
	}
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	l.last[key] = now
	return true
}

var dialRefusals logLimiter

// Transport is hashicorp/raft's NetworkTransport carried by a Mux, with
// each RPC's target server id on its connection (see raftAccept).
type Transport struct {
	*hraft.NetworkTransport
}

// NewTransport returns the Transport of the Mux's Raft connections. Server
// addresses are C's "tcp:IP:PORT", "ssl:IP:PORT" (dialed with the Mux's
// TLS configuration) or "unix:PATH".
func (m *Mux) NewTransport(timeout time.Duration) *Transport {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &Transport{hraft.NewNetworkTransportWithConfig(&hraft.NetworkTransportConfig{
		Stream:  streamLayer{m},
		MaxPool: 4,
		Timeout: timeout,
		Logger:  HraftConfig("", 0).Logger,
	})}
}

// AppendEntriesPipeline implements hraft.Transport.
func (t *Transport) AppendEntriesPipeline(id hraft.ServerID, target hraft.ServerAddress) (hraft.AppendPipeline, error) {
	return t.NetworkTransport.AppendEntriesPipeline(id, targetAddress(id, target))
}

// AppendEntries implements hraft.Transport.
func (t *Transport) AppendEntries(id hraft.ServerID, target hraft.ServerAddress, args *hraft.AppendEntriesRequest,
	resp *hraft.AppendEntriesResponse) error {
	return t.NetworkTransport.AppendEntries(id, targetAddress(id, target), args, resp)
}

// RequestVote implements hraft.Transport.
func (t *Transport) RequestVote(id hraft.ServerID, target hraft.ServerAddress, args *hraft.RequestVoteRequest,
	resp *hraft.RequestVoteResponse) error {
	return t.NetworkTransport.RequestVote(id, targetAddress(id, target), args, resp)
}

// RequestPreVote implements hraft.WithPreVote.
func (t *Transport) RequestPreVote(id hraft.ServerID, target hraft.ServerAddress, args *hraft.RequestPreVoteRequest,
	resp *hraft.RequestPreVoteResponse) error {
	return t.NetworkTransport.RequestPreVote(id, targetAddress(id, target), args, resp)
}

// InstallSnapshot implements hraft.Transport.
func (t *Transport) InstallSnapshot(id hraft.ServerID, target hraft.ServerAddress, args *hraft.InstallSnapshotRequest,
	resp *hraft.InstallSnapshotResponse, data io.Reader) error {
	return t.NetworkTransport.InstallSnapshot(id, targetAddress(id, target), args, resp, data)
}

// TimeoutNow implements hraft.Transport.
func (t *Transport) TimeoutNow(id hraft.ServerID, target hraft.ServerAddress, args *hraft.TimeoutNowRequest,
	resp *hraft.TimeoutNowResponse) error {
	return t.NetworkTransport.TimeoutNow(id, targetAddress(id, target), args, resp)
}

// dialRaft opens a Raft connection to the member at target ("ADDRESS#ID"
// from Transport) and has it accept the server id (TLS with t when the
// address is ssl:).
func dialRaft(t TLS, target string, timeout time.Duration) (c net.Conn, err error) {
	addr, id := splitTarget(target)
	c, err = dialTarget(t, protoRaft, addr, id, timeout)
	var re *RefusedError
	if errors.As(err, &re) && dialRefusals.allow(target) {
		netLogger().Warn(err.Error())
	}
	return c, err
}

// dialTarget opens a connection of protocol proto (Raft or commit notices)
// to the member at addr, with the preamble naming server id, and reads the
// member's answer: a *RefusedError when it is another server. An ssl:
// addr is dialed with TLS configuration t.
func dialTarget(t TLS, proto byte, addr, id string, timeout time.Duration) (net.Conn, error) {
	b, err := appendPreamble([]byte{proto}, id)
	if err != nil {
		return nil, err
	}
	c, err := dialWith(t, addr, b, timeout)
	if err != nil {
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	err = readAnswer(c, addr, id)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		logRefusedByPeer(addr, err)
		c.Close()
		return nil, err
	}
	return c, nil
}

var (
	_ io.Closer         = (*Mux)(nil)
	_ hraft.Transport   = (*Transport)(nil)
	_ hraft.WithPreVote = (*Transport)(nil)
	_ hraft.WithClose   = (*Transport)(nil)
)

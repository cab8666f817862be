package raft

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hraft "github.com/hashicorp/raft"
)

// Protocol bytes: the first byte a client writes on a cluster connection.
const (
	protoRaft    byte = 'R' // hashicorp/raft NetworkTransport traffic
	protoForward byte = 'F' // forwarding / join RPC (forward.go)
	protoNotice  byte = 'N' // the leader's commit notices (notify.go)
)

// SplitAddress turns C's cluster address "tcp:IP:PORT" (or "IP:PORT")
// into a Go dial address. "ssl:" is not supported.
func SplitAddress(addr string) (string, error) {
	switch {
	case strings.HasPrefix(addr, "tcp:"):
		rest := strings.TrimPrefix(addr, "tcp:")
		i := strings.LastIndex(rest, ":")
		if i < 0 {
			return "", fmt.Errorf("%s: bad address (port required)", addr)
		}
		host := strings.TrimSuffix(strings.TrimPrefix(rest[:i], "["), "]")
		return net.JoinHostPort(host, rest[i+1:]), nil
	case strings.HasPrefix(addr, "ssl:"):
		return "", fmt.Errorf("%s: ssl cluster addresses are not supported", addr)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("%s: bad address", addr)
	}
	return addr, nil
}

// Mux is the one TCP listener of a member on its cluster address. Every
// accepted connection starts with one protocol byte: Raft connections
// (whose preamble must name this member's server id, see SetServerID) go
// to the StreamLayer (Mux.NewTransport), forwarding connections to the
// Handler set with SetHandler, and commit notice streams (same preamble)
// to that Handler as "commit" requests.
type Mux struct {
	ln      net.Listener
	address hraft.ServerAddress
	raftCh  chan net.Conn
	closed  chan struct{}
	once    sync.Once
	wg      sync.WaitGroup

	mu       sync.Mutex
	handler  Handler
	conns    map[net.Conn]struct{}
	serverID string // Raft connections for another id are refused ("": any)
	refusals logLimiter
	refused  atomic.Int64 // Raft connections refused
}

// Listen opens the member's listener on its cluster address (C's
// "tcp:IP:PORT"; port 0 picks a free port, see Address). It accepts Raft
// connections meant for any server id until SetServerID; a member's
// listener is ListenAs.
func Listen(address string) (*Mux, error) { return ListenAs(address, "") }

// ListenAs is Listen for the member with server id serverID: Raft
// connections meant for another id are refused from the first one
// accepted. (With Listen and then SetServerID, a connection accepted in
// between was taken whatever id it named: under CPU load, a leader's
// retry for a wiped member's old id reached the fresh member at its
// address in that window, and the pooled connection then carried the old
// member's AppendEntries and InstallSnapshot to it, issue 9.)
func ListenAs(address, serverID string) (*Mux, error) {
	hp, err := SplitAddress(address)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", hp)
	if err != nil {
		return nil, fmt.Errorf("%s: listen failed (%w)", address, err)
	}
	m := &Mux{ln: ln, raftCh: make(chan net.Conn, 16), closed: make(chan struct{}),
		conns: map[net.Conn]struct{}{}, serverID: serverID}
	m.address = hraft.ServerAddress("tcp:" + ln.Addr().String())
	if strings.HasPrefix(address, "tcp:") && !strings.HasSuffix(address, ":0") {
		m.address = hraft.ServerAddress(address)
	}
	m.wg.Add(1)
	go m.acceptLoop()
	return m, nil
}

// Address is the listener's address in C's form "tcp:IP:PORT".
func (m *Mux) Address() hraft.ServerAddress { return m.address }

// SetHandler installs the handler of forwarding and join requests (nil:
// requests are refused until one is set).
func (m *Mux) SetHandler(h Handler) {
	m.mu.Lock()
	m.handler = h
	m.mu.Unlock()
}

// SetServerID sets the member's server id: Raft connections meant for
// another server id are refused from then on (see raftAccept).
func (m *Mux) SetServerID(id string) {
	m.mu.Lock()
	m.serverID = id
	m.mu.Unlock()
}

func (m *Mux) getServerID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.serverID
}

func (m *Mux) getHandler() Handler {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.handler
}

func (m *Mux) acceptLoop() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			if isClosed(m.closed) || errors.Is(err, net.ErrClosed) {
				return
			}
			netLogger().Warn("cluster accept failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		m.wg.Add(1)
		go m.route(c)
	}
}

// route reads the protocol byte (bounded wait) and hands the connection on.
func (m *Mux) route(c net.Conn) {
	defer m.wg.Done()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil {
		c.Close()
		return
	}
	switch b[0] {
	case protoRaft:
		if !m.acceptRaft(c) {
			c.Close()
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		select {
		case m.raftCh <- c:
		case <-m.closed:
			c.Close()
		}
	case protoNotice:
		target, ok := m.acceptTarget(c)
		if !ok {
			c.Close()
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		if !m.track(c) {
			c.Close()
			return
		}
		serveNotices(c, target, m.getHandler)
		m.untrack(c)
	case protoForward:
		_ = c.SetReadDeadline(time.Time{})
		if !m.track(c) {
			c.Close()
			return
		}
		serveForward(c, m.getHandler)
		m.untrack(c)
	default:
		netLogger().Warn("cluster connection with unknown protocol byte", "byte", b[0], "remote", c.RemoteAddr().String())
		c.Close()
	}
}

// acceptRaft reads a Raft connection's preamble and answers it: accepted
// if it names this member's server id (or the Mux has none).
func (m *Mux) acceptRaft(c net.Conn) bool {
	_, ok := m.acceptTarget(c)
	return ok
}

// acceptTarget is acceptRaft that also returns the server id the
// preamble named.
func (m *Mux) acceptTarget(c net.Conn) (string, bool) {
	target, err := readPreamble(c)
	if err != nil {
		return "", false
	}
	self := m.getServerID()
	if self == "" || target == self {
		_, err := c.Write([]byte{raftAccept})
		return target, err == nil
	}
	m.refused.Add(1)
	if m.refusals.allow(target) {
		netLogger().Warn(fmt.Sprintf("refused Raft connection from %s meant for server %s: this member is server %s "+
			"(the configuration names another server at this address)", c.RemoteAddr(), Nickname(target), Nickname(self)),
			"target_sid", target, "sid", self)
	}
	ans, _ := appendPreamble([]byte{raftRefuse}, self)
	_, _ = c.Write(ans)
	return "", false
}

func (m *Mux) track(c net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if isClosed(m.closed) {
		return false
	}
	m.conns[c] = struct{}{}
	return true
}

func (m *Mux) untrack(c net.Conn) {
	m.mu.Lock()
	delete(m.conns, c)
	m.mu.Unlock()
	c.Close()
}

// Close stops the listener and closes forwarding connections. Raft
// connections belong to the transport (close it first).
func (m *Mux) Close() error {
	var err error
	m.once.Do(func() {
		m.mu.Lock()
		close(m.closed)
		for c := range m.conns {
			c.Close()
		}
		m.mu.Unlock()
		err = m.ln.Close()
		m.wg.Wait()
	})
	return err
}

// streamLayer is hashicorp/raft's StreamLayer on a Mux.
type streamLayer struct{ m *Mux }

func (s streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.m.raftCh:
		return c, nil
	case <-s.m.closed:
		return nil, net.ErrClosed
	}
}

func (s streamLayer) Close() error   { return nil } // the Mux owns the listener
func (s streamLayer) Addr() net.Addr { return muxAddr(s.m.address) }

func (s streamLayer) Dial(address hraft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return dialRaft(string(address), timeout)
}

func dialProto(address string, proto byte, timeout time.Duration) (net.Conn, error) {
	return dialWith(address, []byte{proto}, timeout)
}

// dialWith connects to address and writes head (protocol byte and
// preamble).
func dialWith(address string, head []byte, timeout time.Duration) (net.Conn, error) {
	hp, err := SplitAddress(address)
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("tcp", hp, timeout)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(head); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// muxAddr makes the advertised address ("tcp:IP:PORT") a net.Addr, so
// that the NetworkTransport's LocalAddr is the C form used in the
// configuration.
type muxAddr string

func (a muxAddr) Network() string { return "tcp" }
func (a muxAddr) String() string  { return string(a) }

package raft

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"
)

// Protocol bytes: the first byte a client writes on a cluster connection.
const (
	protoRaft    byte = 'R' // hashicorp/raft NetworkTransport traffic
	protoForward byte = 'F' // forwarding / join RPC (forward.go)
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
// accepted connection starts with one protocol byte: Raft connections go
// to the StreamLayer (Mux.Transport), forwarding connections to the
// Handler set with SetHandler.
type Mux struct {
	ln      net.Listener
	address hraft.ServerAddress
	raftCh  chan net.Conn
	closed  chan struct{}
	once    sync.Once
	wg      sync.WaitGroup

	mu      sync.Mutex
	handler Handler
	conns   map[net.Conn]struct{}
}

// Listen opens the member's listener on its cluster address (C's
// "tcp:IP:PORT"; port 0 picks a free port, see Address).
func Listen(address string) (*Mux, error) {
	hp, err := SplitAddress(address)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", hp)
	if err != nil {
		return nil, fmt.Errorf("%s: listen failed (%w)", address, err)
	}
	m := &Mux{ln: ln, raftCh: make(chan net.Conn, 16), closed: make(chan struct{}),
		conns: map[net.Conn]struct{}{}}
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
	_ = c.SetReadDeadline(time.Time{})
	switch b[0] {
	case protoRaft:
		select {
		case m.raftCh <- c:
		case <-m.closed:
			c.Close()
		}
	case protoForward:
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
	return dialProto(string(address), protoRaft, timeout)
}

func dialProto(address string, proto byte, timeout time.Duration) (net.Conn, error) {
	hp, err := SplitAddress(address)
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("tcp", hp, timeout)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{proto}); err != nil {
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

package raft

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/internal/fsmode"
)

// Protocol bytes: the first byte a client writes on a cluster connection.
const (
	protoRaft    byte = 'R' // hashicorp/raft NetworkTransport traffic
	protoForward byte = 'F' // forwarding / join RPC (forward.go)
	protoNotice  byte = 'N' // the leader's commit notices (notify.go)
)

// SplitAddress turns C's cluster address "tcp:IP:PORT" or "ssl:IP:PORT"
// (or "IP:PORT") into a Go dial address, and "unix:PATH" into PATH.
// ParseAddress also says which network.
func SplitAddress(addr string) (string, error) {
	switch {
	case strings.HasPrefix(addr, "unix:"):
		p := strings.TrimPrefix(addr, "unix:")
		if p == "" {
			return "", fmt.Errorf("%s: bad address (path required)", addr)
		}
		return p, nil
	case strings.HasPrefix(addr, "tcp:"), strings.HasPrefix(addr, "ssl:"):
		rest := addr[len("tcp:"):]
		i := strings.LastIndex(rest, ":")
		if i < 0 {
			return "", fmt.Errorf("%s: bad address (port required)", addr)
		}
		host := strings.TrimSuffix(strings.TrimPrefix(rest[:i], "["), "]")
		return net.JoinHostPort(host, rest[i+1:]), nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("%s: bad address", addr)
	}
	return addr, nil
}

// ParseAddress turns a cluster address into the Go network ("tcp" or
// "unix") and address to listen on or dial ("ssl:" is TLS over "tcp"). "unix:PATH" is a unix socket
// at PATH; a relative PATH is in the OVS run directory ($OVS_RUNDIR, by
// default /var/run/openvswitch), as C resolves it (stream-unix.c: C's own
// cluster tests use "unix:s1.raft" with OVS_RUNDIR set to the test's
// directory). The configuration and the file keep the address as given.
func ParseAddress(addr string) (network, address string, err error) {
	hp, err := SplitAddress(addr)
	if err != nil {
		return "", "", err
	}
	if strings.HasPrefix(addr, "unix:") {
		if !filepath.IsAbs(hp) {
			hp = filepath.Join(RunDir(), hp)
		}
		return "unix", hp, nil
	}
	return "tcp", hp, nil
}

// RunDir is C's ovs_rundir() (fsmode.RunDir).
func RunDir() string { return fsmode.RunDir() }

// ValidateAddress checks a cluster address given to create-cluster or
// join-cluster with C's rules (raft_address_validate) and messages:
// "unix:PATH" (any path), or "tcp:HOST:PORT" where PORT is required and
// 0..65535 and HOST is an IPv4 address, an IPv6 address in brackets, or a
// name (not resolved: C accepts a name that does not resolve). Errors are
// "ADDR: expected "tcp" or "ssl" address" and "ADDR: syntax error in
// address"; for the latter C's socket_util first logs why, at ERR, which
// ValidateAddress does under module socket_util. "ssl:HOST:PORT" is
// checked as "tcp:" is: its member speaks TLS (tls.go).
func ValidateAddress(addr string) error {
	switch {
	case strings.HasPrefix(addr, "unix:"):
		return nil
	case strings.HasPrefix(addr, "tcp:"), strings.HasPrefix(addr, "ssl:"):
		if why, ok := checkHostPort(addr[4:]); !ok {
			if why != "" {
				slog.Default().Error(why, "module", "socket_util")
			}
			return &AddressError{Address: addr, Msg: "syntax error in address"}
		}
		return nil
	}
	return &AddressError{Address: addr, Msg: `expected "tcp" or "ssl" address`}
}

// AddressError is ValidateAddress's error: "ADDRESS: MSG".
type AddressError struct{ Address, Msg string }

func (e *AddressError) Error() string { return e.Address + ": " + e.Msg }

// checkHostPort is C's inet_parse_active(target, -1, ..., resolve_host):
// ok, or the line socket_util logs (empty when it logs none).
func checkHostPort(target string) (why string, ok bool) {
	colons, colon, depth := 0, -1, false
	for i := 0; i < len(target); i++ {
		switch target[i] {
		case '[':
			depth = true
		case ']':
			depth = false
		case ':':
			if !depth {
				colons++
				colon = i
			}
		}
	}
	if colons != 1 {
		return target + ": port must be specified", false
	}
	host, port := unbracket(target[:colon]), unbracket(target[colon+1:])
	if port != "" {
		n, err := strconv.ParseInt(strings.TrimLeft(port, " \t\n\v\f\r"), 10, 64)
		if err != nil || n < 0 || n > 65535 {
			return fmt.Sprintf("%s: bad port number \"%s\"", target, port), false
		}
	}
	if strings.Contains(host, ":") {
		a, _, _ := strings.Cut(host, "%")
		if ip := net.ParseIP(a); ip == nil || !strings.Contains(a, ":") {
			return "", false
		}
	}
	// An IPv4 address or a host name: C accepts a name whether or not it
	// resolves.
	return "", true
}

func unbracket(s string) string {
	if strings.HasPrefix(s, "[") {
		s = strings.TrimSuffix(s[1:], "]")
	}
	return s
}

// Mux is the one listener (TCP, TLS or unix socket) of a member on its
// cluster address. Every accepted connection (on an ssl: address, once
// its TLS handshake has succeeded) starts with one protocol byte: Raft connections
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
	faults   atomic.Pointer[Faults]
	// tls: the configuration of ssl: connections, accepted and dialed
	// by the StreamLayer (nil: none).
	tls TLS
	// cluster/set-backlog-threshold (SetBacklogThreshold).
	backlogMsgs, backlogBytes uint64
	backlogSet                bool
}

// C's default backlog thresholds of a Raft connection (raft.c): a
// connection is dropped when more than this many messages or bytes wait to
// be sent on it.
const (
	DefaultBacklogMsgs  = 500
	DefaultBacklogBytes = 1<<32 - 1
)

// SetBacklogThreshold records cluster/set-backlog-threshold's limits for
// the member's connections. They are kept and reported (BacklogThreshold)
// but nothing is dropped: no connection of this package queues messages
// (raft/DESIGN.md, "Failure tests").
func (m *Mux) SetBacklogThreshold(msgs, bytes uint64) {
	m.mu.Lock()
	m.backlogMsgs, m.backlogBytes, m.backlogSet = msgs, bytes, true
	m.mu.Unlock()
}

// BacklogThreshold returns the limits of SetBacklogThreshold (C's
// defaults until it is called).
func (m *Mux) BacklogThreshold() (msgs, bytes uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.backlogSet {
		return DefaultBacklogMsgs, DefaultBacklogBytes
	}
	return m.backlogMsgs, m.backlogBytes
}

// SetFaults sets the failure tests that govern the cluster RPCs and commit
// notices this listener receives (by default ProcessFaults). Raft RPCs are
// governed by the Node's (Config.Faults).
func (m *Mux) SetFaults(f *Faults) { m.faults.Store(f) }

func (m *Mux) getFaults() *Faults {
	if f := m.faults.Load(); f != nil {
		return f
	}
	return ProcessFaults()
}

// Listen opens the member's listener on its cluster address (C's
// "tcp:IP:PORT", port 0 picks a free port, see Address; or "unix:PATH";
// "ssl:IP:PORT" needs ListenTLS).
// It accepts Raft connections meant for any server id until SetServerID;
// a member's listener is ListenAs.
func Listen(address string) (*Mux, error) { return ListenAs(address, "") }

// ListenAs is Listen for the member with server id serverID: Raft
// connections meant for another id are refused from the first one
// accepted. (With Listen and then SetServerID, a connection accepted in
// between was taken whatever id it named: under CPU load, a leader's
// retry for a wiped member's old id reached the fresh member at its
// address in that window, and the pooled connection then carried the old
// member's AppendEntries and InstallSnapshot to it, issue 9.)
//
// A unix socket is created with C's socket mode; a stale socket file at
// its path (left by a process that died) is replaced, as C does, and the
// file is removed by Close.
func ListenAs(address, serverID string) (*Mux, error) { return ListenTLS(address, serverID, nil) }

// ListenTLS is ListenAs with the TLS configuration t of ssl: addresses:
// the listener's, when address is "ssl:IP:PORT" (every connection it
// accepts is then TLS, the client's certificate verified against t's CA),
// and the Raft dialer's (NewTransport) for peers at ssl: addresses. An
// ssl: address without t, or with a t that is not Ready (key, certificate
// or CA missing), is an error.
func ListenTLS(address, serverID string, t TLS) (*Mux, error) {
	network, hp, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	if IsSSL(address) {
		if err := checkTLS(address, t); err != nil {
			return nil, err
		}
	}
	var ln net.Listener
	if network == "unix" {
		ln, err = listenUnix(hp)
	} else {
		ln, err = net.Listen("tcp", hp)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: listen failed (%w)", address, err)
	}
	m := &Mux{ln: ln, raftCh: make(chan net.Conn, 16), closed: make(chan struct{}),
		conns: map[net.Conn]struct{}{}, serverID: serverID, tls: t}
	switch {
	case network == "unix":
		// The address as given: it is what the configuration holds.
		m.address = hraft.ServerAddress(address)
	case (strings.HasPrefix(address, "tcp:") || IsSSL(address)) && !strings.HasSuffix(address, ":0"):
		m.address = hraft.ServerAddress(address)
	case IsSSL(address):
		m.address = hraft.ServerAddress("ssl:" + ln.Addr().String())
	default:
		m.address = hraft.ServerAddress("tcp:" + ln.Addr().String())
	}
	if IsSSL(address) {
		m.ln = tls.NewListener(ln, serverTLS(t))
	}
	m.wg.Add(1)
	go m.acceptLoop()
	return m, nil
}

// maxUnixPath is the longest socket path bind(2) and connect(2) take
// (sun_path is 108 bytes with its terminating NUL).
const maxUnixPath = 107

// unixName returns a name for the socket at path that fits sun_path: path
// itself, or, when it is too long, "/proc/self/fd/N/BASE" through an open
// descriptor of its directory (as C's make_sockaddr_un does). done
// releases the descriptor once bind or connect has returned.
func unixName(path string) (name string, done func(), err error) {
	if len(path) <= maxUnixPath {
		return path, func() {}, nil
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return "", nil, err
	}
	name = fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), filepath.Base(path))
	if len(name) > maxUnixPath {
		d.Close()
		return "", nil, fmt.Errorf("%s: socket path too long", path)
	}
	return name, func() { d.Close() }, nil
}

// unixListener is a unix socket listener whose file is removed by Close
// (by its real path, which may differ from the name it was bound with).
type unixListener struct {
	*net.UnixListener
	path string
	once sync.Once
}

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		unixSockets.Delete(l.path)
		os.Remove(l.path)
	})
	return err
}

// unixSockets are the paths of the open unix listeners of the process, for
// RemoveSocketFiles.
var unixSockets sync.Map

// RemoveSocketFiles removes the socket files of every open unix listener
// of this package (members' "unix:PATH" cluster addresses) without closing
// them: a process about to exit without closing its members (a failure
// test's crash) leaves no stale socket behind, as C removes its
// listeners' files on exit.
func RemoveSocketFiles() {
	unixSockets.Range(func(k, _ any) bool {
		_ = os.Remove(k.(string))
		return true
	})
}

func listenUnix(path string) (net.Listener, error) {
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
	name, done, err := unixName(path)
	if err != nil {
		return nil, err
	}
	defer done()
	ln, err := fsmode.Listen("unix", name)
	if err != nil {
		return nil, err
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	unixSockets.Store(path, struct{}{})
	return &unixListener{UnixListener: ul, path: path}, nil
}

// Address is the listener's address in C's form ("tcp:IP:PORT",
// "ssl:IP:PORT" or "unix:PATH").
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
	if !m.handshakeServer(c) {
		return
	}
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
		serveNotices(c, target, m.getHandler, m.getFaults)
		m.untrack(c)
	case protoForward:
		_ = c.SetReadDeadline(time.Time{})
		if !m.track(c) {
			c.Close()
			return
		}
		serveForward(c, m.getHandler, m.getFaults)
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
	return dialRaft(s.m.tls, string(address), timeout)
}

func dialProto(t TLS, address string, proto byte, timeout time.Duration) (net.Conn, error) {
	return dialWith(t, address, []byte{proto}, timeout)
}

// dialWith connects to address ("tcp:IP:PORT", "unix:PATH", or
// "ssl:IP:PORT": TLS with t, the handshake within timeout too) and writes
// head (protocol byte and preamble).
func dialWith(t TLS, address string, head []byte, timeout time.Duration) (net.Conn, error) {
	network, hp, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	ssl := IsSSL(address)
	if ssl {
		if err := checkTLS(address, t); err != nil {
			return nil, err
		}
	}
	deadline := time.Now().Add(timeout)
	var c net.Conn
	if network == "unix" {
		name, done, nerr := unixName(hp)
		if nerr != nil {
			return nil, nerr
		}
		c, err = net.DialTimeout("unix", name, timeout)
		done()
	} else {
		c, err = net.DialTimeout("tcp", hp, timeout)
	}
	if err != nil {
		return nil, err
	}
	if ssl {
		if c, err = handshakeClient(c, address, t, deadline); err != nil {
			return nil, err
		}
	}
	if _, err := c.Write(head); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// muxAddr makes the advertised address ("tcp:IP:PORT" or "unix:PATH") a
// net.Addr, so that the NetworkTransport's LocalAddr is the C form used in
// the configuration.
type muxAddr string

func (a muxAddr) Network() string { // "tcp" also for ssl:
	if strings.HasPrefix(string(a), "unix:") {
		return "unix"
	}
	return "tcp"
}
func (a muxAddr) String() string { return string(a) }

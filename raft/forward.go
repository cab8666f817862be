package raft

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// Cluster RPC (protocol byte 'F'): each frame is a 4-byte big-endian
// length and a JSON object; a connection carries one request at a time,
// each answered by one response.
//
//	apply: follower -> leader, "propose this encoded Entry or batch";
//	       answers the FSM replies as one JSON array, one per
//	       transaction (null: blocked wait), and the entry's log index.
//	hello: a joining member asks any member for the cluster id, the
//	       database name and the schema it needs to start.
//	join:  a joining member asks the leader to add it as a voter; a
//	       member that does not lead answers not_leader with its leader's
//	       address, which the joiner tries next. A joiner at the address
//	       of another server replaces it if that server is silent (join.go).
//	commit: leader -> follower, "the entry at index/term is committed"
//	       (notify.go), for the server id in "id"; answered at once.
//	member, remove, removed, timer: member-level requests handled by
//	       the clustered mode (cluster/rpc.go): "is this server id in
//	       your configuration?" (leader only; others answer not_leader
//	       with a hint), remove a member (on the leader), "you were
//	       removed" (leader -> removed member),
//	       election timer.

// DecodeLogData decodes the data of a command log entry: the Entries of a
// batch in order, or the one Entry (for ovsdb-tool's show-log and the
// like; the FSM applies the same data).
func DecodeLogData(data []byte) ([]*Entry, error) {
	parts, err := splitBatch(data)
	if err != nil {
		return nil, err
	}
	out := make([]*Entry, 0, len(parts))
	for _, p := range parts {
		e, err := DecodeEntry(p)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// The cluster RPC operations (Request.Op).
const (
	OpApply   = "apply"
	OpHello   = "hello"
	OpJoin    = "join"
	OpMember  = "member"
	OpCommit  = "commit"
	OpRemove  = "remove"
	OpRemoved = "removed"
	OpTimer   = "timer"
)

// Request is one cluster RPC request. Each field has one meaning, used
// by the operations named beside it; the others leave it empty.
type Request struct {
	Op string `json:"op"`
	// Entry: the encoded Entry or batch to propose (apply).
	Entry []byte `json:"entry,omitempty"`
	// ServerID: the server the request is about (join, member, remove,
	// removed) or addressed to (commit).
	ServerID string `json:"id,omitempty"`
	// Address: the joining server's cluster address (join).
	Address string `json:"address,omitempty"`
	// Index and Term: the committed entry (commit).
	Index uint64 `json:"index,omitempty"`
	Term  uint64 `json:"term,omitempty"`
	// ElectionTimerMS: the new election timer, in milliseconds (timer).
	ElectionTimerMS int `json:"election_timer_ms,omitempty"`
}

// Response is one cluster RPC response.
type Response struct {
	Reply     json.RawMessage `json:"reply,omitempty"`
	Index     uint64          `json:"index,omitempty"`
	Term      uint64          `json:"term,omitempty"` // of the entry at Index
	Error     string          `json:"error,omitempty"`
	NotLeader bool            `json:"not_leader,omitempty"`
	Leader    string          `json:"leader,omitempty"`    // leader's address, when known
	LeaderID  string          `json:"leader_id,omitempty"` // leader's server id
	ClusterID string          `json:"cid,omitempty"`
	Name      string          `json:"name,omitempty"`
	Schema    string          `json:"schema,omitempty"`
	// Member answers "member": whether the asked server id is in the
	// leader's configuration.
	Member bool `json:"member,omitempty"`
	// Self and Arbiter answer "hello": the answering member's server id
	// and whether it is an arbiter (holds no database).
	Self    string `json:"self,omitempty"`
	Arbiter bool   `json:"arbiter,omitempty"`
}

// Handler answers cluster RPC requests on a member.
type Handler interface {
	HandleCluster(ctx context.Context, req *Request) *Response
}

const maxFrame = 1 << 30

// frameApply starts the payload of a binary "apply" frame: the request is
// the encoded Entry or batch after this byte; a successful answer is this
// byte, the log index and the entry's term (8 bytes big-endian each) and
// the replies' JSON. JSON frames start
// with '{', so the two never mix up. Binary frames save the base64 and JSON
// passes over the entry on the hot path of every forwarded write.
const frameApply = 'A'

func writeFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeRaw(w, nil, b)
}

// writeRaw writes one frame whose payload is head followed by body.
func writeRaw(w io.Writer, head, body []byte) error {
	n := len(head) + len(body)
	if n > maxFrame {
		return fmt.Errorf("cluster rpc: frame of %d bytes is too large", n)
	}
	buf := make([]byte, 4, 4+n)
	binary.BigEndian.PutUint32(buf, uint32(n))
	buf = append(append(buf, head...), body...)
	_, err := w.Write(buf)
	return err
}

// writeRequest writes req, "apply" as a binary frame.
func writeRequest(w io.Writer, req *Request) error {
	if req.Op == OpApply {
		return writeRaw(w, []byte{frameApply}, req.Entry)
	}
	return writeFrame(w, req)
}

// writeResponse writes the answer to req: a successful apply as a binary
// frame when the request came as one.
func writeResponse(w io.Writer, binaryApply bool, resp *Response) error {
	if binaryApply && resp.Error == "" && !resp.NotLeader {
		var head [17]byte
		head[0] = frameApply
		binary.BigEndian.PutUint64(head[1:], resp.Index)
		binary.BigEndian.PutUint64(head[9:], resp.Term)
		reply := []byte(resp.Reply)
		if reply == nil {
			reply = []byte("null")
		}
		return writeRaw(w, head[:], reply)
	}
	return writeFrame(w, resp)
}

func readRaw(r io.Reader) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n > maxFrame {
		return nil, fmt.Errorf("cluster rpc: frame of %d bytes is too large", n)
	}
	if n <= 1<<16 {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	// A large frame's buffer grows with the bytes that actually arrive,
	// not with what the length claims.
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

// readRequest reads one request; binaryApply reports a binary apply frame.
func readRequest(r io.Reader) (req *Request, binaryApply bool, err error) {
	b, err := readRaw(r)
	if err != nil {
		return nil, false, err
	}
	if len(b) > 0 && b[0] == frameApply {
		return &Request{Op: OpApply, Entry: b[1:]}, true, nil
	}
	req = &Request{}
	if err := json.Unmarshal(b, req); err != nil {
		return nil, false, err
	}
	return req, false, nil
}

// readResponse reads one response, binary or JSON.
func readResponse(r io.Reader) (*Response, error) {
	b, err := readRaw(r)
	if err != nil {
		return nil, err
	}
	if len(b) > 0 && b[0] == frameApply {
		if len(b) < 17 {
			return nil, errors.New("cluster rpc: truncated apply answer")
		}
		return &Response{Index: binary.BigEndian.Uint64(b[1:9]), Term: binary.BigEndian.Uint64(b[9:17]),
			Reply: json.RawMessage(b[17:])}, nil
	}
	resp := &Response{}
	if err := json.Unmarshal(b, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// serveForward answers requests on c until it fails or closes. The
// failure tests of faults() apply: while stop-raft-rpc is engaged every
// request is refused unhandled, and the answer to a forwarded write
// ("apply", C's execute_command reply) is a crash point.
func serveForward(c net.Conn, handler func() Handler, faults func() *Faults) {
	r := bufio.NewReader(c)
	for {
		req, binaryApply, err := readRequest(r)
		if err != nil {
			return
		}
		f := faults()
		h := handler()
		var resp *Response
		switch {
		case f.stopped():
			resp = &Response{Error: ErrRPCStopped.Error()}
		case h == nil:
			resp = &Response{Error: "member is starting"}
		default:
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			resp = h.HandleCluster(ctx, req)
			cancel()
		}
		apply := req.Op == OpApply && !f.stopped()
		if apply && f.Test() == FailCrashBeforeSendExecRep {
			f.crash(FailCrashBeforeSendExecRep)
			return // a test's crash returned: no answer
		}
		if err := writeResponse(c, binaryApply, resp); err != nil {
			return
		}
		if apply && f.Test() == FailCrashAfterSendExecRep {
			f.crash(FailCrashAfterSendExecRep)
		}
	}
}

// NodeHandler answers cluster RPCs for a Node.
type NodeHandler struct {
	Node *Node
	// Meta returns the cluster id, database name and schema text given to
	// joining members.
	Meta func() (cid schema.UUID, name string, schemaJSON []byte)

	joinMu sync.Mutex // join requests are handled one at a time (join.go)
}

// HandleCluster implements Handler.
func (h *NodeHandler) HandleCluster(ctx context.Context, req *Request) *Response {
	n := h.Node
	switch req.Op {
	case OpApply:
		replies, pos, err := n.ApplyForwarded(ctx, req.Entry)
		if errors.Is(err, hraft.ErrNotLeader) || errors.Is(err, hraft.ErrLeadershipLost) {
			return h.notLeader()
		}
		if err != nil {
			return &Response{Error: err.Error()}
		}
		arr := make([]any, len(replies))
		for i, r := range replies {
			if r != nil {
				arr[i] = r
			}
		}
		return &Response{Index: pos.Index, Term: pos.Term, Reply: cjson.Marshal(arr)}
	case OpCommit:
		if req.ServerID != string(n.cfg.ID) {
			return &Response{Error: fmt.Sprintf("commit notice for server %s: this member is server %s", req.ServerID, n.cfg.ID)}
		}
		n.HandleCommitNotice(ctx, Position{Index: req.Index, Term: req.Term})
		return &Response{}
	case OpHello:
		cid, name, sch := h.Meta()
		if cid.IsZero() {
			return &Response{Error: "member has not joined a cluster yet"}
		}
		addr, id := n.raft.LeaderWithID()
		return &Response{ClusterID: cid.String(), Name: name, Schema: string(sch), Leader: string(addr), LeaderID: string(id),
			Self: string(n.cfg.ID), Arbiter: n.cfg.Arbiter}
	case OpJoin:
		return h.join(ctx, req)
	}
	return &Response{Error: fmt.Sprintf("unknown cluster request %q", req.Op)}
}

// Client sends cluster RPCs, keeping idle connections per address. It
// implements Forwarder.
type Client struct {
	// Timeout bounds one request when the context has no deadline.
	Timeout time.Duration

	mu      sync.Mutex
	idle    map[string][]net.Conn
	notices map[string]net.Conn // commit notice streams by "ADDRESS#ID"
	closed  bool
	faults  atomic.Pointer[Faults]
	tls     TLS // for ssl: addresses (NewClientTLS)
}

// SetFaults sets the failure tests that govern the requests the client
// sends (by default ProcessFaults): while stop-raft-rpc is engaged every
// request fails unsent, and forwarding a write (C's execute_command
// request) is a crash point.
func (c *Client) SetFaults(f *Faults) { c.faults.Store(f) }

func (c *Client) getFaults() *Faults {
	if f := c.faults.Load(); f != nil {
		return f
	}
	return ProcessFaults()
}

// NewClient returns a Client (members at ssl: addresses need
// NewClientTLS).
func NewClient() *Client { return NewClientTLS(nil) }

// NewClientTLS returns a Client that dials ssl: addresses with TLS
// configuration t (nil: it cannot reach them).
func NewClientTLS(t TLS) *Client {
	return &Client{Timeout: 30 * time.Second, idle: map[string][]net.Conn{}, tls: t}
}

const maxIdlePerAddr = 64

// Call sends req to the member at address and returns its response.
func (c *Client) Call(ctx context.Context, address string, req *Request) (*Response, error) {
	return c.call(ctx, address, req, nil)
}

// call is Call running sent (if not nil) once the request is written.
func (c *Client) call(ctx context.Context, address string, req *Request, sent func()) (*Response, error) {
	if c.getFaults().stopped() {
		return nil, ErrRPCStopped
	}
	conn, err := c.get(address)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	var resp *Response
	err = writeRequest(conn, req)
	if err == nil {
		if sent != nil {
			sent()
		}
		resp, err = readResponse(conn)
	}
	stopped := stop()
	if err != nil || !stopped {
		logRefusedByPeer(address, err)
		conn.Close()
		if err == nil {
			err = ctx.Err()
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	c.put(address, conn)
	return resp, nil
}

func (c *Client) get(address string) (net.Conn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, net.ErrClosed
	}
	if l := c.idle[address]; len(l) > 0 {
		conn := l[len(l)-1]
		c.idle[address] = l[:len(l)-1]
		c.mu.Unlock()
		return conn, nil
	}
	c.mu.Unlock()
	return dialProto(c.tls, address, protoForward, 5*time.Second)
}

func (c *Client) put(address string, conn net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || len(c.idle[address]) >= maxIdlePerAddr {
		conn.Close()
		return
	}
	c.idle[address] = append(c.idle[address], conn)
}

// Close closes the idle connections; later calls fail.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, l := range c.idle {
		for _, conn := range l {
			conn.Close()
		}
	}
	c.idle = nil
	for _, conn := range c.notices {
		conn.Close()
	}
	c.notices = nil
	return nil
}

// Forward implements Forwarder.
func (c *Client) Forward(ctx context.Context, leader hraft.ServerAddress, data []byte) ([][]any, Position, error) {
	f := c.getFaults()
	if f.Test() == FailCrashBeforeSendExecReq {
		f.crash(FailCrashBeforeSendExecReq)
		return nil, Position{}, errCrashed // a test's crash returned: not sent
	}
	resp, err := c.call(ctx, string(leader), &Request{Op: OpApply, Entry: data}, func() {
		if f.Test() == FailCrashAfterSendExecReq {
			f.crash(FailCrashAfterSendExecReq)
		}
	})
	if err != nil {
		return nil, Position{}, err
	}
	if resp.Error != "" {
		return nil, Position{}, errors.New(resp.Error)
	}
	v, err := schema.DecodeJSON(resp.Reply)
	if err != nil {
		return nil, Position{}, fmt.Errorf("cluster rpc: reply: %w", err)
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, Position{}, errors.New("cluster rpc: replies are not an array")
	}
	replies := make([][]any, len(arr))
	for i, r := range arr {
		if r == nil {
			continue
		}
		if replies[i], ok = r.([]any); !ok {
			return nil, Position{}, errors.New("cluster rpc: reply is not an array")
		}
	}
	return replies, Position{Index: resp.Index, Term: resp.Term}, nil
}

// NotifyCommit implements CommitNotifier: it writes the position on the
// member's commit notice stream (protoNotice, one-way), opening it first if
// needed. Calls for one server must not be concurrent (the notifier has one
// sender per follower).
func (c *Client) NotifyCommit(ctx context.Context, server hraft.Server, pos Position) error {
	if c.getFaults().stopped() {
		return ErrRPCStopped
	}
	key := string(targetAddress(server.ID, server.Address))
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errors.New("cluster rpc: client closed")
	}
	conn := c.notices[key]
	c.mu.Unlock()
	if conn == nil {
		var err error
		if conn, err = dialNotices(ctx, c.tls, string(server.Address), string(server.ID)); err != nil {
			return err
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			conn.Close()
			return errors.New("cluster rpc: client closed")
		}
		if c.notices == nil {
			c.notices = map[string]net.Conn{}
		}
		c.notices[key] = conn
		c.mu.Unlock()
	}
	var frame [noticeFrameLen]byte
	binary.BigEndian.PutUint64(frame[:8], pos.Index)
	binary.BigEndian.PutUint64(frame[8:], pos.Term)
	_ = conn.SetWriteDeadline(time.Now().Add(noticeTimeout))
	if _, err := conn.Write(frame[:]); err != nil {
		conn.Close()
		c.mu.Lock()
		if c.notices[key] == conn {
			delete(c.notices, key)
		}
		c.mu.Unlock()
		return err
	}
	return nil
}

// Hello asks the members at remotes, in turn, for the cluster id, name
// and schema, until one answers or ctx is done.
func (c *Client) Hello(ctx context.Context, remotes []string) (*Response, error) {
	return c.retry(ctx, remotes, &Request{Op: OpHello})
}

// Join asks the cluster at remotes to add the member (id, address) as a
// voter, following leader hints, until the leader answers or ctx is done.
func (c *Client) Join(ctx context.Context, remotes []string, id, address string) (*Response, error) {
	return c.retry(ctx, remotes, &Request{Op: OpJoin, ServerID: id, Address: address})
}

// Member asks the leader, found through the members at remotes, whether
// the server id is in its configuration (op "member"), until the leader
// answers or ctx is done.
func (c *Client) Member(ctx context.Context, remotes []string, id string) (*Response, error) {
	return c.retry(ctx, remotes, &Request{Op: OpMember, ServerID: id})
}

func (c *Client) retry(ctx context.Context, remotes []string, req *Request) (*Response, error) {
	if len(remotes) == 0 {
		return nil, errors.New("no remote addresses")
	}
	backoff := 50 * time.Millisecond
	var last error
	for {
		todo := append([]string(nil), remotes...)
		tried := map[string]bool{}
		// answered: a member answered this round with an error of its
		// own (the leader's refusal), which a later "not leader" from
		// another member does not hide.
		answered := false
		for len(todo) > 0 {
			addr := todo[0]
			todo = todo[1:]
			if tried[addr] {
				continue
			}
			tried[addr] = true
			rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			resp, err := c.Call(rctx, addr, req)
			cancel()
			switch {
			case err != nil:
				last = fmt.Errorf("%s: %w", addr, err)
			case resp.NotLeader:
				if !answered {
					last = fmt.Errorf("%s: not leader", addr)
				}
				if resp.Leader != "" {
					todo = append([]string{resp.Leader}, todo...)
				}
			case resp.Error != "":
				last, answered = fmt.Errorf("%s: %s", addr, resp.Error), true
				if req.Op == OpJoin && joinRefusals.allow(addr+targetSep+req.ServerID) {
					// A refused join (the server at this member's address
					// still answers, a nonvoter catching up) is retried;
					// the operator sees why, once per interval.
					netLogger().Info("join request not granted yet, retrying", "leader", addr, "err", resp.Error)
				}
			default:
				return resp, nil
			}
		}
		netLogger().Debug("cluster request failed, retrying", "op", req.Op, "err", last)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// joinRefusals limits the joiner's log lines about refused join requests.
var joinRefusals logLimiter

var _ Forwarder = (*Client)(nil)

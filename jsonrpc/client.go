package jsonrpc

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/rpc2"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
)

// CallError is an error reply received by a Client: Raw is the "error"
// member as sent by the server.
type CallError struct{ Raw json.RawMessage }

func (e *CallError) Error() string { return "jsonrpc: error reply: " + string(e.Raw) }

// Value decodes the error member (numbers as json.Number).
func (e *CallError) Value() any {
	v, _ := decodeValue(e.Raw)
	return v
}

// NotifyFunc receives the notifications sent by the server. It runs on the
// client's read loop: it must not call Client.Call synchronously.
type NotifyFunc func(method string, params []any)

// Client is a small JSON-RPC client for tests, conformance checks and
// benchmarks. It answers the server's echo probes by itself.
type Client struct {
	rc   *rpc2.Client
	cd   *clientCodec
	done chan struct{}
	// probeFailed: closed by its Redialer's inactivity probe.
	probeFailed atomic.Bool
}

// ClientOption configures Dial.
type ClientOption func(*clientCodec)

// WithNotify sets the function that receives server notifications.
func WithNotify(fn NotifyFunc) ClientOption { return func(c *clientCodec) { c.notify = fn } }

// WithMaxMessageSize bounds received messages (default
// DefaultMaxMessageSize).
func WithMaxMessageSize(n int) ClientOption { return func(c *clientCodec) { c.max = n } }

// Dial connects to an active remote ("unix:PATH", "tcp:IP:PORT", or
// "ssl:IP:PORT" with WithTLS).
func Dial(remote string, opts ...ClientOption) (*Client, error) {
	r, err := ParseRemote(remote)
	if err != nil {
		return nil, err
	}
	if r.Passive {
		return nil, fmt.Errorf("%s: cannot dial a passive remote", remote)
	}
	var probe clientCodec
	for _, o := range opts {
		o(&probe)
	}
	if r.TLS && probe.tlsConfig == nil {
		return nil, fmt.Errorf("%s: %w", remote, errNoTLS)
	}
	conn, err := net.Dial(r.Network, r.Address)
	if err != nil {
		return nil, err
	}
	if r.TLS {
		tc := tls.Client(conn, probe.tlsConfig)
		if err := tc.Handshake(); err != nil {
			_ = conn.Close()
			return nil, err
		}
		conn = tc
	}
	return NewClient(conn, opts...), nil
}

// NewClient runs a client on an established connection.
func NewClient(conn net.Conn, opts ...ClientOption) *Client {
	cd := &clientCodec{conn: conn}
	for _, o := range opts {
		o(cd)
	}
	cd.lastRecv.Store(time.Now().UnixNano())
	cd.r = newReader(clientActivity{cd}, cd.max, nil)
	c := &Client{rc: rpc2.NewClientWithCodec(cd), cd: cd, done: make(chan struct{})}
	// Notifications are delivered in order on the read loop.
	c.rc.SetBlocking(true)
	c.rc.Handle(dispatchMethod, cd.handle)
	go func() {
		c.rc.Run()
		close(c.done)
	}()
	return c
}

// Call sends a request and waits for its reply. params is serialised with
// internal/cjson (use []any{} for no parameters). An error reply is
// returned as *CallError.
func (c *Client) Call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.rc.CallWithContext(ctx, method, params, &raw)
	var se rpc2.ServerError
	if errors.As(err, &se) {
		return nil, &CallError{Raw: json.RawMessage(se)}
	}
	if err != nil {
		return nil, err
	}
	return raw, nil
}

// Notify sends a notification (id null).
func (c *Client) Notify(method string, params any) error {
	return c.rc.Notify(method, params)
}

// Send writes raw bytes to the connection (for malformed-input tests).
func (c *Client) Send(b []byte) error {
	c.cd.wmu.Lock()
	defer c.cd.wmu.Unlock()
	_, err := c.cd.conn.Write(b)
	return err
}

// Close closes the connection.
func (c *Client) Close() error {
	err := c.cd.Close()
	<-c.done
	return err
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns, once Done is closed, the error that ended the reading of
// the connection: io.EOF when the peer closed it, nil when it was never
// read from. Before that it may return nil.
func (c *Client) Err() error {
	c.cd.emu.Lock()
	defer c.cd.emu.Unlock()
	return c.cd.readErr
}

// LastActivity returns when bytes were last received on the connection
// (when the client started if none were): C's reconnect activity, which
// an inactivity probe watches.
func (c *Client) LastActivity() time.Time { return time.Unix(0, c.cd.lastRecv.Load()) }

// clientActivity records the time of every successful read.
type clientActivity struct{ c *clientCodec }

func (a clientActivity) Read(p []byte) (int, error) {
	n, err := a.c.conn.Read(p)
	if n > 0 {
		a.c.lastRecv.Store(time.Now().UnixNano())
	}
	return n, err
}

type clientCodec struct {
	conn      net.Conn
	tlsConfig *tls.Config // WithTLS
	r         *reader
	dec       fastDecoder // used by ReadHeader only (rpc2's read loop)
	max       int
	notify    NotifyFunc
	cur       *message
	seq       uint64
	wmu       sync.Mutex
	once      sync.Once
	// lastRecv is the time of the last received bytes (unix ns).
	lastRecv atomic.Int64
	emu      sync.Mutex
	readErr  error // the error that ended reading (guarded by emu)
}

func (c *clientCodec) ReadHeader(req *rpc2.Request, resp *rpc2.Response) error {
	raw, _, err := c.r.next()
	if err != nil {
		c.emu.Lock()
		if c.readErr == nil {
			c.readErr = err
		}
		c.emu.Unlock()
		return err
	}
	v, err := decodeWith(&c.dec, raw)
	if err != nil {
		return err
	}
	m, err := parseMessage(v)
	if err != nil {
		return err
	}
	c.cur = m
	switch m.kind {
	case kindRequest:
		c.seq++
		req.Seq, req.Method = c.seq, dispatchMethod
	case kindNotify:
		req.Seq, req.Method = 0, dispatchMethod
	default:
		resp.Seq = math.MaxUint64 // matches no call
		if n, ok := m.id.(json.Number); ok {
			if u, err := strconv.ParseUint(string(n), 10, 64); err == nil {
				resp.Seq = u
			}
		}
		if m.kind == kindError {
			resp.Error = cjson.String(m.err)
		}
	}
	return nil
}

func (c *clientCodec) ReadRequestBody(body any) error {
	m := c.cur
	c.cur = nil
	if p, ok := body.(*any); ok && m != nil {
		*p = &inbound{method: m.method, params: m.params, id: m.id}
	}
	return nil
}

func (c *clientCodec) ReadResponseBody(body any) error {
	m := c.cur
	c.cur = nil
	if p, ok := body.(*json.RawMessage); ok && m != nil {
		*p = cjson.Marshal(m.result)
	}
	return nil
}

func (c *clientCodec) handle(_ *rpc2.Client, arg any, reply *any) error {
	in := arg.(*inbound)
	switch {
	case in.id == nil:
		if c.notify != nil {
			c.notify(in.method, in.params)
		}
	case in.method == "echo":
		*reply = &outbound{id: in.id, result: in.params}
	default:
		*reply = &outbound{id: in.id, err: &ErrorValue{Value: "unknown method"}}
	}
	return nil
}

func (c *clientCodec) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.conn.Write(b)
	return err
}

func (c *clientCodec) WriteRequest(r *rpc2.Request, body any) error {
	if r.Seq == 0 {
		return c.write(appendNotify(nil, r.Method, body))
	}
	return c.write(appendRequest(nil, r.Seq, r.Method, body))
}

func (c *clientCodec) WriteResponse(_ *rpc2.Response, body any) error {
	p, ok := body.(*any)
	if !ok || p == nil {
		return nil
	}
	out, ok := (*p).(*outbound)
	if !ok {
		return nil
	}
	if out.err != nil {
		return c.write(appendErrorReply(nil, out.id, out.err))
	}
	return c.write(appendReply(nil, out.id, out.result))
}

func (c *clientCodec) Close() error {
	var err error
	c.once.Do(func() { err = c.conn.Close() })
	return err
}

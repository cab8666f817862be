package loadgen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Client is a minimal JSON-RPC 1.0 client over one stream connection. It
// sends one request at a time and answers the server's "echo" probes. It
// is not safe for concurrent use.
type Client struct {
	conn   net.Conn
	w      *bufio.Writer
	dec    *json.Decoder
	nextID int64
	buf    []byte
}

// message is any JSON-RPC message, request or reply.
type message struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// Dial connects to a unix socket path.
func Dial(socket string, timeout time.Duration) (*Client, error) {
	c, err := net.DialTimeout("unix", socket, timeout)
	if err != nil {
		return nil, err
	}
	return NewClient(c), nil
}

// NewClient runs a client on an established connection (a TLS one, for
// instance).
func NewClient(c net.Conn) *Client {
	return &Client{
		conn: c,
		w:    bufio.NewWriterSize(c, 64<<10),
		dec:  json.NewDecoder(bufio.NewReaderSize(c, 64<<10)),
	}
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// SetDeadline bounds every following read and write.
func (c *Client) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// Call sends method with params (already-encoded JSON) and returns the raw
// result, or an error if the reply carries a non-null error or the
// connection fails. Notifications received meanwhile are dropped.
func (c *Client) Call(method string, params json.RawMessage) (json.RawMessage, error) {
	c.nextID++
	id := c.nextID
	b := c.buf[:0]
	b = append(b, `{"method":`...)
	b = strconv.AppendQuote(b, method)
	b = append(b, `,"params":`...)
	b = append(b, params...)
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, '}')
	c.buf = b
	if _, err := c.w.Write(b); err != nil {
		return nil, err
	}
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	for {
		var m message
		if err := c.dec.Decode(&m); err != nil {
			return nil, err
		}
		if m.Method != "" {
			if m.Method == "echo" && len(m.ID) > 0 && string(m.ID) != "null" {
				if err := c.reply(m.ID, m.Params); err != nil {
					return nil, err
				}
			}
			continue
		}
		if string(m.ID) != strconv.FormatInt(id, 10) {
			return nil, fmt.Errorf("reply id %s, want %d", m.ID, id)
		}
		if len(m.Error) > 0 && string(m.Error) != "null" {
			return nil, fmt.Errorf("rpc error: %s", m.Error)
		}
		return m.Result, nil
	}
}

func (c *Client) reply(id, result json.RawMessage) error {
	if len(result) == 0 {
		result = json.RawMessage("[]")
	}
	data, err := json.Marshal(map[string]json.RawMessage{
		"id": id, "result": result, "error": json.RawMessage("null"),
	})
	if err != nil {
		return err
	}
	if _, err := c.w.Write(data); err != nil {
		return err
	}
	return c.w.Flush()
}

// errOpFailed reports a transaction whose result holds an operation error.
var errOpFailed = errors.New("transaction failed")

// checkInsertResult verifies a transact result for a transaction of n
// inserts: n results each carrying a "uuid", and no "error" element.
func checkInsertResult(result json.RawMessage, n int) error {
	if bytes.Contains(result, []byte(`"error"`)) {
		if len(result) > 300 {
			result = result[:300]
		}
		return fmt.Errorf("%w: %s", errOpFailed, result)
	}
	if got := bytes.Count(result, []byte(`"uuid":`)); got != n {
		if len(result) > 300 {
			result = result[:300]
		}
		return fmt.Errorf("%w: %d uuids in result, want %d: %s", errOpFailed, got, n, result)
	}
	return nil
}

package unixctl

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/internal/fsmode"
)

// logger is looked up at each use so that a handler installed later with
// slog.SetDefault is honoured.
func logger() *slog.Logger { return slog.Default().With("module", "unixctl") }

// Handler runs a command. args excludes the command name. A nil error
// replies with the text; a non-nil error replies with err.Error() as an
// error.
type Handler = func(args []string) (string, error)

type command struct {
	usage    string
	hidden   bool
	min, max int
	fn       Handler
}

// RunDir is C's ovs_rundir() (fsmode.RunDir).
func RunDir() string { return fsmode.RunDir() }

// SocketPath resolves the --unixctl argument as C does: "" gives
// RUNDIR/PROGRAM.PID.ctl, a relative name is put in RUNDIR, an absolute path
// is used as is. "none" is returned unchanged (no socket).
func SocketPath(arg, program string) string {
	switch {
	case arg == "none":
		return arg
	case arg == "":
		return filepath.Join(RunDir(), fmt.Sprintf("%s.%d.ctl", program, os.Getpid()))
	case filepath.IsAbs(arg):
		return arg
	default:
		return filepath.Join(RunDir(), arg)
	}
}

// Server is a control socket with its command table.
type Server struct {
	path    string
	version string
	ln      net.Listener

	mu       sync.Mutex
	commands map[string]*command
	conns    map[net.Conn]struct{}
	closed   bool

	reqs   sync.WaitGroup // requests being handled
	connWG sync.WaitGroup

	// received and replied count the requests read from connections
	// and the replies written (C's unixctl_received and
	// unixctl_replied coverage counters).
	received, replied atomic.Uint64
}

// Stats returns the number of requests received on the socket and of
// replies sent so far (C's coverage counters unixctl_received and
// unixctl_replied).
func (s *Server) Stats() (received, replied uint64) {
	return s.received.Load(), s.replied.Load()
}

// New creates a server with the built-in commands "list-commands" and
// "version" (which replies with version) but no socket yet.
func New(version string) *Server {
	s := &Server{version: version, commands: make(map[string]*command), conns: make(map[net.Conn]struct{})}
	s.Register("list-commands", "", 0, 0, func([]string) (string, error) { return s.listCommands(), nil })
	s.Register("version", "", 0, 0, func([]string) (string, error) { return s.version, nil })
	return s
}

// Register adds a command shown by list-commands with the given usage.
// Registering an existing name again is ignored, as in C.
func (s *Server) Register(name, usage string, minArgs, maxArgs int, fn Handler) {
	s.register(name, usage, false, minArgs, maxArgs, fn)
}

// RegisterHidden adds a command that list-commands does not show.
func (s *Server) RegisterHidden(name string, minArgs, maxArgs int, fn Handler) {
	s.register(name, "", true, minArgs, maxArgs, fn)
}

func (s *Server) register(name, usage string, hidden bool, minArgs, maxArgs int, fn Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.commands[name]; ok {
		return
	}
	s.commands[name] = &command{usage: usage, hidden: hidden, min: minArgs, max: maxArgs, fn: fn}
}

func (s *Server) listCommands() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.commands))
	for n := range s.commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("The available commands are:\n")
	for _, n := range names {
		c := s.commands[n]
		if !c.hidden {
			fmt.Fprintf(&b, "  %-23s %s\n", n, c.usage)
		}
	}
	return b.String()
}

// Listen creates the socket at path (see SocketPath; "none" creates none)
// and starts serving in the background. A stale socket file is replaced.
func (s *Server) Listen(path string) error {
	if path == "none" {
		return nil
	}
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
	ln, err := fsmode.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("%s: could not initialize control socket (%w)", path, err)
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(true)
	}
	s.mu.Lock()
	s.path = path
	s.ln = ln
	s.mu.Unlock()
	go s.accept(ln)
	return nil
}

// Path returns the socket path ("" if not listening).
func (s *Server) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.path
}

func (s *Server) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.connWG.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

type request struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	ID     json.RawMessage `json:"id"`
}

func (s *Server) serveConn(c net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
		s.connWG.Done()
	}()
	dec := json.NewDecoder(bufio.NewReader(c))
	dec.UseNumber()
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				logger().Debug("control connection closed", "error", err)
			}
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		s.reqs.Add(1)
		s.mu.Unlock()
		s.received.Add(1)
		if len(req.ID) == 0 || string(req.ID) == "null" {
			// A notification: nothing to answer.
			s.reqs.Done()
			continue
		}
		text, err := s.Run(req.Method, req.Params)
		var id any
		d := json.NewDecoder(strings.NewReader(string(req.ID)))
		d.UseNumber()
		_ = d.Decode(&id)
		var reply map[string]any
		if err != nil {
			reply = map[string]any{"id": id, "error": terminate(err.Error())}
		} else {
			reply = map[string]any{"id": id, "result": terminate(text), "error": nil}
		}
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, werr := c.Write(cjson.Marshal(reply))
		if werr == nil {
			s.replied.Add(1)
		}
		s.reqs.Done()
		if werr != nil {
			return
		}
	}
}

func terminate(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return s + "\n"
	}
	return s
}

// Run executes a command as if received on the socket with the given raw
// JSON params (an array of strings) and returns its text or error.
func (s *Server) Run(method string, rawParams json.RawMessage) (string, error) {
	var params []any
	if len(rawParams) > 0 {
		d := json.NewDecoder(strings.NewReader(string(rawParams)))
		d.UseNumber()
		_ = d.Decode(&params)
	}
	s.mu.Lock()
	cmd := s.commands[method]
	s.mu.Unlock()
	if cmd == nil {
		return "", fmt.Errorf("\"%s\" is not a valid command (use \"list-commands\" to see a list of valid commands)", method)
	}
	if len(params) < cmd.min {
		return "", fmt.Errorf("\"%s\" command requires at least %d arguments", method, cmd.min)
	}
	if len(params) > cmd.max {
		return "", fmt.Errorf("\"%s\" command takes at most %d arguments", method, cmd.max)
	}
	args := make([]string, len(params))
	for i, p := range params {
		str, ok := p.(string)
		if !ok {
			return "", fmt.Errorf("\"%s\" command has non-string argument", method)
		}
		args[i] = str
	}
	logger().Debug(fmt.Sprintf("received request %s%s", method, cjson.String(params)))
	return cmd.fn(args)
}

// Close stops accepting connections, waits (bounded) for requests being
// handled to send their replies, then closes every connection and removes
// the socket. It must not be called from a command handler.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ln := s.ln
	s.mu.Unlock()
	var err error
	if ln != nil {
		err = ln.Close()
	}
	done := make(chan struct{})
	go func() { s.reqs.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.connWG.Wait()
	return err
}

package server

// State behind the server's own control commands (ovs-appctl
// ovsdb-server/*).

import (
	"fmt"
	"log/slog"
	"sync/atomic"
)

// controlState is the state of the control commands; its zero value is
// ready.
type controlState struct {
	// monitorCondDisabled is set by DisableMonitorCond, never cleared.
	monitorCondDisabled atomic.Bool
	// noTrim is the negation of C's trim_memory (on by default):
	// whether freed memory is returned to the system after compaction.
	noTrim atomic.Bool
}

// DisableMonitorCond makes the server answer "unknown method" to
// monitor_cond and monitor_cond_since from now on, as an OVS server older
// than 2.5 (C's ovsdb-server/disable-monitor-cond; it cannot be undone),
// then disconnects every client session so that clients reconnect and
// find out.
func (s *Server) DisableMonitorCond() {
	s.ctl.monitorCondDisabled.Store(true)
	s.Disconnect("user ran ovsdb-server/disable-monitor-cond")
}

// MonitorCondDisabled reports whether DisableMonitorCond was called.
func (s *Server) MonitorCondDisabled() bool { return s.ctl.monitorCondDisabled.Load() }

// Disconnect closes every client session, logging for each C's
// "NAME: disconnecting (REASON)" (module ovsdb_jsonrpc_server); clients
// reconnect by themselves. It is Reconnect with C's log lines.
func (s *Server) Disconnect(reason string) {
	l := s.opts.Logger
	if l == nil {
		l = slog.Default()
	}
	l = l.With("module", "ovsdb_jsonrpc_server")
	for _, ss := range s.rpc.Sessions() {
		l.Info(fmt.Sprintf("%s: disconnecting (%s)", ss.Name(), reason))
		_ = ss.Close()
	}
}

// SetTrimMemoryOnCompaction sets whether memory freed by a compaction is
// returned to the operating system (C's
// ovsdb-server/memory-trim-on-compaction, on by default).
func (s *Server) SetTrimMemoryOnCompaction(on bool) { s.ctl.noTrim.Store(!on) }

// TrimMemoryOnCompaction reports the SetTrimMemoryOnCompaction setting.
func (s *Server) TrimMemoryOnCompaction() bool { return !s.ctl.noTrim.Load() }

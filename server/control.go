package server

// State behind the server's own control commands (ovs-appctl
// ovsdb-server/*).

import (
	"fmt"
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
	s.disconnectAll("user ran ovsdb-server/disable-monitor-cond")
}

// MonitorCondDisabled reports whether DisableMonitorCond was called.
func (s *Server) MonitorCondDisabled() bool { return s.ctl.monitorCondDisabled.Load() }

// disconnectAll closes every client session, logging for each C's
// "NAME: disconnecting (REASON)" (C's ovsdb_jsonrpc_server_reconnect with
// force=true); clients reconnect by themselves.
func (s *Server) disconnectAll(reason string) {
	log := s.jsonrpcLog()
	for _, ss := range s.rpc.Sessions() {
		log.Info(fmt.Sprintf("%s: disconnecting (%s)", ss.Name(), reason))
		_ = ss.Close()
	}
}

// SetTrimMemoryOnCompaction sets whether memory freed by a compaction is
// returned to the operating system (C's
// ovsdb-server/memory-trim-on-compaction, on by default).
func (s *Server) SetTrimMemoryOnCompaction(on bool) { s.ctl.noTrim.Store(!on) }

// TrimMemoryOnCompaction reports the SetTrimMemoryOnCompaction setting.
func (s *Server) TrimMemoryOnCompaction() bool { return !s.ctl.noTrim.Load() }

// SetReadOnly makes every client session read-only (true) or leaves each
// to its remote's setting (false): their transactions refuse every
// operation that may write ("insert operation not allowed when database
// server is in read only mode") and lock, steal and unlock are refused,
// as C does on a backup server of active-backup replication
// (jsonrpc.Server.SetReadOnly). Reads, monitors and "convert" are served.
func (s *Server) SetReadOnly(b bool) { s.rpc.SetReadOnly(b) }

// ReadOnly reports the SetReadOnly setting.
func (s *Server) ReadOnly() bool { return s.rpc.ReadOnly() }

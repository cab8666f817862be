package server

// The live remotes of dbremotes.go: opening, reconfiguring and closing
// the listener or connection of one target.

import (
	"errors"
	"strings"
	"time"

	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
)

// openLive makes the live remote for target: a listener for punix:,
// ptcp: and pssl:, an active remote for unix:, tcp: and ssl: (and
// anything unparsable, which C also tries to connect to); pssl: and ssl:
// with the TLS configuration of SetTLS. A listener that cannot be opened
// is logged as C ("REMOTE: listen failed: CAUSE", rate-limited) and tried
// again at the next reconciliation.
func (s *Server) openLive(target string, o remoteOptions, literal bool) (*liveRemote, error) {
	st := &s.dbRemotes
	lr := &liveRemote{target: target, opts: o, readOnly: o.readOnly, role: o.role, dscp: o.dscp,
		sessions: map[*jsonrpc.Session]struct{}{}}
	kind, _, _ := strings.Cut(target, ":")
	switch kind {
	case "punix", "ptcp", "pssl":
		ln, err := jsonrpc.ListenTLS(target, s.tlsConfig(), s.log())
		if err != nil {
			// A socket error is logged at every attempt (rate-limited),
			// as C; a target that does not parse, once.
			var le *jsonrpc.ListenError
			if errors.As(err, &le) {
				if st.allow(&st.listenRL, 5, time.Second) {
					s.jsonrpcLog().Error(err.Error())
				}
			} else if st.warnOnce(target) {
				s.jsonrpcLog().Error(err.Error())
			}
			return nil, err
		}
		jsonrpc.SetListenerDSCP(ln, o.dscp)
		lr.ln = ln
	default:
		a, err := s.rpc.Connect(target, jsonrpc.ActiveOptions{
			MaxBackoff: o.maxBackoff, Probe: probeOption(o.probe), DSCP: o.dscp, Logger: s.opts.Logger, TLS: s.tlsConfig(),
			OnSession: func(ss *jsonrpc.Session) { s.liveSession(lr, ss) },
		})
		if err != nil {
			return nil, err
		}
		lr.act = a
	}
	st.mu.Lock()
	if st.stopped {
		st.mu.Unlock()
		s.closeLive(lr)
		return nil, errServerClosed
	}
	if st.live == nil {
		st.live = map[string]*liveRemote{}
	}
	st.live[target] = lr
	if lr.ln != nil {
		st.wg.Add(1)
	}
	st.mu.Unlock()
	if lr.ln != nil {
		go func() {
			defer st.wg.Done()
			_ = s.rpc.Serve(lr.ln, jsonrpc.ServeOptions{Name: target, Logger: s.jsonrpcLog(), Probe: probeOption(o.probe),
				OnSession: func(ss *jsonrpc.Session) { s.liveSession(lr, ss) }})
		}()
	}
	return lr, nil
}

// errServerClosed is AddRemote's error once the server is closing.
var errServerClosed = errors.New("server closed")

// probeOption is a probe interval as jsonrpc's options take it (negative:
// none).
func probeOption(p time.Duration) time.Duration {
	if p <= 0 {
		return -1
	}
	return p
}

// liveSession records a new session of lr and gives it lr's settings
// (probe, read-only, role), or closes it if lr is gone.
func (s *Server) liveSession(lr *liveRemote, ss *jsonrpc.Session) {
	st := &s.dbRemotes
	st.mu.Lock()
	if lr.closed {
		st.mu.Unlock()
		_ = ss.Close()
		return
	}
	lr.sessions[ss] = struct{}{}
	ss.SetProbeInterval(lr.opts.probe)
	ss.SetReadOnly(lr.readOnly)
	ss.SetRole(lr.role)
	st.mu.Unlock()
	ss.OnClose(func() {
		st.mu.Lock()
		delete(lr.sessions, ss)
		st.mu.Unlock()
	})
}

// setLiveOptions applies a target's current options to its live remote
// and sessions (C's ovsdb_jsonrpc_session_set_all_options: probe and
// backoff).
func (s *Server) setLiveOptions(lr *liveRemote, o remoteOptions) {
	st := &s.dbRemotes
	st.mu.Lock()
	old := lr.opts
	lr.opts = o
	var sessions []*jsonrpc.Session
	if old.probe != o.probe {
		for ss := range lr.sessions {
			sessions = append(sessions, ss)
		}
	}
	st.mu.Unlock()
	for _, ss := range sessions {
		ss.SetProbeInterval(o.probe)
	}
	if lr.act != nil {
		if old.probe != o.probe {
			lr.act.SetProbe(probeOption(o.probe))
		}
		if old.maxBackoff != o.maxBackoff {
			lr.act.SetMaxBackoff(o.maxBackoff)
		}
	}
}

// closeLive stops a live remote and closes its sessions.
func (s *Server) closeLive(lr *liveRemote) {
	st := &s.dbRemotes
	st.mu.Lock()
	lr.closed = true
	sessions := make([]*jsonrpc.Session, 0, len(lr.sessions))
	for ss := range lr.sessions {
		sessions = append(sessions, ss)
	}
	st.mu.Unlock()
	if lr.ln != nil {
		_ = lr.ln.Close()
	}
	if lr.act != nil {
		_ = lr.act.Close()
	}
	for _, ss := range sessions {
		_ = ss.Close()
	}
}

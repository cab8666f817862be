package server

import (
	"context"
	"errors"

	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
	"github.com/ovsdb-go/ovsdb-server/monitor"
)

// registerMonitorMethods wires the monitor methods into the JSON-RPC
// server and hooks the built-in "transact" so that the updates caused by a
// session's own commit are written before the transact reply.
func (s *Server) registerMonitorMethods() {
	create := func(method string, v monitor.Version) jsonrpc.Method {
		return jsonrpc.Method{Handler: func(_ context.Context, ss *jsonrpc.Session, params []any) (any, error) {
			if v != monitor.V1 && s.ctl.monitorCondDisabled.Load() {
				// After ovsdb-server/disable-monitor-cond, C knows
				// neither monitor_cond nor monitor_cond_since.
				return nil, &jsonrpc.ErrorValue{Value: "unknown method"}
			}
			db, err := s.rpc.LookupDB(method, params)
			if err != nil {
				return nil, err
			}
			e := db.Engine()
			if e == nil {
				return nil, errors.New("database vanished")
			}
			return monErr(s.mon.Create(ss, e, v, params))
		}}
	}
	// C writes a session's pending monitor updates before any reply: so
	// does every reply here, for the commits made before it.
	s.rpc.SetBeforeReply(func(ss *jsonrpc.Session) { s.mon.Flush(ss) })
	// The session's own commit is among them: its updates are queued
	// before the transact reply.
	s.rpc.SetAfterTransact(func(ss *jsonrpc.Session, db jsonrpc.Database) {
		if e := db.Engine(); e != nil {
			s.mon.Sync(ss, e)
		}
	})
	s.rpc.Register("monitor", create("monitor", monitor.V1))
	s.rpc.Register("monitor_cond", create("monitor_cond", monitor.V2))
	s.rpc.Register("monitor_cond_since", create("monitor_cond_since", monitor.V3))
	s.rpc.Register("monitor_cond_change", jsonrpc.Method{Handler: func(_ context.Context, ss *jsonrpc.Session, params []any) (any, error) {
		return monErr(s.mon.CondChange(ss, params))
	}})
	s.rpc.Register("monitor_cancel", jsonrpc.Method{Handler: func(_ context.Context, ss *jsonrpc.Session, params []any) (any, error) {
		return monErr(s.mon.Cancel(ss, params))
	}})
}

func monErr(res any, err error) (any, error) {
	var se monitor.StringError
	if errors.As(err, &se) {
		return nil, &jsonrpc.ErrorValue{Value: string(se)}
	}
	return res, err
}

// Monitors returns the monitor manager (to cancel the monitors of a
// database: Monitors().CancelDatabase(name)).
func (s *Server) Monitors() *monitor.Manager { return s.mon }

// MonitorCount returns the number of active monitors (memory/show).
func (s *Server) MonitorCount() int { return s.mon.Count() }

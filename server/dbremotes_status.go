package server

// The status of the remotes written to the rows they were read from
// (C's update_remote_status), every statusInterval.

import (
	"context"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/chash"
	"github.com/ovsdb-go/ovsdb-server/jsonrpc"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// remoteStatus is C's ovsdb_jsonrpc_server_get_remote_status as
// update_remote_row writes it: for a listener, bound_port (TCP), the
// number of connections when more than one, and, as C leaves them zero,
// sec_since_connect and sec_since_disconnect "0"; for an active remote,
// the reconnection state, the times since the last connection and
// disconnection and the locks of its session; for a target that is not
// served (listen failed), C's zeroed status.
func (s *Server) remoteStatus(target string) (bool, map[string]string) {
	st := &s.dbRemotes
	st.mu.Lock()
	lr := st.live[target]
	var n int
	var ln net.Listener
	var act *jsonrpc.Active
	if lr != nil {
		n, ln, act = len(lr.sessions), lr.ln, lr.act
	}
	st.mu.Unlock()
	m := map[string]string{}
	if act == nil {
		m["sec_since_connect"] = "0"
		m["sec_since_disconnect"] = "0"
		if ln == nil {
			return false, m
		}
		if a, ok := ln.Addr().(*net.TCPAddr); ok && a.Port != 0 {
			m["bound_port"] = strconv.Itoa(a.Port)
		}
		if n > 1 {
			m["n_connections"] = strconv.Itoa(n)
		}
		return n > 0, m
	}
	as := act.Status()
	m["state"] = as.State
	if as.SinceConnect >= 0 {
		m["sec_since_connect"] = strconv.FormatInt(int64(as.SinceConnect/time.Second), 10)
	}
	if as.SinceDisconnect >= 0 {
		m["sec_since_disconnect"] = strconv.FormatInt(int64(as.SinceDisconnect/time.Second), 10)
	}
	if as.Session != nil {
		held, waiting, lost := s.locks.Status(as.Session)
		for key, names := range map[string][]string{"locks_held": held, "locks_waiting": waiting, "locks_lost": lost} {
			if len(names) > 0 {
				m[key] = strings.Join(chash.Order(names...), " ")
			}
		}
	}
	return as.Connected, m
}

// updateRemoteStatus is C's update_remote_status: for every database
// that is not clustered, the rows that db: remotes refer to get the
// status of their target in their is_connected and status columns (each
// only if the table has it, with C's type), in one transaction, made only
// if something changed. A row without a string target is left alone.
func (s *Server) updateRemoteStatus(ctx context.Context) {
	type rowRef struct {
		ts     *schema.Table
		id     schema.UUID
		target string
		conn   *schema.Column // nil: no such column
		status *schema.Column
		oldC   schema.Datum
		oldS   schema.Datum
	}
	byDB := map[string][]rowRef{}
	seen := map[schema.UUID]bool{}
	var dbs []string
	for _, name := range s.configuredRemotes() {
		if !strings.HasPrefix(name, "db:") {
			continue
		}
		r, err := s.parseDBRemote(name)
		if err != nil || r.dbName == "_Server" || s.Model(r.dbName) == "clustered" {
			continue
		}
		ref := r.refTable()
		if ref == nil {
			continue
		}
		conn := ref.ByName["is_connected"]
		if conn != nil && (conn.Type.Key.Type != schema.TypeBoolean || conn.Type.Value != nil || conn.Type.Max != 1) {
			conn = nil
		}
		status := ref.ByName["status"]
		if status != nil && (status.Type.Key.Type != schema.TypeString || status.Type.Value == nil ||
			status.Type.Value.Type != schema.TypeString || status.Type.Max != schema.Unlimited) {
			status = nil
		}
		r.db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
			for _, row := range sortedRows(tables[r.table.Name]) {
				for _, k := range row.Field(r.column.Index).Keys {
					id := k.(schema.UUID)
					rr := tables[ref.Name][id]
					if rr == nil || seen[id] {
						continue
					}
					target, ok := readScalar(ref, rr, "target", schema.TypeString).(string)
					if !ok {
						continue
					}
					seen[id] = true
					rf := rowRef{ts: ref, id: id, target: target, conn: conn, status: status}
					if conn != nil {
						rf.oldC = rr.Field(conn.Index)
					}
					if status != nil {
						rf.oldS = rr.Field(status.Index)
					}
					if byDB[r.dbName] == nil {
						dbs = append(dbs, r.dbName)
					}
					byDB[r.dbName] = append(byDB[r.dbName], rf)
				}
			}
		})
	}
	for _, name := range dbs {
		var ops []any
		for _, rf := range byDB[name] {
			connected, status := s.remoteStatus(rf.target)
			row := map[string]any{}
			if rf.conn != nil && !rf.oldC.Equal(schema.NewScalar(connected)) {
				row["is_connected"] = connected
			}
			if rf.status != nil && !sameStatus(rf.oldS, status) {
				pairs := make([]any, 0, len(status))
				keys := make([]string, 0, len(status))
				for k := range status {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					pairs = append(pairs, []any{k, status[k]})
				}
				row["status"] = []any{"map", pairs}
			}
			if len(row) == 0 {
				continue
			}
			ops = append(ops, map[string]any{
				"op": "update", "table": rf.ts.Name, "row": row,
				"where": []any{[]any{"_uuid", "==", []any{"uuid", rf.id.String()}}},
			})
		}
		if len(ops) == 0 {
			continue
		}
		db := s.Database(name)
		if db == nil {
			continue
		}
		res := db.Transact(ctx, ops, ovsdb.TransactOptions{})
		for _, r := range res {
			m, _ := r.(map[string]any)
			if e, ok := m["error"].(string); ok {
				if st := &s.dbRemotes; st.allow(&st.statusRL, 1, time.Second) {
					msg := e
					if d, _ := m["details"].(string); d != "" {
						msg += ": " + d
					}
					s.log().Error("Failed to update remote status: " + msg)
				}
				break
			}
		}
	}
}

// sameStatus reports whether the status column's datum d holds exactly m.
func sameStatus(d schema.Datum, m map[string]string) bool {
	if len(d.Keys) != len(m) {
		return false
	}
	for i, k := range d.Keys {
		if v, ok := m[k.(string)]; !ok || v != d.Values[i].(string) {
			return false
		}
	}
	return true
}

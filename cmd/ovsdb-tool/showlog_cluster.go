package main

// show-log of clustered database files: C's files as C prints them
// (do_show_log_cluster), and ours (storage/raftstore) in the same layout
// where the two formats correspond; storage/raftstore/DESIGN.md
// ("ovsdb-tool show-log") describes ours.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/internal/chash"
	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/internal/standalone"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/raft"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage"
	"github.com/ovsdb-go/ovsdb-server/storage/raftstore"
)

// showLogC prints the records of C's clustered file l as C does.
func (t *tool) showLogC(l *storage.Log) error {
	w := t.stdout
	names := map[string]string{}
	var s *schema.DatabaseSchema
	for i := 0; ; i++ {
		raw, err := l.ReadRaw()
		if err != nil {
			return err
		}
		if raw == nil {
			return nil
		}
		fmt.Fprintf(w, "record %d:\n", i)
		ordered, derr := decodeOrdered(raw)
		if derr != nil {
			return fatalf("%s: %v", l.Path(), derr)
		}
		js := plain(ordered)
		if i == 0 {
			var h *cHeader
			if h, err = parseCHeader(js); err == nil {
				s, err = t.printCHeader(w, h, ordered, s, names)
			}
		} else {
			var r *cRecord
			if r, err = parseCRecord(js); err == nil {
				s, err = t.printCRecord(w, r, ordered, s, names)
			}
		}
		if err != nil {
			if _, ok := err.(*exitError); ok {
				return err
			}
			fmt.Fprintln(w, errText(err))
		}
		fmt.Fprintln(w)
	}
}

// printServers is C's print_servers: " NAME: SID(ADDRESS), ...", sorted by
// server id.
func printServers(w io.Writer, name string, servers map[string]any) {
	if servers == nil {
		return
	}
	ids := make([]string, 0, len(servers))
	for id := range servers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintf(w, " %s: ", name)
	for i, id := range ids {
		if i > 0 {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprintf(w, "%.4s(%s)", id, cjson.Marshal(servers[id]))
	}
	fmt.Fprintln(w)
}

// printData is C's print_data: data is [schema or null, transaction].
func (t *tool) printData(w io.Writer, prefix string, data any, s *schema.DatabaseSchema,
	names map[string]string) (*schema.DatabaseSchema, error) {
	if data == nil {
		return s, nil
	}
	a, ok := data.([]any)
	if !ok || len(a) != 2 {
		fmt.Fprintln(w, " ***invalid data***")
		return s, nil
	}
	if a[0] != nil {
		ns, err := schema.ParseSchemaBytes(cjson.Marshal(plain(a[0])))
		if err != nil {
			return s, err
		}
		fmt.Fprintf(w, " %sschema: \"%s\", version=\"%s\", cksum=\"%s\"\n", prefix, ns.Name, ns.Version, ns.Cksum)
		s = ns
	}
	t.printChangeRecord(w, a[1], s, names)
	return s, nil
}

// member returns the member name of an ordered object, or nil.
func member(v any, name string) any {
	if o, ok := v.(*object); ok {
		return o.vals[name]
	}
	return nil
}

func (t *tool) printCHeader(w io.Writer, h *cHeader, ordered any, s *schema.DatabaseSchema,
	names map[string]string) (*schema.DatabaseSchema, error) {
	fmt.Fprintf(w, " name: \"%s'\n", h.name)
	fmt.Fprintf(w, " local address: \"%s\"\n", h.local)
	fmt.Fprintf(w, " server_id: %s\n", sidPrefix(h.sid))
	if !h.cid.IsZero() {
		fmt.Fprintf(w, " cluster_id: %s\n", sidPrefix(h.cid))
	}
	if h.joining {
		// C's sset iterates in hash order.
		var text []string
		if ra, ok := member(ordered, "remote_addresses").([]any); ok {
			for _, a := range ra {
				if s, ok := a.(string); ok && s != h.local {
					text = append(text, s)
				}
			}
		}
		fmt.Fprint(w, " remote_addresses:")
		for _, a := range chash.Order(text...) {
			fmt.Fprintf(w, " %s", a)
		}
		fmt.Fprintln(w)
	}
	if h.snapIndex != 0 {
		fmt.Fprintf(w, " prev_index: %d\n", h.snapIndex)
		fmt.Fprintf(w, " prev_term: %d\n", h.snap.term)
		printServers(w, "prev_servers", h.snap.servers)
		if !h.snap.eid.IsZero() {
			fmt.Fprintf(w, " prev_eid: %s\n", sidPrefix(h.snap.eid))
		}
		if h.snapHasData {
			return t.printData(w, "prev_", member(ordered, "prev_data"), s, names)
		}
	}
	return s, nil
}

func (t *tool) printCRecord(w io.Writer, r *cRecord, ordered any, s *schema.DatabaseSchema,
	names map[string]string) (*schema.DatabaseSchema, error) {
	if r.hasComment {
		fmt.Fprintf(w, " comment: \"%s\"\n", r.comment)
	}
	if r.term != 0 {
		fmt.Fprintf(w, " term: %d\n", r.term)
	}
	switch r.typ {
	case cRecEntry:
		fmt.Fprintf(w, " index: %d\n", r.index)
		printServers(w, "servers", r.entry.servers)
		if !r.entry.eid.IsZero() {
			fmt.Fprintf(w, " eid: %s\n", sidPrefix(r.entry.eid))
		}
		return t.printData(w, "", member(ordered, "data"), s, names)
	case cRecVote:
		fmt.Fprintf(w, " vote: %s\n", sidPrefix(r.sid))
	case cRecNote:
		fmt.Fprintf(w, " note: \"%s\"\n", r.note)
	case cRecCommitIndex:
		fmt.Fprintf(w, " commit_index: %d\n", r.commitIndex)
	case cRecLeader:
		fmt.Fprintf(w, " leader: %s\n", sidPrefix(r.sid))
	}
	return s, nil
}

// showLogOurs prints one of our clustered files: record 0 is the
// metadata and Raft's stable state, record 1 the newest snapshot (C's
// header "prev_" fields), then one record per log entry. The log's
// transactions are replayed on the snapshot to show what they changed,
// as C's records hold it.
func (t *tool) showLogOurs(path string) error {
	st, err := raftstore.OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer st.Close()
	w := t.stdout
	m := st.Meta()
	stable, err := st.Stable()
	if err != nil {
		return err
	}
	snaps, torn, err := st.Snapshots()
	if err != nil {
		return fatalf("%s: %v", path, err)
	}
	names := map[string]string{}

	fmt.Fprintln(w, "record 0:")
	fmt.Fprintf(w, " name: \"%s\"\n", m.Name)
	fmt.Fprintf(w, " local address: \"%s\"\n", m.LocalAddress)
	fmt.Fprintf(w, " server_id: %s\n", sidPrefix(m.ServerID))
	if !m.ClusterID.IsZero() {
		fmt.Fprintf(w, " cluster_id: %s\n", sidPrefix(m.ClusterID))
	}
	if m.Joining() {
		fmt.Fprintf(w, " remote_addresses: %s\n", strings.Join(m.RemoteAddresses, " "))
	}
	if m.ElectionTimerMS != 0 {
		fmt.Fprintf(w, " election_timer: %d\n", m.ElectionTimerMS)
	}
	if m.Left {
		fmt.Fprintln(w, " left: the server left the cluster")
	}
	if stable.CurrentTerm != 0 {
		fmt.Fprintf(w, " term: %d\n", stable.CurrentTerm)
	}
	if stable.LastVoteTerm != 0 {
		fmt.Fprintf(w, " vote: \"%s\" in term %d\n", stable.LastVoteCand, stable.LastVoteTerm)
	}
	if a := stable.Applied; a.Index != 0 {
		fmt.Fprintf(w, " applied: index %d, term %d\n", a.Index, a.Term)
	}
	if a, ok := st.SideApplied(); ok {
		fmt.Fprintf(w, " applied (side file): index %d, term %d\n", a.Index, a.Term)
	}
	var s *schema.DatabaseSchema
	if len(m.Schema) > 0 {
		if s, err = schema.ParseSchemaBytes(m.Schema); err != nil {
			return err
		}
		fmt.Fprintf(w, " schema: \"%s\", version=\"%s\", cksum=\"%s\"\n", s.Name, s.Version, s.Cksum)
	}
	if torn > 0 {
		fmt.Fprintf(w, " interrupted snapshots: %d\n", torn)
	}
	fmt.Fprintln(w)
	if s == nil {
		return nil // joining: no schema, no data yet
	}

	fsm := raft.NewFSM(s, 0)
	fsm.SetConvert(standalone.ConvertDatabaseWith)
	var snapIndex uint64
	rec := 1
	if len(snaps) > 0 {
		sn := &snaps[0]
		snapIndex = sn.Meta.Index
		fmt.Fprintf(w, "record %d:\n", rec)
		rec++
		fmt.Fprintf(w, " snapshot: %s\n", sn.Meta.ID)
		fmt.Fprintf(w, " prev_index: %d\n", sn.Meta.Index)
		fmt.Fprintf(w, " prev_term: %d\n", sn.Meta.Term)
		printServers(w, "prev_servers", configMap(sn.Meta.Configuration))
		fmt.Fprintf(w, " prev_size: %d\n", sn.Meta.Size)
		if len(snaps) > 1 {
			var older []string
			for _, o := range snaps[1:] {
				older = append(older, fmt.Sprintf("%s (index %d)", o.Meta.ID, o.Meta.Index))
			}
			fmt.Fprintf(w, " older snapshots: %s\n", strings.Join(older, ", "))
		}
		_, rc, err := st.SnapshotStore().Open(sn.Meta.ID)
		if err == nil {
			err = fsm.Restore(rc)
		}
		if err != nil {
			fmt.Fprintf(w, " error: %v\n", err)
		} else {
			db := fsm.Database()
			ds := db.Schema()
			fmt.Fprintf(w, " prev_schema: \"%s\", version=\"%s\", cksum=\"%s\"\n", ds.Name, ds.Version, ds.Cksum)
			txn := snapshotJSON(db, "", false)
			// Snapshot ids end with the time they were taken (ns).
			if i := strings.LastIndexByte(sn.Meta.ID, '-'); i >= 0 {
				if ns, err := strconv.ParseInt(sn.Meta.ID[i+1:], 10, 64); err == nil && ns > 0 {
					txn["_date"] = json.Number(strconv.FormatInt(ns/1e6, 10))
				}
			}
			t.printChangeRecord(w, toOrdered(txn), ds, names)
		}
		fmt.Fprintln(w)
	}

	return st.ForEachLog(func(l *hraft.Log, derr error) error {
		fmt.Fprintf(w, "record %d:\n", rec)
		rec++
		if derr != nil {
			fmt.Fprintf(w, " index: %d\n error: %v\n\n", l.Index, derr)
			return nil
		}
		fmt.Fprintf(w, " term: %d\n", l.Term)
		fmt.Fprintf(w, " index: %d\n", l.Index)
		switch l.Type {
		case hraft.LogCommand:
		case hraft.LogConfiguration:
			cfg, err := decodeConfiguration(l.Data)
			if err != nil {
				fmt.Fprintf(w, " error: %v\n", err)
			} else {
				printServers(w, "servers", configMap(cfg))
			}
		default:
			fmt.Fprintf(w, " type: %s\n", strings.ToLower(strings.TrimPrefix(l.Type.String(), "Log")))
		}
		if l.Type == hraft.LogCommand {
			if l.Index <= snapIndex {
				fmt.Fprintln(w, " (in the snapshot)")
			}
			t.showCommand(w, fsm, l, l.Index > snapIndex, names)
		}
		fmt.Fprintln(w)
		return nil
	})
}

// showCommand prints the transactions of a command entry: for each, its
// id (C's eid), the proposer's time and the transaction's comment, and
// with -m what it changed (applied to fsm when apply is true).
func (t *tool) showCommand(w io.Writer, fsm *raft.FSM, l *hraft.Log, apply bool, names map[string]string) {
	entries, err := raft.DecodeLogData(l.Data)
	if err != nil {
		fmt.Fprintf(w, " error: %v\n", err)
		return
	}
	changes := map[schema.UUID]*ovsdb.ChangeSet{}
	var failed map[schema.UUID]string
	if apply {
		db := fsm.Database()
		stop := db.Observe(nil, func(id schema.UUID, cs *ovsdb.ChangeSet) { changes[id] = cs })
		res := fsm.Apply(l)
		stop()
		failed = applyErrors(entries, res)
	}
	if len(entries) > 1 {
		fmt.Fprintf(w, " transactions: %d\n", len(entries))
	}
	for _, e := range entries {
		fmt.Fprintf(w, " eid: %s\n", sidPrefix(e.TxnID))
		s := fsm.Database().Schema()
		if e.Schema != nil {
			if ns, err := schema.ParseSchemaBytes(e.Schema); err == nil {
				fmt.Fprintf(w, " schema: \"%s\", version=\"%s\", cksum=\"%s\"\n", ns.Name, ns.Version, ns.Cksum)
			}
		}
		txn := map[string]any{"_date": json.Number(fmt.Sprint(e.TimeMS))}
		if cs := changes[e.TxnID]; cs != nil {
			for k, v := range changeSetJSON(s, cs) {
				txn[k] = v
			}
		}
		var b bytes.Buffer
		t.printChangeRecord(&b, toOrdered(txn), s, names)
		if msg := failed[e.TxnID]; msg != "" {
			fmt.Fprintf(&b, " (%s)", msg)
		}
		if b.Len() > 0 {
			w.Write(b.Bytes())
			if !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
				fmt.Fprintln(w)
			}
		}
	}
}

// applyErrors names the transactions of a command entry that changed
// nothing because they failed.
func applyErrors(entries []*raft.Entry, res any) map[schema.UUID]string {
	out := map[schema.UUID]string{}
	var rs []*raft.ApplyResult
	switch r := res.(type) {
	case *raft.ApplyResult:
		rs = []*raft.ApplyResult{r}
	case []*raft.ApplyResult:
		rs = r
	}
	for i, r := range rs {
		if i >= len(entries) || r == nil {
			continue
		}
		switch {
		case r.Err != nil:
			out[entries[i].TxnID] = "not applied: " + r.Err.Error()
		case r.Duplicate:
			out[entries[i].TxnID] = "duplicate"
		case r.Blocked:
			out[entries[i].TxnID] = "blocked"
		default:
			for _, op := range r.Reply {
				if m, ok := op.(map[string]any); ok && m["error"] != nil {
					out[entries[i].TxnID] = fmt.Sprintf("failed: %v", m["error"])
					break
				}
			}
		}
	}
	return out
}

// changeSetJSON is a change set as C's transaction record holds it: per
// table, per row, null (deleted), the non-default columns (inserted) or
// the changed columns as diffs ("_is_diff"), with the comment.
func changeSetJSON(s *schema.DatabaseSchema, cs *ovsdb.ChangeSet) map[string]any {
	txn := map[string]any{}
	diff := false
	for tname, rows := range cs.Tables {
		ts := s.Table(tname)
		if ts == nil {
			continue
		}
		tj := map[string]any{}
		for id, rc := range rows {
			switch {
			case rc.New == nil && rc.Old == nil:
				continue
			case rc.New == nil:
				tj[id.String()] = nil
				continue
			}
			row := map[string]any{}
			for _, c := range ts.Columns {
				if c.Index == schema.ColUUID || !c.Persistent {
					continue
				}
				nd := rc.New.Field(c.Index)
				if rc.Old == nil {
					if !nd.Equal(schema.DefaultDatum(&c.Type)) {
						row[c.Name] = schema.DatumToJSON(&c.Type, nd)
					}
					continue
				}
				if od := rc.Old.Field(c.Index); !od.Equal(nd) {
					row[c.Name] = schema.DatumToJSON(&c.Type, schema.DatumDiff(&c.Type, od, nd))
					diff = true
				}
			}
			if rc.Old != nil && len(row) == 0 {
				continue
			}
			tj[id.String()] = row
		}
		if len(tj) > 0 {
			txn[tname] = tj
		}
	}
	if diff {
		txn["_is_diff"] = true
	}
	if cs.Comment != "" {
		txn["_comment"] = cs.Comment
	}
	return txn
}

// toOrdered turns decoded JSON into *object values with sorted members.
func toOrdered(v any) any {
	switch x := v.(type) {
	case map[string]any:
		o := &object{vals: make(map[string]any, len(x))}
		for k, e := range x {
			o.keys = append(o.keys, k)
			o.vals[k] = toOrdered(e)
		}
		sort.Strings(o.keys)
		return o
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = toOrdered(e)
		}
		return a
	}
	return v
}

// configMap is a Raft configuration as C's servers object: server id ->
// address.
func configMap(cfg hraft.Configuration) map[string]any {
	m := make(map[string]any, len(cfg.Servers))
	for _, srv := range cfg.Servers {
		m[string(srv.ID)] = string(srv.Address)
	}
	return m
}

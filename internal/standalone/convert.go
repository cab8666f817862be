package standalone

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// Comment of the snapshot record written by an online conversion (as C).
const convertComment = "converted by ovsdb-server"

// ConvertDatabase makes a new in-memory database with schema ns holding
// src's rows converted as C's ovsdb_convert does: tables and columns
// absent from ns are dropped, new columns take their defaults, each kept
// value is re-parsed with its new type (so a value that no longer fits
// is an error), row UUIDs are kept, and the result must pass the usual
// commit checks (references, indexes, limits). tables are the rows of
// the source database (from Database.Read), whose schema is old.
func ConvertDatabase(tables map[string]map[schema.UUID]*ovsdb.Row, old, ns *schema.DatabaseSchema) (*ovsdb.Database, error) {
	return ConvertDatabaseWith(tables, old, ns, ovsdb.TransactOptions{})
}

// ConvertDatabaseWith is ConvertDatabase committing the converted rows as
// one transaction executed with opts. The rows are inserted in a fixed
// order (tables by name, rows by UUID), so with opts.NewUUID and
// opts.TxnID set every caller converting the same rows gets the same
// database, _version columns and last transaction id included: a Raft
// member applying a conversion entry (raft.Config.Convert) computes what
// every other member computes.
func ConvertDatabaseWith(tables map[string]map[schema.UUID]*ovsdb.Row, old, ns *schema.DatabaseSchema,
	opts ovsdb.TransactOptions) (*ovsdb.Database, error) {
	ops := []any{}
	names := make([]string, 0, len(tables))
	for tname := range tables {
		names = append(names, tname)
	}
	sort.Strings(names)
	for _, tname := range names {
		rows := tables[tname]
		ots, nts := old.Table(tname), ns.Table(tname)
		if ots == nil || nts == nil {
			continue
		}
		type colPair struct{ o, n *schema.Column }
		var cols []colPair
		for _, oc := range ots.Columns[2:] {
			if nc := nts.ByName[oc.Name]; nc != nil && nc.Index >= 2 {
				cols = append(cols, colPair{oc, nc})
			}
		}
		ids := make([]schema.UUID, 0, len(rows))
		for id := range rows {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
		for _, id := range ids {
			r := rows[id]
			row := make(map[string]any, len(cols))
			for _, cp := range cols {
				js := schema.DatumToJSON(&cp.o.Type, r.Field(cp.o.Index))
				// C's ovsdb_datum_convert: the error keeps its syntax.
				if _, err := schema.ParseDatum(&cp.n.Type, decodeJSON(js), nil); err != nil {
					return nil, err
				}
				row[cp.n.Name] = js
			}
			ops = append(ops, map[string]any{"op": "insert", "table": tname, "uuid": id.String(), "row": row})
		}
	}
	// The engine wants decoded JSON (json.Number for numbers).
	decoded, _ := decodeJSON(ops).([]any)
	db := ovsdb.NewDatabase(ns, nil)
	res := db.Transact(context.Background(), decoded, opts)
	for _, r := range res {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		if tag, ok := m["error"].(string); ok {
			e := &ovsdberr.Error{Tag: tag}
			if d, ok := m["details"].(string); ok {
				e.Details = d
			}
			if s, ok := m["syntax"]; ok {
				e.Syntax = s
			}
			return nil, e
		}
	}
	return db, nil
}

// Convert converts the database online to schema ns (see ConvertDatabase)
// and atomically rewrites the file as ns plus one record holding every
// converted row, comment "converted by ovsdb-server". It returns a DB
// serving the converted database from the same file; d is retired: its
// engine refuses further commits and Close only detaches it. Writers of
// d are blocked while the conversion runs.
func (d *DB) Convert(ns *schema.DatabaseSchema) (*DB, error) {
	d.compactMu.Lock()
	defer d.compactMu.Unlock()
	var nd *DB
	var err error
	// No transaction pending or executing while the file is replaced (so
	// no WriteBatch runs and d.mu is free).
	d.db.Exclusive(func(tables map[string]map[schema.UUID]*ovsdb.Row) ovsdb.Committer {
		var ndb *ovsdb.Database
		ndb, err = ConvertDatabase(tables, d.schema, ns)
		if err != nil {
			return nil
		}
		rows := map[string][]*ovsdb.Row{}
		ndb.Read(func(nt map[string]map[schema.UUID]*ovsdb.Row) {
			for name, t := range nt {
				for _, r := range t {
					rows[name] = append(rows[name], r)
				}
			}
		})
		data := append(appendSnapshot(nil, ns, rows, convertComment, d.now()), '\n')
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.closed || d.closing {
			err = ovsdberr.New(ovsdberr.TagIOError, "%s: database is closed", d.path)
			return nil
		}
		if err = d.log.Replace(schemaRecord(ns), data); err != nil {
			return nil
		}
		nd = &DB{path: d.path, schema: ns, db: ndb, log: d.log, nRead: 2, now: d.now}
		nd.scheduleNext(false)
		ndb.SetCommitter(nd)
		// d no longer owns the file.
		d.closed, d.closing = true, true
		d.log = nil
		return closedCommitter{d.path}
	})
	if err != nil {
		return nil, err
	}
	return nd, nil
}

// decodeJSON round-trips v through its C serialisation so that it looks
// like received JSON (numbers as json.Number).
func decodeJSON(v any) any {
	dec := json.NewDecoder(bytes.NewReader(cjson.Marshal(v)))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil
	}
	return out
}

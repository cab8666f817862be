package standalone

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"

	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// isComposite reports whether a type may hold more than one element; only
// those columns are written as diffs (C's ovsdb_type_is_composite).
func isComposite(t *schema.Type) bool { return t.Max > 1 }

func isDefault(c *schema.Column, d schema.Datum) bool {
	return d.Equal(schema.DefaultDatum(&c.Type))
}

// applyDiff applies a file record's diff to a (schema.ApplyDiff).
func applyDiff(t *schema.Type, a, diff schema.Datum) (schema.Datum, error) {
	return schema.ApplyDiff(t, a, diff)
}

// rowJSON returns the file form of one row change, or nil when nothing
// persistent changed (C's ovsdb_file_txn_add_row). Inserts list the
// non-default persistent columns, modifications the changed persistent
// columns as diffs, deletes are JSON null.
func rowJSON(ts *schema.Table, rc *ovsdb.RowChange) (any, bool) {
	if rc.New == nil {
		return nil, rc.Old != nil
	}
	row := map[string]any{}
	for _, c := range ts.Columns {
		if c.Index == schema.ColUUID || !c.Persistent {
			continue
		}
		nd := rc.New.Field(c.Index)
		if rc.Old == nil {
			if !isDefault(c, nd) {
				row[c.Name] = schema.DatumToJSON(&c.Type, nd)
			}
			continue
		}
		od := rc.Old.Field(c.Index)
		if od.Equal(nd) {
			continue
		}
		row[c.Name] = schema.DatumToJSON(&c.Type, schema.DatumDiff(&c.Type, od, nd))
	}
	if rc.Old != nil && len(row) == 0 {
		return nil, false
	}
	return row, true
}

// changeSetJSON returns the file record for cs, or nil if it changes
// nothing persistent.
func changeSetJSON(s *schema.DatabaseSchema, cs *ovsdb.ChangeSet, now time.Time) map[string]any {
	var txn map[string]any
	for tname, rows := range cs.Tables {
		ts := s.Table(tname)
		if ts == nil {
			continue
		}
		var tj map[string]any
		for id, rc := range rows {
			rj, ok := rowJSON(ts, rc)
			if !ok {
				continue
			}
			if tj == nil {
				tj = map[string]any{}
			}
			tj[id.String()] = rj
		}
		if tj != nil {
			if txn == nil {
				txn = map[string]any{}
			}
			txn[tname] = tj
		}
	}
	if txn == nil {
		return nil
	}
	return annotate(txn, cs.Comment, now)
}

func annotate(txn map[string]any, comment string, now time.Time) map[string]any {
	if comment != "" {
		txn["_comment"] = comment
	}
	txn["_is_diff"] = true
	txn["_date"] = json.Number(strconv.FormatInt(now.UnixMilli(), 10))
	return txn
}

// snapshotJSON returns the whole content as one record (C's
// ovsdb_to_txn_json) as a JSON tree: the reference appendSnapshot, which
// writes it, is tested against.
func snapshotJSON(s *schema.DatabaseSchema, rows map[string][]*ovsdb.Row, comment string, now time.Time) map[string]any {
	txn := map[string]any{}
	for tname, rs := range rows {
		ts := s.Table(tname)
		if ts == nil || len(rs) == 0 {
			continue
		}
		tj := make(map[string]any, len(rs))
		for _, r := range rs {
			rj, _ := rowJSON(ts, &ovsdb.RowChange{New: r})
			tj[r.UUID().String()] = rj
		}
		txn[tname] = tj
	}
	return annotate(txn, comment, now)
}

// replayer turns file records into change sets against a database.
type replayer struct {
	s  *schema.DatabaseSchema
	db *ovsdb.Database
}

// changeSet converts one transaction record (C's ovsdb_file_txn_from_json,
// with or without "_is_diff") into a change set.
func (p *replayer) changeSet(rec map[string]any) (*ovsdb.ChangeSet, error) {
	isDiff, _ := rec["_is_diff"].(bool)
	cs := &ovsdb.ChangeSet{Tables: map[string]map[schema.UUID]*ovsdb.RowChange{}}
	names := make([]string, 0, len(rec))
	for k := range rec {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, tname := range names {
		tj := rec[tname]
		ts := p.s.Table(tname)
		if ts == nil {
			switch tname {
			case "_date", "_is_diff", "_comment":
				continue
			}
			return nil, ovsdberr.Syntax(rec, "No table named %s.", tname)
		}
		obj, ok := tj.(map[string]any)
		if !ok {
			return nil, ovsdberr.Syntax(tj, "object expected")
		}
		changes := map[schema.UUID]*ovsdb.RowChange{}
		for us, rj := range obj {
			id, err := schema.ParseUUID(us)
			if err != nil {
				return nil, ovsdberr.Syntax(obj, "\"%s\" is not a valid UUID", us)
			}
			rc, err := p.rowChange(ts, id, rj, isDiff)
			if err != nil {
				return nil, err
			}
			changes[id] = rc
		}
		if len(changes) > 0 {
			cs.Tables[tname] = changes
		}
	}
	if c, ok := rec["_comment"].(string); ok {
		cs.Comment = c
	}
	return cs, nil
}

func (p *replayer) rowChange(ts *schema.Table, id schema.UUID, rj any, isDiff bool) (*ovsdb.RowChange, error) {
	old := p.db.Row(ts.Name, id)
	if rj == nil {
		if old == nil {
			return nil, ovsdberr.New(ovsdberr.TagSyntax, "transaction deletes row %s that does not exist", id)
		}
		return &ovsdb.RowChange{Old: old}, nil
	}
	obj, ok := rj.(map[string]any)
	if !ok {
		return nil, ovsdberr.Syntax(rj, "row must be JSON object")
	}
	var nr *ovsdb.Row
	if old != nil {
		nr = ovsdb.NewRow(old.Dense())
	} else {
		nr = ovsdb.NewRow(make([]schema.Datum, len(ts.Columns)))
		for i, c := range ts.Columns {
			nr.Fields[i] = schema.DefaultDatum(&c.Type)
		}
		nr.Fields[schema.ColUUID] = schema.NewScalar(id)
	}
	nr.Fields[schema.ColVersion] = schema.NewScalar(schema.NewUUID())
	for cname, cj := range obj {
		c := ts.Column(cname)
		if c == nil {
			return nil, ovsdberr.WithSyntax("unknown column", obj, "No column %s in table %s.", cname, ts.Name)
		}
		if c.Index == schema.ColUUID || c.Index == schema.ColVersion {
			continue
		}
		if isDiff && !isDefault(c, nr.Fields[c.Index]) {
			d, err := schema.ParseDatumNoSize(&c.Type, cj, nil)
			if err != nil {
				return nil, err
			}
			if nr.Fields[c.Index], err = applyDiff(&c.Type, nr.Fields[c.Index], d); err != nil {
				return nil, err
			}
			continue
		}
		d, err := schema.ParseDatum(&c.Type, cj, nil)
		if err != nil {
			return nil, err
		}
		nr.Fields[c.Index] = d
	}
	return &ovsdb.RowChange{Old: old, New: nr}, nil
}

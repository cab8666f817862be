package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/internal/standalone"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage"
)

// create: create [DB [SCHEMA]].
func (t *tool) create(args []string) error {
	dbPath := argOr(args, 1, defaultDB())
	s, _, err := readSchemaFile(argOr(args, 2, defaultSchema()))
	if err != nil {
		return err
	}
	return standalone.Create(dbPath, s)
}

// openStandalone opens a standalone database for writing; clustered
// files (ours or C's) are refused as C does.
func openStandalone(path string) (*standalone.DB, error) {
	if ours(path) {
		return nil, &storage.ClusteredError{Path: path}
	}
	return standalone.Open(path)
}

// loadStandalone reads a standalone database into memory and releases
// the file: the returned database refuses commits.
func loadStandalone(path string) (*ovsdb.Database, error) {
	d, err := openStandalone(path)
	if err != nil {
		return nil, err
	}
	db := d.Database()
	if err := d.Close(); err != nil {
		return nil, err
	}
	return db, nil
}

// snapshotJSON is every row of db as one transaction record (C's
// ovsdb_to_txn_json): non-default persistent columns only.
func snapshotJSON(db *ovsdb.Database, comment string, withDate bool) map[string]any {
	s := db.Schema()
	txn := map[string]any{}
	db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
		for tname, rows := range tables {
			ts := s.Table(tname)
			if ts == nil || len(rows) == 0 {
				continue
			}
			tj := make(map[string]any, len(rows))
			for id, r := range rows {
				row := map[string]any{}
				for _, c := range ts.Columns {
					if c.Index == schema.ColUUID || !c.Persistent {
						continue
					}
					d := r.Field(c.Index)
					if !d.Equal(schema.DefaultDatum(&c.Type)) {
						row[c.Name] = schema.DatumToJSON(&c.Type, d)
					}
				}
				tj[id.String()] = row
			}
			txn[tname] = tj
		}
	})
	if comment != "" {
		txn["_comment"] = comment
	}
	if withDate {
		txn["_date"] = json.Number(strconv.FormatInt(time.Now().UnixMilli(), 10))
	}
	return txn
}

func record(v any) []byte { return append(cjson.Marshal(v), '\n') }

// compactOrConvert rewrites src (in place, or to dst) as its schema (or
// ns, converting the rows) plus one record holding every row.
func compactOrConvert(src, dst string, ns *schema.DatabaseSchema, comment string) error {
	if p, err := filepath.EvalSymlinks(src); err == nil {
		src = p
	}
	d, err := openStandalone(src)
	if err != nil {
		return err
	}
	db := d.Database()
	if ns != nil {
		var cerr error
		db.Read(func(tables map[string]map[schema.UUID]*ovsdb.Row) {
			db, cerr = standalone.ConvertDatabase(tables, d.Database().Schema(), ns)
		})
		if cerr != nil {
			d.Close()
			return cerr
		}
	}
	recs := [][]byte{record(db.Schema().CJSON()), record(snapshotJSON(db, comment, true))}
	if err := d.Close(); err != nil {
		return err
	}
	if dst != "" {
		if p, err := filepath.EvalSymlinks(dst); err == nil {
			dst = p
		}
		return writeStandalone(dst, false, recs...)
	}
	l, err := storage.Open(src, storage.MagicStandalone, storage.ReadWrite)
	if err != nil {
		return err
	}
	anyRecs := make([]any, len(recs))
	for i, r := range recs {
		anyRecs[i] = r
	}
	if err := l.Replace(anyRecs...); err != nil {
		l.Close()
		return err
	}
	return l.Close()
}

// compact: compact [DB [DST]].
func (t *tool) compact(args []string) error {
	return compactOrConvert(argOr(args, 1, defaultDB()), argOr(args, 2, ""), nil,
		"compacted by ovsdb-tool "+cVersion)
}

// convert: convert [DB [SCHEMA [DST]]].
func (t *tool) convert(args []string) error {
	ns, _, err := readSchemaFile(argOr(args, 2, defaultSchema()))
	if err != nil {
		return err
	}
	return compactOrConvert(argOr(args, 1, defaultDB()), argOr(args, 3, ""), ns,
		"converted by ovsdb-tool "+cVersion)
}

// transact: query|transact [DB] TRNS. TRNS is the params of a "transact"
// request: ["DBNAME", op...].
func (t *tool) transact(args []string, rw bool) error {
	dbPath := defaultDB()
	if len(args) >= 3 {
		dbPath = args[1]
	}
	trns := args[len(args)-1]
	var (
		db *ovsdb.Database
		d  *standalone.DB
	)
	var err error
	if rw {
		if d, err = openStandalone(dbPath); err == nil {
			db = d.Database()
		}
	} else {
		db, err = loadStandalone(dbPath)
	}
	if err != nil {
		return err
	}
	if d != nil {
		defer d.Close()
	}
	req, err := schema.DecodeJSON([]byte(trns))
	if err != nil {
		return fatalf("\"%s\": %v", trns, err)
	}
	if s, ok := req.(string); ok {
		return fatalf("\"%s\": %s", trns, s)
	}
	var result any
	params, ok := req.([]any)
	switch {
	case !ok:
		result = ovsdberr.ToJSON(ovsdberr.Syntax(req, "array expected"))
	case len(params) == 0 || params[0] != db.Name():
		result = ovsdberr.ToJSON(ovsdberr.Syntax(req, "database name expected as first parameter"))
	default:
		result = db.Transact(context.Background(), params[1:], ovsdb.TransactOptions{})
	}
	fmt.Fprintln(t.stdout, string(cjson.Marshal(result)))
	if d != nil {
		return d.Close()
	}
	return nil
}

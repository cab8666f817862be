package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/chash"
	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/ovsdb-go/ovsdb-server/storage"
)

// object is a decoded JSON object that remembers its members in the
// order C iterates them (its hash table order for the textual insertion
// order).
type object struct {
	keys []string
	vals map[string]any
}

// decodeOrdered decodes JSON keeping objects as *object.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return decodeValue(dec)
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := &object{vals: map[string]any{}}
		var text []string
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			if _, dup := o.vals[k]; !dup {
				text = append(text, k)
			}
			o.vals[k] = v
		}
		_, err := dec.Token()
		o.keys = chash.Order(text...)
		return o, err
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token()
		return a, err
	}
	return tok, nil
}

// plain turns *object back into map[string]any, recursively.
func plain(v any) any {
	switch x := v.(type) {
	case *object:
		m := make(map[string]any, len(x.vals))
		for k, e := range x.vals {
			m[k] = plain(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = plain(e)
		}
		return a
	}
	return v
}

// showLog: [-m]... show-log [DB]: standalone databases, C's clustered
// files and ours (showlog_cluster.go).
func (t *tool) showLog(args []string) error {
	path := argOr(args, 1, defaultDB())
	if ours(path) {
		return t.showLogOurs(path)
	}
	l, err := openAny(path)
	if err != nil {
		return err
	}
	defer l.Close()
	if l.Magic() == storage.MagicClustered {
		return t.showLogC(l)
	}
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
		fmt.Fprintf(t.stdout, "record %d:", i)
		if i == 0 {
			if s, err = schema.ParseSchemaBytes(raw); err != nil {
				return err
			}
			fmt.Fprintf(t.stdout, " \"%s\" schema, version=\"%s\", cksum=\"%s\"\n", s.Name, s.Version, s.Cksum)
		} else {
			rec, err := decodeOrdered(raw)
			if err != nil {
				return ovsdberr.New(ovsdberr.TagSyntax, "%s: %v", path, err)
			}
			t.printChangeRecord(t.stdout, rec, s, names)
		}
		fmt.Fprintln(t.stdout)
	}
}

func (t *tool) printChangeRecord(w io.Writer, rec any, s *schema.DatabaseSchema, names map[string]string) {
	o, ok := rec.(*object)
	if !ok {
		return
	}
	if d, ok := o.vals["_date"].(json.Number); ok {
		if ms, isInt := schema.AsInteger(d); isInt {
			if ms < math.MaxInt32 {
				ms *= 1000 // old files have seconds
			}
			tm := time.UnixMilli(ms).UTC()
			fmt.Fprintf(w, " %s.%03d", tm.Format("2006-01-02 15:04:05"), ms%1000)
		}
	}
	if c, ok := o.vals["_comment"].(string); ok {
		fmt.Fprintf(w, " \"%s\"", c)
	}
	if t.verbosity > 0 {
		t.printDBChanges(w, o, s, names)
	}
}

func (t *tool) printDBChanges(w io.Writer, o *object, s *schema.DatabaseSchema, names map[string]string) {
	diff := o.vals["_is_diff"] == true
	i := 0
	for _, table := range o.keys {
		rows, ok := o.vals[table].(*object)
		if strings.HasPrefix(table, "_") || !ok {
			continue
		}
		if i == 0 {
			fmt.Fprintln(w)
		}
		i++
		var ts *schema.Table
		if s != nil {
			ts = s.Table(table)
		}
		for _, id := range rows.keys {
			cols := rows.vals[id]
			short := id
			if len(short) > 8 {
				short = short[:8]
			}
			oldName, hasOld := names[id]
			newName, hasNew := "", false
			co, isObj := cols.(*object)
			if isObj {
				if n, ok := co.vals["name"]; ok {
					newName, hasNew = cjson.String(plain(n)), true
				}
			}
			fmt.Fprintf(w, "  table %s", table)
			switch {
			case !hasOld && hasNew:
				fmt.Fprintf(w, " insert row %s (%s):\n", newName, short)
			case !hasOld:
				fmt.Fprintf(w, " insert row %s:\n", short)
			default:
				d := ""
				if diff {
					d = " diff"
				}
				fmt.Fprintf(w, " row %s (%s)%s:\n", oldName, short, d)
			}
			switch {
			case isObj:
				if t.verbosity > 1 {
					for _, col := range co.keys {
						fmt.Fprintf(w, "    %s=%s\n", col, valueString(ts, col, plain(co.vals[col])))
					}
				}
				if hasNew && (!hasOld || oldName != newName) {
					names[id] = newName
				} else if !hasOld {
					names[id] = short
				}
			case cols == nil:
				fmt.Fprintf(w, "    delete row\n")
				delete(names, id)
			}
		}
	}
}

// valueString shows a column value as C's ovsdb_datum_to_string when it
// parses with the column's type, else as JSON.
func valueString(ts *schema.Table, col string, v any) string {
	if ts != nil {
		if c := ts.Column(col); c != nil {
			if d, err := schema.ParseDatum(&c.Type, v, nil); err == nil {
				return schema.DatumString(&c.Type, d)
			}
		}
	}
	return cjson.String(v)
}

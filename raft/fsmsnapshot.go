package raft

import (
	"bufio"
	"fmt"
	"slices"
	"strings"
	"sync"

	hraft "github.com/hashicorp/raft"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// snapshotEnc writes one table's rows in snapshots: the columns but
// _uuid (the row's key), by name as an object's members, _version always
// and the others unless they hold their default.
type snapshotEnc struct {
	cols     []*schema.Column
	defaults []schema.Datum // by column index
}

var snapshotEncs sync.Map // *schema.Table -> *snapshotEnc

func snapshotEncFor(ts *schema.Table) *snapshotEnc {
	if e, ok := snapshotEncs.Load(ts); ok {
		return e.(*snapshotEnc)
	}
	e := &snapshotEnc{cols: slices.Clone(ts.Columns[1:]), defaults: make([]schema.Datum, len(ts.Columns))}
	slices.SortFunc(e.cols, func(a, b *schema.Column) int { return strings.Compare(a.Name, b.Name) })
	for _, c := range ts.Columns {
		e.defaults[c.Index] = schema.DefaultDatum(&c.Type)
	}
	v, _ := snapshotEncs.LoadOrStore(ts, e)
	return v.(*snapshotEnc)
}

// appendRow appends r as a JSON object: what cjson.Marshal writes for the
// map of the row's columns to schema.DatumToJSON, without building it.
func (e *snapshotEnc) appendRow(b []byte, r *ovsdb.Row) []byte {
	b = append(b, '{')
	n := 0
	for _, c := range e.cols {
		d := r.Field(c.Index)
		if c.Index > schema.ColVersion && d.Equal(e.defaults[c.Index]) {
			continue
		}
		b = cjson.AppendMember(b, n, c.Name)
		n++
		b = schema.AppendDatumJSON(b, &c.Type, d)
	}
	return append(b, '}')
}

type fsmSnapshot struct {
	schema *schema.DatabaseSchema
	index  uint64
	tables map[string]map[schema.UUID]*ovsdb.Row
	dedupe []dedupeEntry
}

// Persist writes the snapshot as one JSON object:
// {"version":1,"index":N,"schema":{...},"data":{table:{uuid:{col:datum}}},
// "dedupe":[[txn-uuid, reply]...]} (dedupe oldest first; only non-default
// columns in data).
func (s *fsmSnapshot) Persist(sink hraft.SnapshotSink) error {
	w := bufio.NewWriterSize(sink, 1<<16)
	err := s.write(w)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) write(w *bufio.Writer) error {
	fmt.Fprintf(w, `{"version":%d,"index":%d,"schema":`, snapshotVersion, s.index)
	w.Write(cjson.Marshal(s.schema.ToJSON()))
	w.WriteString(`,"data":{`)
	var buf []byte
	firstT := true
	for _, name := range s.schema.TableNames {
		rows := s.tables[name]
		ts := s.schema.Table(name)
		if len(rows) == 0 || ts == nil {
			continue
		}
		if !firstT {
			w.WriteByte(',')
		}
		firstT = false
		w.Write(cjson.Marshal(name))
		w.WriteString(":{")
		enc := snapshotEncFor(ts)
		firstR := true
		for id, r := range rows {
			if !firstR {
				buf = append(buf, ',')
			}
			firstR = false
			buf = append(buf, '"')
			buf = id.Append(buf)
			buf = append(buf, '"', ':')
			buf = enc.appendRow(buf, r)
			if len(buf) >= 1<<15 {
				w.Write(buf)
				buf = buf[:0]
			}
		}
		w.Write(buf)
		buf = buf[:0]
		w.WriteByte('}')
	}
	w.WriteString(`},"dedupe":[`)
	for i, d := range s.dedupe {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(`["` + d.id.String() + `",`)
		w.Write(cjson.Marshal(d.reply))
		w.WriteByte(']')
	}
	_, err := w.WriteString("]}")
	return err
}

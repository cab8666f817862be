package standalone

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdb"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// tableEnc is what appendChangeSet needs about one table, computed once.
type tableEnc struct {
	cols     []*schema.Column // persistent columns except _uuid, by name
	defaults []schema.Datum   // default datum of each column, by index
}

var tableEncs sync.Map // *schema.Table -> *tableEnc

func encFor(ts *schema.Table) *tableEnc {
	if e, ok := tableEncs.Load(ts); ok {
		return e.(*tableEnc)
	}
	e := &tableEnc{defaults: make([]schema.Datum, len(ts.Columns))}
	for _, c := range ts.Columns {
		e.defaults[c.Index] = schema.DefaultDatum(&c.Type)
		if c.Index != schema.ColUUID && c.Persistent {
			e.cols = append(e.cols, c)
		}
	}
	sort.Slice(e.cols, func(i, j int) bool { return e.cols[i].Name < e.cols[j].Name })
	v, _ := tableEncs.LoadOrStore(ts, e)
	return v.(*tableEnc)
}

// appendRow appends the file form of one row change (see rowJSON) and
// reports false, with b unchanged, when nothing persistent changed.
func appendRow(b []byte, e *tableEnc, rc *ovsdb.RowChange) ([]byte, bool) {
	if rc.New == nil {
		if rc.Old == nil {
			return b, false
		}
		return append(b, "null"...), true
	}
	start := len(b)
	b = append(b, '{')
	n := 0
	for _, c := range e.cols {
		nd := rc.New.Field(c.Index)
		var v schema.Datum
		if rc.Old == nil {
			if nd.Equal(e.defaults[c.Index]) {
				continue
			}
			v = nd
		} else {
			od := rc.Old.Field(c.Index)
			if od.Equal(nd) {
				continue
			}
			v = schema.DatumDiff(&c.Type, od, nd)
		}
		b = cjson.AppendMember(b, n, c.Name)
		n++
		b = schema.AppendDatumJSON(b, &c.Type, v)
	}
	if rc.Old != nil && n == 0 {
		return b[:start], false
	}
	return append(b, '}'), true
}

type rowRef struct {
	id schema.UUID
	rc *ovsdb.RowChange
}

// appendChangeSet appends the file record for cs, byte for byte
// cjson.Marshal(changeSetJSON(s, cs, now)), without building the JSON
// tree. It reports false, with b unchanged, if cs changes nothing
// persistent.
func appendChangeSet(b []byte, s *schema.DatabaseSchema, cs *ovsdb.ChangeSet, now time.Time) ([]byte, bool) {
	keys := make([]string, 0, len(cs.Tables)+3)
	nrc := 0
	for tname, rows := range cs.Tables {
		if s.Table(tname) != nil {
			keys = append(keys, tname)
			nrc += len(rows)
		}
	}
	if len(keys) == 0 {
		return b, false
	}
	// Grow b once to the expected size (plus room for the caller's
	// newline) instead of doubling it row after row.
	b = slices.Grow(b, nrc*int(recordBytesPerRow.Load())+256)
	if cs.Comment != "" {
		keys = append(keys, "_comment")
	}
	keys = append(keys, "_date", "_is_diff")
	sort.Strings(keys)
	start := len(b)
	b = append(b, '{')
	first, any := true, false
	var refs []rowRef
	for _, k := range keys {
		mark := len(b)
		if !first {
			b = append(b, ',')
		}
		b = cjson.AppendString(b, k)
		b = append(b, ':')
		switch k {
		case "_comment":
			b = cjson.AppendString(b, cs.Comment)
		case "_date":
			b = cjson.Append(b, json.Number(strconv.FormatInt(now.UnixMilli(), 10)))
		case "_is_diff":
			b = append(b, "true"...)
		default:
			ts := s.Table(k)
			e := encFor(ts)
			rows := cs.Tables[k]
			if cap(refs) < len(rows) {
				refs = make([]rowRef, 0, len(rows))
			}
			refs = refs[:0]
			for id, rc := range rows {
				refs = append(refs, rowRef{id, rc})
			}
			// The canonical text form of a UUID sorts like its bytes.
			slices.SortFunc(refs, func(x, y rowRef) int { return bytes.Compare(x.id[:], y.id[:]) })
			b = append(b, '{')
			nrows := 0
			for _, r := range refs {
				rowMark := len(b)
				if nrows > 0 {
					b = append(b, ',')
				}
				b = append(b, '"')
				b = r.id.Append(b)
				b = append(b, '"', ':')
				var ok bool
				if b, ok = appendRow(b, e, r.rc); !ok {
					b = b[:rowMark]
					continue
				}
				nrows++
			}
			if nrows == 0 {
				b = b[:mark]
				continue
			}
			b = append(b, '}')
			any = true
		}
		first = false
	}
	if !any {
		return b[:start], false
	}
	b = append(b, '}')
	if nrc > 0 {
		// Learn the record size per row change, with 1/8 to spare.
		per := (len(b) - start) / nrc
		recordBytesPerRow.Store(int64(per + per/8))
	}
	return b, true
}

// appendSnapshot appends the file record holding every row of rows (a
// compaction's or a conversion's snapshot), byte for byte
// cjson.Marshal(snapshotJSON(s, rows, comment, now)), without building
// the JSON tree: tables by name, rows by UUID, each row as an insert.
func appendSnapshot(b []byte, s *schema.DatabaseSchema, rows map[string][]*ovsdb.Row, comment string, now time.Time) []byte {
	keys := make([]string, 0, len(rows)+3)
	for tname, rs := range rows {
		if s.Table(tname) != nil && len(rs) > 0 {
			keys = append(keys, tname)
		}
	}
	if comment != "" {
		keys = append(keys, "_comment")
	}
	keys = append(keys, "_date", "_is_diff")
	sort.Strings(keys)
	n := 0
	for _, rs := range rows {
		n += len(rs)
	}
	b = slices.Grow(b, n*int(max(recordBytesPerRow.Load(), 64))+256)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = cjson.AppendString(b, k)
		b = append(b, ':')
		switch k {
		case "_comment":
			b = cjson.AppendString(b, comment)
		case "_date":
			b = cjson.Append(b, json.Number(strconv.FormatInt(now.UnixMilli(), 10)))
		case "_is_diff":
			b = append(b, "true"...)
		default:
			e := encFor(s.Table(k))
			rs := slices.Clone(rows[k])
			slices.SortFunc(rs, func(x, y *ovsdb.Row) int {
				xi, yi := x.UUID(), y.UUID()
				return bytes.Compare(xi[:], yi[:])
			})
			b = append(b, '{')
			for j, r := range rs {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, '"')
				b = r.UUID().Append(b)
				b = append(b, '"', ':')
				b, _ = appendRow(b, e, &ovsdb.RowChange{New: r}) // an insert: always written
			}
			b = append(b, '}')
		}
	}
	return append(b, '}')
}

// recordBytesPerRow is the size per row change of the last record written
// (with some spare), to size the next record's buffer.
var recordBytesPerRow atomic.Int64

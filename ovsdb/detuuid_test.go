package ovsdb

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/stretchr/testify/require"
)

// counterUUIDs returns a deterministic UUID source for tests.
func counterUUIDs(seed byte) func() schema.UUID {
	var n uint64
	return func() schema.UUID {
		n++
		var b [9]byte
		b[0] = seed
		binary.BigEndian.PutUint64(b[1:], n)
		h := sha256.Sum256(b[:])
		var u schema.UUID
		copy(u[:], h[:16])
		return u
	}
}

// dump renders the whole committed state.
func dump(t *testing.T, db *Database) string {
	t.Helper()
	out := map[string]any{}
	db.Read(func(tables map[string]map[schema.UUID]*Row) {
		for name, rows := range tables {
			ts := db.Schema().Table(name)
			m := map[string]any{}
			for id, r := range rows {
				cols := map[string]any{}
				for _, c := range ts.Columns {
					cols[c.Name] = schema.DatumToJSON(&c.Type, r.Field(c.Index))
				}
				m[id.String()] = cols
			}
			out[name] = m
		}
	})
	return string(cjson.Marshal(out))
}

func TestDeterministicUUIDs(t *testing.T) {
	txns := []string{
		`[{"op":"insert","table":"Child","row":{"name":"c1"},"uuid-name":"c1"},
		  {"op":"insert","table":"Child","row":{"name":"c2","sub":["named-uuid","c1"]}},
		  {"op":"insert","table":"Parent","row":{"name":"p","kids":["set",[["named-uuid","c1"]]]}}]`,
		`[{"op":"insert","table":"Leaf","row":{"name":"a"}},{"op":"insert","table":"Leaf","row":{"name":"b"}},
		  {"op":"insert","table":"Leaf","row":{"name":"c"}}]`,
		// Touches every Leaf row: their order inside the transaction
		// follows map iteration, their new versions must not.
		`[{"op":"update","table":"Leaf","where":[],"row":{"name":"z"}}]`,
		`[{"op":"mutate","table":"Parent","where":[],"mutations":[["n","+=",1]]},
		  {"op":"delete","table":"Leaf","where":[["name","==","z"]]}]`,
	}
	run := func(txnID schema.UUID) (*Database, []string, []schema.UUID) {
		db := NewDatabase(loadTestSchema(t), nil)
		var ids []schema.UUID
		db.Observe(nil, func(id schema.UUID, _ *ChangeSet) { ids = append(ids, id) })
		var replies []string
		for i, js := range txns {
			opts := TransactOptions{NewUUID: counterUUIDs(byte(i)), TxnID: txnID}
			res := db.Transact(context.Background(), decode(t, js).([]any), opts)
			b := cjson.Marshal(res)
			require.NotContains(t, string(b), "error")
			replies = append(replies, string(b))
		}
		return db, replies, ids
	}
	tid := schema.UUID{1, 2, 3}
	a, ra, ida := run(tid)
	for range 5 {
		b, rb, idb := run(tid)
		require.Equal(t, ra, rb)
		require.Equal(t, dump(t, a), dump(t, b))
		require.Equal(t, ida, idb)
	}
	for _, id := range ida {
		require.Equal(t, tid, id)
	}
	// Without a source, two runs differ (random UUIDs and txn ids).
	db1 := NewDatabase(loadTestSchema(t), nil)
	db2 := NewDatabase(loadTestSchema(t), nil)
	for _, db := range []*Database{db1, db2} {
		db.Transact(context.Background(), decode(t, txns[1]).([]any), TransactOptions{})
	}
	require.NotEqual(t, dump(t, db1), dump(t, db2))
	require.NotEqual(t, db1.LastTxnID(), db2.LastTxnID())
}

func TestTransactOnce(t *testing.T) {
	db := NewDatabase(loadTestSchema(t), nil)
	ctx := context.Background()
	wait := func(timeout int) string {
		return `[{"op":"wait","table":"Leaf","where":[],"columns":["name"],"until":"==","rows":[{"name":"x"}],"timeout":` +
			itoa(timeout) + `},{"op":"insert","table":"Leaf","row":{"name":"y"}}]`
	}
	tests := []struct {
		name      string
		ops       string
		elapsed   int64
		blocked   bool
		wantReply string
	}{
		{"unsatisfied with time left blocks", wait(1000), 10, true, ""},
		{"expired timeout", wait(1000), 1500, false,
			`[{"details":"\"wait\" timed out after 1500 ms","error":"timed out"},null]`},
		{"zero timeout", wait(0), 0, false,
			`[{"details":"\"where\" clause test failed","error":"timed out"},null]`},
		{"no wait", `[{"op":"select","table":"Leaf","where":[],"columns":["name"]}]`, 0, false,
			`[{"rows":[]}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, blocked := db.TransactOnce(ctx, decode(t, tc.ops).([]any), TransactOptions{}, tc.elapsed)
			require.Equal(t, tc.blocked, blocked)
			if tc.blocked {
				require.Nil(t, res)
				return
			}
			b := cjson.Marshal(res)
			require.Equal(t, tc.wantReply, string(b))
		})
	}
	require.Equal(t, `{"Child":{},"Enum":{},"Leaf":{},"Limited":{},"Parent":{},"W":{}}`, dump(t, db))
}

package ovsdb

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
	"github.com/stretchr/testify/require"
)

// denseInsertRow is the reference for newInsertRow: every default, the
// parsed members, then C's check of one-element datums in column order.
func denseInsertRow(x *txn, t *table, id schema.UUID, rowJS any) (*Row, error) {
	fields := t.newFields()
	if _, err := x.parseRow(rowJS, t, fields); err != nil {
		return nil, err
	}
	for _, c := range cColumns(t.ts) {
		if d := fields[c.Index]; len(d.Keys) == 1 {
			if err := schema.CheckDatum(&c.Type, d); err != nil {
				return nil, err
			}
		}
	}
	fields[schema.ColUUID] = schema.NewScalar(id)
	return &Row{Fields: fields}, nil
}

// TestInsertRowMatchesDense checks that rows built compact at insert hold
// the same columns, and fail with the same error, as dense rows.
func TestInsertRowMatchesDense(t *testing.T) {
	s, err := schema.ParseSchemaBytes([]byte(cmSchema))
	require.NoError(t, err)
	db := NewDatabase(s, nil)
	tbl := db.tables["T"]
	many := `{"e":"c","i":1,"r":2.5,"b":true,"s":"x","u":["uuid","6f0e7bd4-54d4-4ba9-8d2b-0b6e1f3a7b41"],` +
		`"oi":["set",[4]],"os":"y","si":["set",[3,1,2]],"ss":["set",["q","p"]],"m":["map",[["k","v"]]],"imm":9}`
	for _, tc := range []struct {
		name, row string
		present   int // columns besides _uuid and _version
		wantErr   bool
	}{
		{"one scalar", `{"e":"a"}`, 1, false},
		{"default-valued members dropped", `{"e":"a","i":0,"s":"","si":["set",[]],"m":["map",[]]}`, 1, false},
		{"scalar as one-element set", `{"e":["set",["b"]],"oi":7}`, 2, false},
		{"sets and maps", `{"e":"b","si":["set",[3,1]],"m":["map",[["k","v"]]],"s":"x","r":1.5}`, 5, false},
		{"wider than the largest block", many, 12, false},
		{"own _version", `{"e":"a","_version":["uuid","0b3a8fe1-8d2b-4ba9-54d4-6f0e7bd43a7b"]}`, 1, false},
		{"default violates enum", `{}`, 0, true},
		{"bad enum value", `{"e":"z"}`, 0, true},
		{"unknown column", `{"nope":1,"e":"a"}`, 0, true},
		{"out of range", `{"ci":200,"e":"a","cr":7.5}`, 0, true},
		{"set too small", `{"si2":["set",[]],"e":"a"}`, 0, true},
		{"wrong type", `{"i":"x","e":"a"}`, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := mustJSON(t, tc.row)
			id := schema.NewUUID()
			want, wantErr := denseInsertRow(newTxn(db), tbl, id, js)
			got, ok, gotErr := newTxn(db).newInsertRow(tbl, id, js)
			require.True(t, ok)
			if tc.wantErr {
				require.Error(t, wantErr)
				require.Equal(t, string(cjson.Marshal(ovsdberr.ToJSON(wantErr))),
					string(cjson.Marshal(ovsdberr.ToJSON(gotErr))))
				return
			}
			require.NoError(t, wantErr)
			require.NoError(t, gotErr)
			require.Nil(t, got.Fields)
			require.Equal(t, 2+tc.present, got.numPresent())
			require.Equal(t, len(want.Fields), got.NumFields())
			for i := range want.Fields {
				require.True(t, want.Fields[i].Equal(got.Field(i)), "column %d", i)
			}
			require.Equal(t, id, got.UUID())
			v := schema.NewUUID()
			got.setVersion(v)
			require.Equal(t, v, got.Version())
		})
	}
}

// TestInsertedRowChangedInSameTxn checks inserted rows that the same
// transaction updates and mutates, and that the committed row is compact.
func TestInsertedRowChangedInSameTxn(t *testing.T) {
	s, err := schema.ParseSchemaBytes([]byte(cmSchema))
	require.NoError(t, err)
	db := NewDatabase(s, nil)
	res := db.Transact(context.Background(), mustJSON(t, `[
	 {"op":"insert","table":"T","uuid-name":"n","row":{"e":"a","i":1}},
	 {"op":"update","table":"T","where":[["_uuid","==",["named-uuid","n"]]],"row":{"s":"z"}},
	 {"op":"mutate","table":"T","where":[["i","==",1]],"mutations":[["i","+=",5]]},
	 {"op":"select","table":"T","where":[],"columns":["i","s","e"]}]`).([]any), TransactOptions{})
	out := string(cjson.Marshal(res))
	require.Len(t, res, 4, out)
	require.Contains(t, out, `{"count":1},{"count":1},{"rows":[{"e":"a","i":6,"s":"z"}]}`)
	db.Read(func(tables map[string]map[schema.UUID]*Row) {
		require.Len(t, tables["T"], 1)
		for id, r := range tables["T"] {
			require.Nil(t, r.Fields)
			require.Equal(t, id, r.UUID())
			require.NotEqual(t, schema.ZeroUUID, r.Version())
			require.Equal(t, int64(6), r.Field(tbl(db).Column("i").Index).Keys[0])
			require.Equal(t, "z", r.Field(tbl(db).Column("s").Index).Keys[0])
		}
	})
	// Each of many inserts in one transaction gets its own _version.
	var ops []string
	for i := range 20 {
		ops = append(ops, fmt.Sprintf(`{"op":"insert","table":"T","row":{"e":"b","i":%d}}`, 100+i))
	}
	res = db.Transact(context.Background(), mustJSON(t, "["+strings.Join(ops, ",")+"]").([]any), TransactOptions{})
	require.Len(t, res, 20)
	versions := map[schema.UUID]bool{}
	db.Read(func(tables map[string]map[schema.UUID]*Row) {
		for _, r := range tables["T"] {
			versions[r.Version()] = true
		}
	})
	require.Len(t, versions, 21)
}

func tbl(db *Database) *schema.Table { return db.tables["T"].ts }

// TestInsertResultJSON checks that the insert result serialises as the map
// C's reply holds, through cjson and encoding/json.
func TestInsertResultJSON(t *testing.T) {
	for _, id := range []schema.UUID{schema.ZeroUUID, schema.NewUUID(), {0xff, 0xfe, 0x01}} {
		want := cjson.Marshal(map[string]any{"uuid": []any{"uuid", id.String()}})
		r := newInsertResult(id)
		require.Equal(t, string(want), string(cjson.Marshal(r)))
		require.Equal(t, string(want), string(cjson.Marshal([]any{r}))[1:len(want)+1])
		std, err := json.Marshal(r)
		require.NoError(t, err)
		require.Equal(t, string(want), string(std))
		require.Equal(t, string(want), r.String())
	}
}

// TestAllocRowSizes checks the lengths and capacities of the storage
// allocRow and allocStorage hand out, for every block shape and beyond.
func TestAllocRowSizes(t *testing.T) {
	for na := 0; na <= 10; na++ {
		for nv := 0; nv <= 6; nv++ {
			r, a, v := allocRow(na, nv)
			require.NotNil(t, r)
			require.Len(t, a, na)
			require.Len(t, v, nv)
			require.Equal(t, na, cap(a), "appending must not spill into neighbours")
			require.Equal(t, nv, cap(v))
			a2, v2 := allocStorage(na, nv)
			require.Len(t, a2, na)
			require.Len(t, v2, nv)
		}
	}
}

package raft

import (
	"testing"

	hraft "github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// TestEntryRBACRoundTrip: an entry carries its session's RBAC role and id
// (version 4); one without a role keeps version 1, and a version 1 entry,
// as written before roles existed, decodes as "no role".
func TestEntryRBACRoundTrip(t *testing.T) {
	ops := decodeOps(t, `[{"op":"insert","table":"K","row":{"k":"a"}}]`)
	for _, e := range []Entry{
		{TxnID: schema.NewUUID(), DB: "T", Ops: ops, Locks: []string{"l"}, Role: "ovn-controller", ClientID: "chassis-1", HasClientID: true},
		{TxnID: schema.NewUUID(), DB: "T", Ops: ops, Role: "ovn-controller"}, // no id (not TLS)
		{TxnID: schema.NewUUID(), DB: "T", Ops: ops, Role: "r", ClientID: "", HasClientID: true},
	} {
		b, err := e.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, byte(clientVersion), b[0])
		got, err := DecodeEntry(b)
		require.NoError(t, err)
		require.Equal(t, e.Role, got.Role)
		require.Equal(t, e.ClientID, got.ClientID)
		require.Equal(t, e.HasClientID, got.HasClientID)
		require.Equal(t, e.Locks, got.Locks)
		require.Equal(t, string(cjson.Marshal(e.Ops)), string(cjson.Marshal(got.Ops)))
		for i := 0; i < len(b)-1; i++ {
			_, _ = DecodeEntry(b[:i]) // truncations must not panic
		}
	}
	plain := Entry{TxnID: schema.NewUUID(), DB: "T", Ops: ops, ClientID: "ignored", HasClientID: true}
	b, err := plain.MarshalBinary()
	require.NoError(t, err)
	require.Equal(t, byte(entryVersion), b[0])

	// A version 1 entry laid out by hand: version, TxnID, Seed, TimeMS,
	// ElapsedMS, DB "T", no locks, then the operations.
	old := append([]byte{entryVersion}, make([]byte, 32)...)
	old = append(old, 5, 0, 1, 'T', 0)
	old = append(old, `[{"op":"comment","comment":"c"}]`...)
	got, err := DecodeEntry(old)
	require.NoError(t, err)
	require.Equal(t, "T", got.DB)
	require.Equal(t, int64(5), got.TimeMS)
	require.Empty(t, got.Role)
	require.False(t, got.HasClientID)

	// A role entry whose role is empty or whose id flag is not 0/1 is
	// corrupt.
	bad := append([]byte{clientVersion}, make([]byte, 32)...)
	bad = append(bad, 0, 0, 1, 'T', 0, 0, 0, 0)
	bad = append(bad, `[]`...)
	_, err = DecodeEntry(bad)
	require.Error(t, err)
	bad = append([]byte{clientVersion}, make([]byte, 32)...)
	bad = append(bad, 0, 0, 1, 'T', 0, 1, 'r', 2, 0)
	bad = append(bad, `[]`...)
	_, err = DecodeEntry(bad)
	require.Error(t, err)
}

// TestFSMAppliesRBAC: the FSM checks an entry's writes with the entry's
// role and id against the RBAC tables of its own state, so every member
// decides the same.
func TestFSMAppliesRBAC(t *testing.T) {
	s, err := schema.ParseSchemaBytes([]byte(`{"name": "SB", "version": "1.0.0", "tables": {
	 "RBAC_Role": {"columns": {"name": {"type": "string"},
	   "permissions": {"type": {"key": {"type": "string"}, "value": {"type": "uuid", "refTable": "RBAC_Permission", "refType": "weak"}, "min": 0, "max": "unlimited"}}}, "isRoot": true},
	 "RBAC_Permission": {"columns": {"table": {"type": "string"},
	   "authorization": {"type": {"key": "string", "min": 0, "max": "unlimited"}},
	   "insert_delete": {"type": "boolean"},
	   "update": {"type": {"key": "string", "min": 0, "max": "unlimited"}}}, "isRoot": true},
	 "Chassis": {"columns": {"name": {"type": "string"}, "nb_cfg": {"type": "integer"}}, "isRoot": true}}}`))
	require.NoError(t, err)
	f := NewFSM(s, 16)
	apply := func(idx uint64, e *Entry) string {
		e.TxnID, e.DB = schema.NewUUID(), "SB"
		r := f.Apply(&hraft.Log{Index: idx, Data: entryBytes(t, e)}).(*ApplyResult)
		require.NoError(t, r.Err)
		return string(cjson.Marshal(r.Reply))
	}
	seed := apply(1, &Entry{Ops: decodeOps(t, `[
	 {"op": "insert", "table": "RBAC_Role", "row": {"name": "ovn-controller", "permissions": ["map", [["Chassis", ["named-uuid", "p"]]]]}},
	 {"op": "insert", "table": "RBAC_Permission", "uuid-name": "p", "row": {"table": "Chassis", "authorization": "name", "insert_delete": true, "update": "nb_cfg"}},
	 {"op": "insert", "table": "Chassis", "row": {"name": "A"}},
	 {"op": "insert", "table": "Chassis", "row": {"name": "B"}}]`)})
	require.NotContains(t, seed, "error")
	upd := func(name string) []any {
		return decodeOps(t, `[{"op": "update", "table": "Chassis", "where": [["name", "==", "`+name+`"]], "row": {"nb_cfg": 1}}]`)
	}
	require.Equal(t, `[{"count":1}]`, apply(2, &Entry{Ops: upd("A"), Role: "ovn-controller", ClientID: "A", HasClientID: true}))
	require.Equal(t, `[{"details":"RBAC rules for client \"A\" role \"ovn-controller\" prohibit modification of table \"Chassis\".","error":"permission error"}]`,
		apply(3, &Entry{Ops: upd("B"), Role: "ovn-controller", ClientID: "A", HasClientID: true}))
	require.Equal(t, `[{"details":"RBAC rules for client \"(null)\" role \"ovn-controller\" prohibit modification of table \"Chassis\".","error":"permission error"}]`,
		apply(4, &Entry{Ops: upd("A"), Role: "ovn-controller"}))
	require.Equal(t, `[{"count":1}]`, apply(5, &Entry{Ops: upd("B")}))
}

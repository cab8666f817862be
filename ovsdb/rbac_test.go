package ovsdb

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// rbacSchema is a cut-down OVN Southbound schema: the RBAC tables with
// their real column types and tables shaped like the ones ovn-northd's
// rules protect.
const rbacSchema = `{"name": "SB", "version": "1.0.0", "tables": {
 "RBAC_Role": {"columns": {
   "name": {"type": "string"},
   "permissions": {"type": {"key": {"type": "string"},
     "value": {"type": "uuid", "refTable": "RBAC_Permission", "refType": "weak"},
     "min": 0, "max": "unlimited"}}}, "isRoot": true},
 "RBAC_Permission": {"columns": {
   "table": {"type": "string"},
   "authorization": {"type": {"key": "string", "min": 0, "max": "unlimited"}},
   "insert_delete": {"type": "boolean"},
   "update": {"type": {"key": "string", "min": 0, "max": "unlimited"}}}, "isRoot": true},
 "Chassis": {"columns": {
   "name": {"type": "string"},
   "hostname": {"type": "string"},
   "nb_cfg": {"type": "integer"},
   "external_ids": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
   "other_config": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}}},
   "isRoot": true},
 "Encap": {"columns": {
   "type": {"type": "string"},
   "ip": {"type": "string"},
   "chassis_name": {"type": "string"}}, "isRoot": true},
 "MAC_Binding": {"columns": {
   "ip": {"type": "string"},
   "mac": {"type": "string"}}, "isRoot": true},
 "Port": {"columns": {
   "options": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
   "up": {"type": {"key": "boolean", "min": 0, "max": 1}}}, "isRoot": true},
 "Other": {"columns": {"v": {"type": "integer"}}, "isRoot": true}
}}`

// rbacSeed is what an administrator (no role) writes first: the role
// "ovn-controller" with permissions as ovn-northd makes them (Chassis by
// name, Encap by chassis_name, MAC_Binding for anyone) plus one keyed by a
// map column (Port by options:requested-chassis, no insert/delete), two
// chassis and their encaps. Other has no permission entry.
const rbacSeed = `[
 {"op": "insert", "table": "RBAC_Role", "row": {"name": "ovn-controller", "permissions": ["map", [
   ["Chassis", ["named-uuid", "pc"]], ["Encap", ["named-uuid", "pe"]],
   ["MAC_Binding", ["named-uuid", "pm"]], ["Port", ["named-uuid", "pp"]]]]}},
 {"op": "insert", "table": "RBAC_Permission", "uuid-name": "pc", "row": {"table": "Chassis",
   "authorization": "name", "insert_delete": true,
   "update": ["set", ["nb_cfg", "external_ids", "other_config"]]}},
 {"op": "insert", "table": "RBAC_Permission", "uuid-name": "pe", "row": {"table": "Encap",
   "authorization": "chassis_name", "insert_delete": true, "update": ["set", ["type", "ip"]]}},
 {"op": "insert", "table": "RBAC_Permission", "uuid-name": "pm", "row": {"table": "MAC_Binding",
   "authorization": "", "insert_delete": true, "update": ["set", ["ip", "mac"]]}},
 {"op": "insert", "table": "RBAC_Permission", "uuid-name": "pp", "row": {"table": "Port",
   "authorization": "options:requested-chassis", "insert_delete": false, "update": "up"}},
 {"op": "insert", "table": "Chassis", "row": {"name": "A", "hostname": "a"}},
 {"op": "insert", "table": "Chassis", "row": {"name": "B", "hostname": "b"}},
 {"op": "insert", "table": "Encap", "row": {"type": "geneve", "ip": "10.0.0.1", "chassis_name": "A"}},
 {"op": "insert", "table": "Encap", "row": {"type": "geneve", "ip": "10.0.0.2", "chassis_name": "B"}},
 {"op": "insert", "table": "Port", "row": {"options": ["map", [["requested-chassis", "A"]]]}},
 {"op": "insert", "table": "Port", "row": {"options": ["map", [["requested-chassis", "B"]]]}},
 {"op": "insert", "table": "Other", "row": {"v": 1}}
]`

func rbacDB(t *testing.T) *Database {
	t.Helper()
	s, err := schema.ParseSchemaBytes([]byte(rbacSchema))
	require.NoError(t, err)
	db := NewDatabase(s, NopCommitter{})
	res := db.Transact(context.Background(), decode(t, rbacSeed).([]any), TransactOptions{})
	require.NotContains(t, string(cjson.Marshal(res)), "error")
	return db
}

// TestRBAC checks C's rules (ovsdb/rbac.c, the errors of execution.c) on
// each write operation: the expected reply is the last element's error
// details, or "" when the transaction must succeed.
func TestRBAC(t *testing.T) {
	ctl := TransactOptions{Role: "ovn-controller", ClientID: "A", HasClientID: true}
	perm := func(what, table string) string {
		return `RBAC rules for client "A" role "ovn-controller" prohibit ` + what + ` table "` + table + `".`
	}
	cases := []struct {
		name string
		opts TransactOptions
		ops  string
		want string
	}{
		{"no role: unrestricted", TransactOptions{},
			`{"op": "delete", "table": "Chassis", "where": []}`, ""},
		{"reads unrestricted", TransactOptions{Role: "nobody"},
			`{"op": "select", "table": "Chassis", "where": []}`, ""},
		{"wait unrestricted", TransactOptions{Role: "nobody"},
			`{"op": "wait", "table": "Chassis", "where": [["name", "==", "A"]], "columns": ["hostname"], "until": "==", "rows": [{"hostname": "a"}], "timeout": 0}`, ""},
		{"role without id", TransactOptions{Role: "ovn-controller"},
			`{"op": "update", "table": "Chassis", "where": [["name", "==", "A"]], "row": {"nb_cfg": 1}}`,
			`RBAC rules for client "(null)" role "ovn-controller" prohibit modification of table "Chassis".`},
		{"undefined role: insert", TransactOptions{Role: "nobody", ClientID: "A", HasClientID: true},
			`{"op": "insert", "table": "MAC_Binding", "row": {"ip": "1.1.1.1"}}`,
			`RBAC rules for client "A" role "nobody" prohibit row insertion into table "MAC_Binding".`},
		{"undefined role: delete of nothing", TransactOptions{Role: "nobody", ClientID: "A", HasClientID: true},
			`{"op": "delete", "table": "MAC_Binding", "where": []}`,
			`RBAC rules for client "A" role "nobody" prohibit row deletion from table "MAC_Binding".`},
		{"own chassis: update", ctl,
			`{"op": "update", "table": "Chassis", "where": [["name", "==", "A"]], "row": {"nb_cfg": 1, "external_ids": ["map", [["k", "v"]]]}}`, ""},
		{"own chassis: column not in update", ctl,
			`{"op": "update", "table": "Chassis", "where": [["name", "==", "A"]], "row": {"hostname": "x"}}`,
			perm("modification of", "Chassis")},
		{"other chassis: update", ctl,
			`{"op": "update", "table": "Chassis", "where": [["name", "==", "B"]], "row": {"nb_cfg": 1}}`,
			perm("modification of", "Chassis")},
		{"update matching own and other", ctl,
			`{"op": "update", "table": "Chassis", "where": [], "row": {"nb_cfg": 1}}`,
			perm("modification of", "Chassis")},
		{"update matching nothing", ctl,
			`{"op": "update", "table": "Chassis", "where": [["name", "==", "Z"]], "row": {"hostname": "x"}}`, ""},
		{"own chassis: mutate", ctl,
			`{"op": "mutate", "table": "Chassis", "where": [["name", "==", "A"]], "mutations": [["nb_cfg", "+=", 1]]}`, ""},
		{"other chassis: mutate", ctl,
			`{"op": "mutate", "table": "Chassis", "where": [["name", "==", "B"]], "mutations": [["nb_cfg", "+=", 1]]}`,
			perm("mutate operation on", "Chassis")},
		{"own chassis: mutate of column not in update", ctl,
			`{"op": "mutate", "table": "Port", "where": [["options", "includes", ["map", [["requested-chassis", "A"]]]]], "mutations": [["options", "insert", ["map", [["k", "v"]]]]]}`,
			perm("mutate operation on", "Port")},
		{"own chassis: insert", ctl,
			`{"op": "insert", "table": "Encap", "row": {"type": "vxlan", "ip": "10.0.0.3", "chassis_name": "A"}}`, ""},
		{"other chassis: insert", ctl,
			`{"op": "insert", "table": "Encap", "row": {"type": "vxlan", "ip": "10.0.0.3", "chassis_name": "B"}}`,
			perm("row insertion into", "Encap")},
		{"insert with default authorization column", ctl,
			`{"op": "insert", "table": "Chassis", "row": {"hostname": "c"}}`,
			perm("row insertion into", "Chassis")},
		{"own chassis: delete", ctl,
			`{"op": "delete", "table": "Encap", "where": [["chassis_name", "==", "A"]]}`, ""},
		{"other chassis: delete", ctl,
			`{"op": "delete", "table": "Encap", "where": [["chassis_name", "==", "B"]]}`,
			perm("row deletion from", "Encap")},
		{"any client: insert, update, delete", TransactOptions{Role: "ovn-controller", ClientID: "Z", HasClientID: true},
			`{"op": "insert", "table": "MAC_Binding", "row": {"ip": "1.1.1.1"}},
			 {"op": "update", "table": "MAC_Binding", "where": [], "row": {"mac": "x"}},
			 {"op": "delete", "table": "MAC_Binding", "where": []}`, ""},
		{"table without permissions", ctl,
			`{"op": "update", "table": "Other", "where": [], "row": {"v": 2}}`,
			perm("modification of", "Other")},
		{"map key authorization: own", ctl,
			`{"op": "update", "table": "Port", "where": [["options", "includes", ["map", [["requested-chassis", "A"]]]]], "row": {"up": true}}`, ""},
		{"map key authorization: other", ctl,
			`{"op": "update", "table": "Port", "where": [["options", "includes", ["map", [["requested-chassis", "B"]]]]], "row": {"up": true}}`,
			perm("modification of", "Port")},
		{"insert_delete false", ctl,
			`{"op": "insert", "table": "Port", "row": {"options": ["map", [["requested-chassis", "A"]]]}}`,
			perm("row insertion into", "Port")},
		{"rows of the same transaction are seen", ctl,
			`{"op": "insert", "table": "Chassis", "row": {"name": "A", "hostname": "a2"}, "uuid-name": "n"},
			 {"op": "update", "table": "Chassis", "where": [["_uuid", "==", ["named-uuid", "n"]]], "row": {"nb_cfg": 5}},
			 {"op": "delete", "table": "Chassis", "where": [["_uuid", "==", ["named-uuid", "n"]]]}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := rbacDB(t)
			res := db.Transact(context.Background(), decode(t, "["+c.ops+"]").([]any), c.opts)
			text := string(cjson.Marshal(res))
			if c.want == "" {
				require.NotContains(t, text, "error", text)
				return
			}
			require.Contains(t, text, `"error":"permission error"`, text)
			require.Contains(t, text, cjsonString(c.want), text)
		})
	}
}

func cjsonString(s string) string {
	b := string(cjson.Marshal(s))
	return strings.TrimSuffix(strings.TrimPrefix(b, `"`), `"`)
}

// TestRBACState checks that a refused write changes nothing, that the
// tables are read as the transaction sees them (a role defined earlier in
// the same transaction counts), and that a database without an RBAC_Role
// table is not restricted.
func TestRBACState(t *testing.T) {
	ctx := context.Background()
	db := rbacDB(t)
	ctl := TransactOptions{Role: "ovn-controller", ClientID: "A", HasClientID: true}
	res := db.Transact(ctx, decode(t, `[{"op": "update", "table": "Chassis", "where": [], "row": {"nb_cfg": 7}}]`).([]any), ctl)
	require.Contains(t, string(cjson.Marshal(res)), "permission error")
	n := 0
	db.Read(func(tables map[string]map[schema.UUID]*Row) {
		for _, r := range tables["Chassis"] {
			if k := r.Field(db.Schema().Tables["Chassis"].ByName["nb_cfg"].Index).Keys; k[0].(int64) == 7 {
				n++
			}
		}
	})
	require.Zero(t, n, "a refused update changed rows")

	// The administrator (no role) defines a role for Other in the same
	// transaction as a role-less write: the next transaction of that role
	// sees it.
	res = db.Transact(ctx, decode(t, `[
	 {"op": "insert", "table": "RBAC_Role", "row": {"name": "other", "permissions": ["map", [["Other", ["named-uuid", "p"]]]]}},
	 {"op": "insert", "table": "RBAC_Permission", "uuid-name": "p", "row": {"table": "Other", "authorization": "", "insert_delete": false, "update": "v"}}]`).([]any),
		TransactOptions{})
	require.NotContains(t, string(cjson.Marshal(res)), "error")
	res = db.Transact(ctx, decode(t, `[{"op": "update", "table": "Other", "where": [], "row": {"v": 3}}]`).([]any),
		TransactOptions{Role: "other", ClientID: "x", HasClientID: true})
	require.Equal(t, `[{"count":1}]`, string(cjson.Marshal(res)))

	// No RBAC_Role table: a role restricts nothing.
	plain, err := schema.ParseSchemaBytes([]byte(`{"name": "P", "version": "1.0.0", "tables": {"T": {"columns": {"v": {"type": "integer"}}}}}`))
	require.NoError(t, err)
	pdb := NewDatabase(plain, NopCommitter{})
	res = pdb.Transact(ctx, decode(t, `[{"op": "insert", "table": "T", "row": {"v": 1}}]`).([]any),
		TransactOptions{Role: "ovn-controller"})
	require.NotContains(t, string(cjson.Marshal(res)), "error")
}

package conformance

// RBAC of the Southbound database, C against ours, with the RBAC rows the
// real ovn-northd creates (role "ovn-controller"): sessions of a db:
// remote get the role of its Connection row; writes are checked against
// RBAC_Role/RBAC_Permission with the client's id, the common name of its
// certificate (none without TLS: C then refuses every write of a session
// with a role, naming the client "(null)").

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// rbacSeed is what the administrator writes before the tests: chassis A
// and B (as ovn-controller registers them: Chassis with its Encap,
// Chassis_Private), a datapath and two port bindings.
const rbacSeed = `[
 {"op": "insert", "table": "Encap", "uuid-name": "ea", "row": {"type": "geneve", "ip": "192.0.2.1", "chassis_name": "chassis-a", "options": ["map", [["csum", "true"]]]}},
 {"op": "insert", "table": "Chassis", "uuid-name": "ca", "row": {"name": "chassis-a", "hostname": "host-a", "encaps": ["named-uuid", "ea"]}},
 {"op": "insert", "table": "Chassis_Private", "row": {"name": "chassis-a", "chassis": ["named-uuid", "ca"]}},
 {"op": "insert", "table": "Encap", "uuid-name": "eb", "row": {"type": "geneve", "ip": "192.0.2.2", "chassis_name": "chassis-b"}},
 {"op": "insert", "table": "Chassis", "uuid-name": "cb", "row": {"name": "chassis-b", "hostname": "host-b", "encaps": ["named-uuid", "eb"]}},
 {"op": "insert", "table": "Chassis_Private", "row": {"name": "chassis-b", "chassis": ["named-uuid", "cb"]}},
 {"op": "insert", "table": "Datapath_Binding", "uuid-name": "dp", "row": {"tunnel_key": 1}},
 {"op": "insert", "table": "Port_Binding", "row": {"logical_port": "lsp-a", "datapath": ["named-uuid", "dp"], "tunnel_key": 1}},
 {"op": "insert", "table": "Port_Binding", "row": {"logical_port": "lsp-b", "datapath": ["named-uuid", "dp"], "tunnel_key": 2}}
]`

// rbacStep is one transaction of a client and whether chassis A (the
// client whose certificate's CN is "chassis-a") may do it.
type rbacStep struct {
	name string
	ops  string // JSON array of operations
	// allowedA: chassis A's transaction succeeds; otherwise it fails
	// with refusal, the error details C gives.
	allowedA bool
	refusal  string // "insertion into", "deletion from", "modification of", "mutate operation on"
	table    string
	write    bool // false: a read, allowed to every client
}

// rbacSteps are the client's transactions, in order (each sees the
// effects of the previous ones): chassis A's own rows, chassis B's, the
// columns outside the update lists, inserts and deletes, and tables open
// to every chassis.
var rbacSteps = []rbacStep{
	{name: "read chassis", ops: `[{"op": "select", "table": "Chassis", "where": [["name", "==", "chassis-b"]], "columns": ["name", "hostname"]}]`, allowedA: true},
	{name: "read RBAC", ops: `[{"op": "select", "table": "RBAC_Role", "where": [], "columns": ["name"]}]`, allowedA: true},
	{name: "update own chassis", ops: `[{"op": "update", "table": "Chassis", "where": [["name", "==", "chassis-a"]], "row": {"nb_cfg": 1, "external_ids": ["map", [["ovn-bridge-mappings", ""]]], "other_config": ["map", [["datapath-type", "system"]]]}}]`,
		allowedA: true, refusal: "modification of", table: "Chassis", write: true},
	{name: "update other chassis", ops: `[{"op": "update", "table": "Chassis", "where": [["name", "==", "chassis-b"]], "row": {"nb_cfg": 1}}]`,
		refusal: "modification of", table: "Chassis", write: true},
	{name: "update own chassis hostname", ops: `[{"op": "update", "table": "Chassis", "where": [["name", "==", "chassis-a"]], "row": {"hostname": "renamed"}}]`,
		refusal: "modification of", table: "Chassis", write: true},
	{name: "update every chassis", ops: `[{"op": "update", "table": "Chassis", "where": [], "row": {"nb_cfg": 2}}]`,
		refusal: "modification of", table: "Chassis", write: true},
	{name: "mutate own chassis", ops: `[{"op": "mutate", "table": "Chassis", "where": [["name", "==", "chassis-a"]], "mutations": [["nb_cfg", "+=", 1], ["external_ids", "insert", ["map", [["k", "v"]]]]]}]`,
		allowedA: true, refusal: "mutate operation on", table: "Chassis", write: true},
	{name: "mutate other chassis", ops: `[{"op": "mutate", "table": "Chassis", "where": [["name", "==", "chassis-b"]], "mutations": [["nb_cfg", "+=", 1]]}]`,
		refusal: "mutate operation on", table: "Chassis", write: true},
	{name: "update own encap", ops: `[{"op": "update", "table": "Encap", "where": [["chassis_name", "==", "chassis-a"]], "row": {"ip": "192.0.2.11", "options": ["map", [["csum", "false"]]]}}]`,
		allowedA: true, refusal: "modification of", table: "Encap", write: true},
	{name: "update other encap", ops: `[{"op": "update", "table": "Encap", "where": [["chassis_name", "==", "chassis-b"]], "row": {"ip": "192.0.2.12"}}]`,
		refusal: "modification of", table: "Encap", write: true},
	{name: "move own encap to other chassis", ops: `[{"op": "update", "table": "Encap", "where": [["chassis_name", "==", "chassis-a"]], "row": {"chassis_name": "chassis-b"}}]`,
		refusal: "modification of", table: "Encap", write: true},
	{name: "insert own encap", ops: `[{"op": "insert", "table": "Encap", "uuid-name": "e", "row": {"type": "vxlan", "ip": "192.0.2.21", "chassis_name": "chassis-a"}},
	  {"op": "mutate", "table": "Chassis", "where": [["name", "==", "chassis-a"]], "mutations": [["encaps", "insert", ["set", [["named-uuid", "e"]]]]]}]`,
		allowedA: true, refusal: "insertion into", table: "Encap", write: true},
	{name: "insert encap of other chassis", ops: `[{"op": "insert", "table": "Encap", "row": {"type": "vxlan", "ip": "192.0.2.22", "chassis_name": "chassis-b"}}]`,
		refusal: "insertion into", table: "Encap", write: true},
	{name: "delete other encap", ops: `[{"op": "delete", "table": "Encap", "where": [["chassis_name", "==", "chassis-b"], ["ip", "!=", "192.0.2.11"]]},
	  {"op": "delete", "table": "Chassis", "where": [["name", "==", "chassis-b"]]}]`,
		refusal: "deletion from", table: "Encap", write: true},
	{name: "insert chassis of another name", ops: `[{"op": "insert", "table": "Encap", "uuid-name": "e", "row": {"type": "geneve", "ip": "192.0.2.31", "chassis_name": "chassis-c"}},
	  {"op": "insert", "table": "Chassis", "row": {"name": "chassis-c", "hostname": "c", "encaps": ["named-uuid", "e"]}}]`,
		refusal: "insertion into", table: "Encap", write: true},
	{name: "update own chassis_private", ops: `[{"op": "update", "table": "Chassis_Private", "where": [["name", "==", "chassis-a"]], "row": {"nb_cfg": 3, "nb_cfg_timestamp": 1700000000000}}]`,
		allowedA: true, refusal: "modification of", table: "Chassis_Private", write: true},
	{name: "update other chassis_private", ops: `[{"op": "update", "table": "Chassis_Private", "where": [["name", "==", "chassis-b"]], "row": {"nb_cfg": 3}}]`,
		refusal: "modification of", table: "Chassis_Private", write: true},
	{name: "claim port binding", ops: `[{"op": "update", "table": "Port_Binding", "where": [["logical_port", "==", "lsp-a"]], "row": {"up": true}}]`,
		allowedA: true, refusal: "modification of", table: "Port_Binding", write: true},
	{name: "port binding column outside update", ops: `[{"op": "update", "table": "Port_Binding", "where": [["logical_port", "==", "lsp-a"]], "row": {"tunnel_key": 7}}]`,
		refusal: "modification of", table: "Port_Binding", write: true},
	{name: "delete port binding", ops: `[{"op": "delete", "table": "Port_Binding", "where": [["logical_port", "==", "lsp-b"]]}]`,
		refusal: "deletion from", table: "Port_Binding", write: true},
	{name: "table without permission", ops: `[{"op": "update", "table": "Datapath_Binding", "where": [], "row": {"external_ids": ["map", [["k", "v"]]]}}]`,
		refusal: "modification of", table: "Datapath_Binding", write: true},
	{name: "delete other chassis", ops: `[{"op": "delete", "table": "Chassis", "where": [["name", "==", "chassis-b"]]}]`,
		refusal: "deletion from", table: "Chassis", write: true},
	{name: "delete own chassis_private", ops: `[{"op": "delete", "table": "Chassis_Private", "where": [["name", "==", "chassis-a"]]}]`,
		allowedA: true, refusal: "deletion from", table: "Chassis_Private", write: true},
}

// rbacStepNamed returns the step of rbacSteps with that name.
func rbacStepNamed(t *testing.T, name string) rbacStep {
	t.Helper()
	for _, s := range rbacSteps {
		if s.name == name {
			return s
		}
	}
	t.Fatalf("no step %q", name)
	return rbacStep{}
}

// rbacRefusal is C's error details for a refused step.
func rbacRefusal(client, role string, s rbacStep) string {
	prep := map[string]string{"insertion into": "row insertion into", "deletion from": "row deletion from"}[s.refusal]
	if prep == "" {
		prep = s.refusal
	}
	return fmt.Sprintf("RBAC rules for client \"%s\" role \"%s\" prohibit %s table \"%s\".", client, role, prep, s.table)
}

// runRBACSteps runs the steps on c and returns the masked replies; it
// checks each against expect(step) (true: succeeds) and the error C
// gives for client and role otherwise.
func runRBACSteps(t *testing.T, impl string, c *rpcConn, client, role string, expect func(rbacStep) bool) []string {
	t.Helper()
	var out []string
	for _, s := range rbacSteps {
		res := c.transact(t, "OVN_Southbound", opsJSON(t, s.ops)...)
		text := canon(res)
		if expect(s) {
			require.NotContains(t, text, `"error"`, "%s: %s: %s", impl, s.name, text)
		} else {
			require.Contains(t, text, `"error":"permission error"`, "%s: %s", impl, s.name)
			require.Contains(t, text, strings.ReplaceAll(rbacRefusal(client, role, s), `"`, `\"`), "%s: %s", impl, s.name)
		}
		out = append(out, s.name+": "+maskReply(res))
	}
	return out
}

// TestE2ERBACWithoutTLS: over a db: remote whose Connection row has a
// role, without TLS, the client has no id: C and ours refuse every write
// with the role "ovn-controller" (naming the client "(null)") and with an
// undefined role, allow reads, and do not restrict a connection whose
// role is empty; the replies are the same.
func TestE2ERBACWithoutTLS(t *testing.T) {
	impls := e2eImplementations(t)
	rbacOps := northdRBAC(t)
	t.Logf("ovn-northd's RBAC permissions: %v", rbacTables(rbacOps))
	require.Subset(t, rbacTables(rbacOps), []string{"Chassis", "Chassis_Private", "Encap", "Port_Binding", "MAC_Binding"})
	replies := map[string][]string{}
	for _, impl := range impls {
		rs := startRBACServer(t, impl, rbacOps, opsJSON(t, rbacSeed), nil)
		ctlSock := filepath.Join(rs.dir, "ctl-role.sock")
		nobodySock := filepath.Join(rs.dir, "nobody.sock")
		noRoleSock := filepath.Join(rs.dir, "norole.sock")
		rs.addConnections(t, map[string]string{"punix:" + ctlSock: "ovn-controller",
			"punix:" + nobodySock: "nobody", "punix:" + noRoleSock: ""})
		for _, p := range []string{ctlSock, nobodySock, noRoleSock} {
			waitUnix(t, p)
		}
		readOnly := func(s rbacStep) bool { return !s.write }
		r := runRBACSteps(t, impl.name, dialRPC(t, "unix", ctlSock), "(null)", "ovn-controller", readOnly)
		r = append(r, runRBACSteps(t, impl.name, dialRPC(t, "unix", nobodySock), "(null)", "nobody", readOnly)...)
		r = append(r, runRBACSteps(t, impl.name, dialRPC(t, "unix", noRoleSock), "", "",
			func(rbacStep) bool { return true })...)
		replies[impl.name] = r
	}
	require.Equal(t, replies["C"], replies["Go"])
}

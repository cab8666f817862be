package conformance

// Helpers of the RBAC tests (e2e_rbac_test.go): the RBAC rows as the real
// ovn-northd writes them, a Southbound database served with a role'd
// db: remote, and a JSON-RPC client over any connection (unix or TLS).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	northdRBACOnce sync.Once
	northdRBACOps  []any
	northdRBACErr  string
)

// northdRBAC returns the operations that insert, on an empty Southbound
// database, the RBAC_Role and RBAC_Permission rows the real ovn-northd
// creates (its role "ovn-controller"): it runs ovn-northd once on a C
// server, reads the rows back and turns them into inserts (permissions
// by named-uuid). The result is shared by the tests of the package.
func northdRBAC(t *testing.T) []any {
	t.Helper()
	impls := e2eImplementations(t)
	northdRBACOnce.Do(func() {
		northdRBACErr = "reading ovn-northd's RBAC rows failed in an earlier test"
		northdRBACOps, northdRBACErr = readNorthdRBAC(t, impls[0])
	})
	if northdRBACErr != "" {
		t.Fatal(northdRBACErr)
	}
	return northdRBACOps
}

func readNorthdRBAC(t *testing.T, c e2eImpl) ([]any, string) {
	nb := startOVNDB(t, c, "nb")
	sb := startOVNDB(t, c, "sb")
	nd := startNorthd(t, nb, sb)
	cl := dialRPC(t, "unix", sb.sock)
	var perms, roles []map[string]any
	deadline := time.Now().Add(e2eWait)
	for {
		res := cl.transact(t, "OVN_Southbound",
			map[string]any{"op": "select", "table": "RBAC_Role", "where": []any{[]any{"name", "==", "ovn-controller"}}},
			map[string]any{"op": "select", "table": "RBAC_Permission", "where": []any{}})
		roles, perms = rowsOf(res[0]), rowsOf(res[1])
		if len(roles) == 1 && len(perms) > 0 && len(perms) == len(pairsOf(roles[0]["permissions"])) {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Sprintf("ovn-northd made no complete RBAC rows within %v; log:\n%s", e2eWait, nd.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	names := map[string]string{} // permission _uuid -> uuid-name
	var ops []any
	sort.Slice(perms, func(i, j int) bool { return fmt.Sprint(perms[i]["table"]) < fmt.Sprint(perms[j]["table"]) })
	for i, p := range perms {
		id := p["_uuid"].([]any)[1].(string)
		names[id] = fmt.Sprintf("perm%d", i)
		row := map[string]any{}
		for _, col := range []string{"table", "authorization", "insert_delete", "update"} {
			row[col] = p[col]
		}
		ops = append(ops, map[string]any{"op": "insert", "table": "RBAC_Permission", "uuid-name": names[id], "row": row})
	}
	var pairs []any
	for _, kv := range pairsOf(roles[0]["permissions"]) {
		kv := kv.([]any)
		pairs = append(pairs, []any{kv[0], []any{"named-uuid", names[kv[1].([]any)[1].(string)]}})
	}
	ops = append(ops, map[string]any{"op": "insert", "table": "RBAC_Role",
		"row": map[string]any{"name": "ovn-controller", "permissions": []any{"map", pairs}}})
	return ops, ""
}

// rowsOf returns the rows of a select result.
func rowsOf(res any) []map[string]any {
	m, _ := res.(map[string]any)
	rs, _ := m["rows"].([]any)
	out := make([]map[string]any, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.(map[string]any))
	}
	return out
}

// pairsOf returns the pairs of a map datum (["map", [[k, v]...]]).
func pairsOf(d any) []any {
	a, ok := d.([]any)
	if !ok || len(a) != 2 || a[0] != "map" {
		return nil
	}
	ps, _ := a[1].([]any)
	return ps
}

// rbacTables lists the tables of northd's RBAC rows (for the log).
func rbacTables(ops []any) []string {
	var out []string
	for _, op := range ops {
		m := op.(map[string]any)
		if m["table"] == "RBAC_Permission" {
			out = append(out, m["row"].(map[string]any)["table"].(string))
		}
	}
	return out
}

// rpcConn is a JSON-RPC 1.0 client over any stream (unix socket or TLS),
// independent of the project's jsonrpc package.
type rpcConn struct {
	conn net.Conn
	dec  *json.Decoder
	id   int
}

// dialRPC connects to network/addr ("unix", path); it is closed when the
// test ends.
func dialRPC(t *testing.T, network, addr string) *rpcConn {
	t.Helper()
	c, err := net.DialTimeout(network, addr, e2eWait)
	require.NoError(t, err)
	return newRPCConn(t, c)
}

func newRPCConn(t *testing.T, c net.Conn) *rpcConn {
	t.Helper()
	t.Cleanup(func() { _ = c.Close() })
	dec := json.NewDecoder(bufio.NewReader(c))
	dec.UseNumber()
	return &rpcConn{conn: c, dec: dec}
}

// transact sends one transact and returns its result array (an error reply
// fails the test).
func (c *rpcConn) transact(t *testing.T, db string, ops ...any) []any {
	t.Helper()
	res, err := c.call("transact", append([]any{db}, ops...))
	require.NoError(t, err)
	arr, ok := res.([]any)
	require.True(t, ok, "transact result %v", res)
	return arr
}

// call sends a request and returns its result; server echo requests are
// answered, notifications skipped.
func (c *rpcConn) call(method string, params []any) (any, error) {
	c.id++
	req, err := json.Marshal(map[string]any{"method": method, "params": params, "id": c.id})
	if err != nil {
		return nil, err
	}
	_ = c.conn.SetDeadline(time.Now().Add(e2eWait))
	if _, err := c.conn.Write(req); err != nil {
		return nil, err
	}
	for {
		var m map[string]any
		if err := c.dec.Decode(&m); err != nil {
			return nil, err
		}
		if m["method"] == "echo" && m["id"] != nil {
			b, _ := json.Marshal(map[string]any{"result": m["params"], "error": nil, "id": m["id"]})
			if _, err := c.conn.Write(b); err != nil {
				return nil, err
			}
			continue
		}
		if m["method"] != nil {
			continue
		}
		if fmt.Sprint(m["id"]) != fmt.Sprint(c.id) {
			continue
		}
		if m["error"] != nil {
			return nil, fmt.Errorf("%s error: %v", method, m["error"])
		}
		return m["result"], nil
	}
}

// rbacServer is a Southbound database served by one implementation, with
// an administrator socket (sock, no role) and the db: remote
// SB_Global:connections.
type rbacServer struct {
	*server
	admin *rpcConn
}

// startRBACServer serves a new Southbound database with impl, the
// northd RBAC rows and seed written through the administrator socket
// (before the Connection rows, which connections adds).
func startRBACServer(t *testing.T, impl e2eImpl, rbacOps []any, seed []any, extraRemotes []string, extraArgs ...string) *rbacServer {
	t.Helper()
	dir := t.TempDir()
	sbFile := dbrCreate(t, dir, "sb.db", ovnSBSchema)
	remotes := append([]string{"db:OVN_Southbound,SB_Global,connections"}, extraRemotes...)
	s := dbrStart(t, impl, dir, remotes, append(extraArgs, sbFile)...)
	rs := &rbacServer{server: s, admin: dialRPC(t, "unix", s.sock)}
	res := rs.admin.transact(t, "OVN_Southbound", append(append([]any{}, rbacOps...), seed...)...)
	require.NotContains(t, canon(res), `"error"`, "%s: seeding", impl.name)
	return rs
}

// addConnections adds Connection rows (target -> role) to SB_Global's
// connections (making the SB_Global row if there is none).
func (rs *rbacServer) addConnections(t *testing.T, conns map[string]string) {
	t.Helper()
	var ops []any
	var refs []any
	targets := make([]string, 0, len(conns))
	for target := range conns {
		targets = append(targets, target)
	}
	sort.Strings(targets)
	for i, target := range targets {
		name := fmt.Sprintf("conn%d", i)
		ops = append(ops, map[string]any{"op": "insert", "table": "Connection", "uuid-name": name,
			"row": map[string]any{"target": target, "role": conns[target]}})
		refs = append(refs, []any{"named-uuid", name})
	}
	res := rs.admin.transact(t, "OVN_Southbound", map[string]any{"op": "select", "table": "SB_Global", "where": []any{}})
	if len(rowsOf(res[0])) == 0 {
		ops = append(ops, map[string]any{"op": "insert", "table": "SB_Global", "row": map[string]any{
			"connections": []any{"set", refs}}})
	} else {
		ops = append(ops, map[string]any{"op": "mutate", "table": "SB_Global", "where": []any{},
			"mutations": []any{[]any{"connections", "insert", []any{"set", refs}}}})
	}
	res = rs.admin.transact(t, "OVN_Southbound", ops...)
	require.NotContains(t, canon(res), `"error"`, "%s: adding connections", rs.name)
}

// waitUnix waits until the unix socket path accepts connections.
func waitUnix(t *testing.T, path string) {
	t.Helper()
	dbrWait(t, "listener "+filepath.Base(path), func() bool {
		c, err := net.Dial("unix", path)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	})
}

// maskReply is a reply with its UUIDs masked, for comparing C and ours.
func maskReply(v any) string { return maskUUIDs(canon(v)) }

// opsJSON parses a JSON array of operations.
func opsJSON(t *testing.T, s string) []any {
	t.Helper()
	var v []any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	require.NoError(t, d.Decode(&v))
	return v
}

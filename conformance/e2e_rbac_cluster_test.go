package conformance

// RBAC on a clustered Southbound database: every member serves the db:
// remote of the replicated Connection rows; a write of a session with a
// role, received by any member (the leader, or a follower that forwards
// it), is checked with that session's role and id by every member's state
// machine: the Raft entry carries them.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// startMemberRemotes starts member m of c with server and extra options
// (--remote=... and others) and database files after its own; relative
// punix: targets resolve in rundir (OVS_RUNDIR), one per member.
func startMemberRemotes(c *ovnCluster, server string, m *clusterMember, rundir string, opts []string, dbs ...string) {
	c.t.Helper()
	args := []string{"--remote=punix:" + m.sock, "--unixctl=" + m.ctl, "--no-chdir", "--log-file=" + m.log}
	args = append(args, opts...)
	args = append(args, m.db)
	c.startArgs(server, m, append(os.Environ(), "OVS_RUNDIR="+rundir), append(args, dbs...)...)
}

// TestE2ERBACCluster: on a 3-member cluster of our server, the sessions
// of a role'd db: remote on every member (leader and followers) are
// refused every write with C's error (no TLS: no id), reads pass, and a
// connection without a role writes through any member; the refused
// writes changed nothing on any member.
func TestE2ERBACCluster(t *testing.T) {
	srv, tool := clusterTools(t)
	rbacOps := northdRBAC(t)
	c := startOVNCluster(t, srv, tool, "sb", 3)
	rundirs := make([]string, len(c.members))
	for i, m := range c.members {
		rundirs[i] = filepath.Join(c.dir, fmt.Sprintf("run%d", i))
		require.NoError(t, os.MkdirAll(rundirs[i], 0o755))
		c.kill(m)
		startMemberRemotes(c, srv, m, rundirs[i], []string{"--remote=db:OVN_Southbound,SB_Global,connections"})
	}
	leader := c.waitLeader(c.members)
	admin := dialRPC(t, "unix", leader.sock)
	res := admin.transact(t, "OVN_Southbound", append(append([]any{}, rbacOps...), opsJSON(t, rbacSeed)...)...)
	require.NotContains(t, canon(res), `"error"`)
	rs := &rbacServer{server: &server{name: "Go cluster"}, admin: admin}
	rs.addConnections(t, map[string]string{"punix:rbac-ctl.sock": "ovn-controller", "punix:rbac-norole.sock": ""})

	step := func(name string) rbacStep { return rbacStepNamed(t, name) }
	for i, m := range c.members {
		who := "follower"
		if m == leader {
			who = "leader"
		}
		ctlSock := filepath.Join(rundirs[i], "rbac-ctl.sock")
		waitUnix(t, ctlSock)
		cl := dialRPC(t, "unix", ctlSock)
		read := step("read chassis")
		require.NotContains(t, canon(cl.transact(t, "OVN_Southbound", opsJSON(t, read.ops)...)), `"error"`)
		for _, name := range []string{"update own chassis", "mutate own chassis", "insert own encap", "delete own chassis_private"} {
			s := step(name)
			text := canon(cl.transact(t, "OVN_Southbound", opsJSON(t, s.ops)...))
			require.Contains(t, text, strings.ReplaceAll(rbacRefusal("(null)", "ovn-controller", s), `"`, `\"`),
				"member %d (%s): %s", i, who, name)
		}
		noRoleSock := filepath.Join(rundirs[i], "rbac-norole.sock")
		waitUnix(t, noRoleSock)
		text := canon(dialRPC(t, "unix", noRoleSock).transact(t, "OVN_Southbound", opsJSON(t,
			`[{"op": "mutate", "table": "Chassis", "where": [["name", "==", "chassis-b"]], "mutations": [["nb_cfg", "+=", 1]]}]`)...))
		require.Equal(t, `[{"count":1}]`, text, "member %d (%s): no role", i, who)
	}
	// Every member has the same state: the refused writes changed nothing
	// (chassis-a's nb_cfg and Chassis_Private are as seeded), the allowed
	// ones count once per member.
	for i, m := range c.members {
		cl := dialRPC(t, "unix", m.sock)
		dbrWait(t, fmt.Sprintf("member %d caught up", i), func() bool {
			res := cl.transact(t, "OVN_Southbound",
				map[string]any{"op": "select", "table": "Chassis", "where": []any{[]any{"name", "==", "chassis-a"}}, "columns": []any{"name", "nb_cfg"}},
				map[string]any{"op": "select", "table": "Chassis", "where": []any{[]any{"name", "==", "chassis-b"}}, "columns": []any{"name", "nb_cfg"}},
				map[string]any{"op": "select", "table": "Chassis_Private", "where": []any{[]any{"name", "==", "chassis-a"}}, "columns": []any{"name"}})
			return canon(res) == `[{"rows":[{"name":"chassis-a","nb_cfg":0}]},{"rows":[{"name":"chassis-b","nb_cfg":3}]},{"rows":[{"name":"chassis-a"}]}]`
		})
	}
}

// rbacConfSchema is a member's own (standalone) database of remotes: the
// cluster's Connection rows are shared by every member, but each member
// of a test on one host needs its own pssl: port.
const rbacConfSchema = `{"name": "Conf", "version": "1.0.0", "tables": {
 "Root": {"columns": {"connections": {"type": {"key": {"type": "uuid", "refTable": "Connection"}, "min": 0, "max": "unlimited"}}}},
 "Connection": {"columns": {"target": {"type": "string"}, "role": {"type": "string"}}}}}`

// TestE2ERBACClusterTLS: on a 3-member cluster of ours, a client whose
// certificate's CN is chassis-a, connected over TLS to a role'd pssl:
// remote of any member (leader or follower), may update its own chassis
// and is refused chassis B's with C's error: the Raft entry carries the
// role and the id, and every member applies the same outcome.
func TestE2ERBACClusterTLS(t *testing.T) {
	srv, tool := clusterTools(t)
	rbacOps := northdRBAC(t)
	pki := newRBACPKI(t)
	c := startOVNCluster(t, srv, tool, "sb", 3)
	confSchema := filepath.Join(c.dir, "conf.ovsschema")
	require.NoError(t, os.WriteFile(confSchema, []byte(rbacConfSchema), 0o644))
	ports := make([]int, len(c.members))
	for i, m := range c.members {
		conf := dbrCreate(t, c.dir, fmt.Sprintf("conf%d.db", i), confSchema)
		c.kill(m)
		startMemberRemotes(c, srv, m, c.dir, append([]string{"--remote=db:Conf,Root,connections"}, pki.serverArgs()...), conf)
	}
	leader := c.waitLeader(c.members)
	res := dialRPC(t, "unix", leader.sock).transact(t, "OVN_Southbound", append(append([]any{}, rbacOps...), opsJSON(t, rbacSeed)...)...)
	require.NotContains(t, canon(res), `"error"`)
	for i, m := range c.members {
		ports[i] = dbrFreePort(t)
		res := dialRPC(t, "unix", m.sock).transact(t, "Conf", opsJSON(t, fmt.Sprintf(`[
		 {"op": "insert", "table": "Connection", "uuid-name": "c", "row": {"target": "pssl:%d:127.0.0.1", "role": "ovn-controller"}},
		 {"op": "insert", "table": "Root", "row": {"connections": ["named-uuid", "c"]}}]`, ports[i]))...)
		require.NotContains(t, canon(res), `"error"`)
	}
	for i, m := range c.members {
		who := "follower"
		if m == leader {
			who = "leader"
		}
		pki.waitTLS(t, ports[i], "probe")
		a := pki.dialTLS(t, ports[i], "chassis-a")
		own := a.transact(t, "OVN_Southbound", opsJSON(t, `[{"op": "mutate", "table": "Chassis", "where": [["name", "==", "chassis-a"]], "mutations": [["nb_cfg", "+=", 1]]}]`)...)
		require.Equal(t, `[{"count":1}]`, canon(own), "member %d (%s): own chassis", i, who)
		s := rbacStepNamed(t, "update other chassis")
		other := canon(a.transact(t, "OVN_Southbound", opsJSON(t, s.ops)...))
		require.Contains(t, other, strings.ReplaceAll(rbacRefusal("chassis-a", "ovn-controller", s), `"`, `\"`),
			"member %d (%s): other chassis", i, who)
	}
	for i, m := range c.members {
		cl := dialRPC(t, "unix", m.sock)
		dbrWait(t, fmt.Sprintf("member %d caught up", i), func() bool {
			res := cl.transact(t, "OVN_Southbound",
				map[string]any{"op": "select", "table": "Chassis", "where": []any{[]any{"name", "==", "chassis-a"}}, "columns": []any{"nb_cfg"}},
				map[string]any{"op": "select", "table": "Chassis", "where": []any{[]any{"name", "==", "chassis-b"}}, "columns": []any{"nb_cfg"}})
			return canon(res) == `[{"rows":[{"nb_cfg":3}]},{"rows":[{"nb_cfg":0}]}]`
		})
	}
}

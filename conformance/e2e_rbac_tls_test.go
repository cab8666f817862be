package conformance

// RBAC over TLS, C against ours: the client's id is the common name of its
// certificate (a throwaway CA made by the test), so ovn-northd's rules
// let chassis A write its own Chassis, Encap and Chassis_Private rows and
// refuse chassis B's, with C's errors; and the real ovn-controller
// registers its chassis through RBAC.

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf/tlstest"
)

// rbacPKI is a throwaway CA with the server's certificate and the
// chassis' client certificates (CN = chassis name), as PEM files.
type rbacPKI struct {
	ca              *tlstest.CA
	caFile          string
	srvCert, srvKey string
	dir             string
}

func newRBACPKI(t *testing.T) *rbacPKI {
	t.Helper()
	p := &rbacPKI{dir: t.TempDir(), ca: tlstest.NewCA(t, "rbac test CA")}
	p.caFile = p.ca.Write(t, p.dir, "cacert")
	p.srvCert, p.srvKey = p.ca.Issue(t, "ovsdb-server").Write(t, p.dir, "server")
	return p
}

// serverArgs are the SSL options of both implementations.
func (p *rbacPKI) serverArgs() []string {
	return []string{"--private-key=" + p.srvKey, "--certificate=" + p.srvCert, "--ca-cert=" + p.caFile}
}

// client returns the certificate and key files of a client with common
// name cn, signed by the CA.
func (p *rbacPKI) client(t *testing.T, cn string) (certFile, keyFile string) {
	t.Helper()
	return p.ca.Issue(t, cn).Write(t, p.dir, "client-"+cn)
}

// dialTLS connects to 127.0.0.1:port with the client certificate of cn,
// verifying the server against the CA.
func (p *rbacPKI) dialTLS(t *testing.T, port int, cn string) *rpcConn {
	t.Helper()
	certFile, keyFile := p.client(t, cn)
	kp, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	d := &net.Dialer{Timeout: e2eWait}
	c, err := tls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", port),
		&tls.Config{Certificates: []tls.Certificate{kp}, RootCAs: pool, ServerName: "localhost"})
	require.NoError(t, err)
	return newRPCConn(t, c)
}

// waitTLS waits until a TLS handshake with the client certificate of cn
// succeeds on port.
func (p *rbacPKI) waitTLS(t *testing.T, port int, cn string) {
	t.Helper()
	certFile, keyFile := p.client(t, cn+"-probe")
	kp, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	dbrWait(t, fmt.Sprintf("TLS listener on port %d", port), func() bool {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", port),
			&tls.Config{Certificates: []tls.Certificate{kp}, RootCAs: pool, ServerName: "localhost"})
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	})
}

// TestE2ERBACTLS: over pssl: remotes of the Connection table, a client
// whose certificate's CN is chassis-a runs the steps (its own rows
// allowed, chassis B's and the columns outside northd's update lists
// refused), chassis B is refused chassis A's rows, and a role that
// RBAC_Role does not define is refused every write; the replies of C and
// ours are the same.
func TestE2ERBACTLS(t *testing.T) {
	impls := e2eImplementations(t)
	rbacOps := northdRBAC(t)
	pki := newRBACPKI(t)
	replies := map[string][]string{}
	for _, impl := range impls {
		rs := startRBACServer(t, impl, rbacOps, opsJSON(t, rbacSeed), nil, pki.serverArgs()...)
		ctlPort, nobodyPort := dbrFreePort(t), dbrFreePort(t)
		rs.addConnections(t, map[string]string{
			fmt.Sprintf("pssl:%d:127.0.0.1", ctlPort):    "ovn-controller",
			fmt.Sprintf("pssl:%d:127.0.0.1", nobodyPort): "nobody"})
		pki.waitTLS(t, ctlPort, "probe")
		pki.waitTLS(t, nobodyPort, "probe")

		// Chassis B first, before chassis A changes anything: chassis A's
		// rows are refused to it, its own are not.
		b := pki.dialTLS(t, ctlPort, "chassis-b")
		var r []string
		for _, st := range []struct {
			step    string
			allowed bool
		}{{"read chassis", true}, {"update own chassis", false}, {"update other chassis", true},
			{"update every chassis", false}, {"mutate own chassis", false}, {"update own encap", false},
			{"update other encap", true}, {"update own chassis_private", false}} {
			s := rbacStepNamed(t, st.step)
			res := b.transact(t, "OVN_Southbound", opsJSON(t, s.ops)...)
			text := canon(res)
			if st.allowed {
				require.NotContains(t, text, `"error"`, "%s: chassis-b: %s", impl.name, s.name)
			} else {
				require.Contains(t, text, strings.ReplaceAll(rbacRefusal("chassis-b", "ovn-controller", s), `"`, `\"`),
					"%s: chassis-b: %s", impl.name, s.name)
			}
			r = append(r, "chassis-b "+s.name+": "+maskReply(res))
		}

		a := pki.dialTLS(t, ctlPort, "chassis-a")
		r = append(r, runRBACSteps(t, impl.name, a, "chassis-a", "ovn-controller",
			func(s rbacStep) bool { return s.allowedA || !s.write })...)
		nobody := pki.dialTLS(t, nobodyPort, "chassis-a")
		r = append(r, runRBACSteps(t, impl.name, nobody, "chassis-a", "nobody",
			func(s rbacStep) bool { return !s.write })...)
		replies[impl.name] = r
	}
	require.Equal(t, replies["C"], replies["Go"])
}

// TestE2ERBACOVNController: the real ovn-controller (no datapath: its
// Open_vSwitch database is served by C's ovsdb-server, no ovs-vswitchd)
// connects over ssl: with the certificate of its chassis to the role'd
// pssl: remote and registers the chassis (Chassis, Encap,
// Chassis_Private) through RBAC, on C and on ours; then the port binding
// claim ovn-controller makes (Port_Binding chassis, encap and up, written
// with its certificate) is replayed, since claiming needs a datapath.
func TestE2ERBACOVNController(t *testing.T) {
	impls := e2eImplementations(t)
	controller := testutil.RequireTool(t, "ovn-controller")
	vsctl := testutil.RequireTool(t, "ovs-vsctl")
	const vswitchSchema = "/usr/share/openvswitch/vswitch.ovsschema"
	rbacOps := northdRBAC(t)
	pki := newRBACPKI(t)
	ctlCert, ctlKey := pki.client(t, "chassis-a")
	results := map[string]string{}
	for _, impl := range impls {
		rs := startRBACServer(t, impl, rbacOps, nil, nil, pki.serverArgs()...)
		port := dbrFreePort(t)
		rs.addConnections(t, map[string]string{fmt.Sprintf("pssl:%d:127.0.0.1", port): "ovn-controller"})
		pki.waitTLS(t, port, "probe")
		// A datapath and a port binding for the claim, as ovn-northd
		// would make them.
		res := rs.admin.transact(t, "OVN_Southbound", opsJSON(t, `[
		 {"op": "insert", "table": "Datapath_Binding", "uuid-name": "dp", "row": {"tunnel_key": 1}},
		 {"op": "insert", "table": "Port_Binding", "row": {"logical_port": "lsp-a", "datapath": ["named-uuid", "dp"], "tunnel_key": 1}}]`)...)
		require.NotContains(t, canon(res), `"error"`)

		// The chassis' Open_vSwitch database (C's server).
		dir := t.TempDir()
		ovsDB := dbrCreate(t, dir, "conf.db", vswitchSchema)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "ovs"), 0o755))
		ovs := dbrStart(t, e2eImpl{name: "C (Open_vSwitch)", bin: testutil.RequireTool(t, "ovsdb-server")}, filepath.Join(dir, "ovs"), nil, ovsDB)
		out, err := exec.Command(vsctl, "--db=unix:"+ovs.sock, "--no-wait", "init", "--",
			"set", "Open_vSwitch", ".", "external_ids:system-id=chassis-a",
			fmt.Sprintf("external_ids:ovn-remote=ssl:127.0.0.1:%d", port),
			"external_ids:ovn-encap-type=geneve", "external_ids:ovn-encap-ip=192.0.2.1",
			"external_ids:hostname=host-a").CombinedOutput()
		require.NoError(t, err, "ovs-vsctl: %s", out)

		rundir := filepath.Join(dir, "run")
		require.NoError(t, os.MkdirAll(rundir, 0o755))
		logFile := filepath.Join(rundir, "ovn-controller.log")
		cmd := exec.Command(controller, "unix:"+ovs.sock, "--no-chdir", "--log-file="+logFile,
			"--pidfile="+filepath.Join(rundir, "ovn-controller.pid"), "-vconsole:off",
			"--private-key="+ctlKey, "--certificate="+ctlCert, "--ca-cert="+pki.caFile)
		cmd.Env = ovnToolEnv(rundir)
		cmd.Dir = rundir
		stop := startStoppable(t, cmd)

		// The chassis registration, written by ovn-controller itself.
		var reg string
		dbrWait(t, impl.name+": ovn-controller registered chassis-a", func() bool {
			res := rs.admin.transact(t, "OVN_Southbound",
				map[string]any{"op": "select", "table": "Chassis", "where": []any{[]any{"name", "==", "chassis-a"}}, "columns": []any{"name", "hostname", "encaps"}},
				map[string]any{"op": "select", "table": "Encap", "where": []any{[]any{"chassis_name", "==", "chassis-a"}}, "columns": []any{"type", "ip", "chassis_name"}},
				map[string]any{"op": "select", "table": "Chassis_Private", "where": []any{[]any{"name", "==", "chassis-a"}}, "columns": []any{"name", "chassis"}})
			if len(rowsOf(res[0])) != 1 || len(rowsOf(res[1])) != 1 || len(rowsOf(res[2])) != 1 {
				return false
			}
			reg = maskReply(res)
			return true
		})
		logb, _ := os.ReadFile(logFile)
		require.NotContains(t, string(logb), "permission error", "%s: ovn-controller was refused a write", impl.name)
		require.NotContains(t, string(logb), "RBAC rules", "%s: ovn-controller was refused a write", impl.name)
		stop()

		// ovn-controller's claim of lsp-a, replayed with its certificate.
		c := pki.dialTLS(t, port, "chassis-a")
		res = c.transact(t, "OVN_Southbound", opsJSON(t, `[
		 {"op": "select", "table": "Chassis", "where": [["name", "==", "chassis-a"]], "columns": ["_uuid", "encaps"]}]`)...)
		ch := rowsOf(res[0])[0]
		encap := ch["encaps"] // one encap: ["uuid", ...]
		claim := c.transact(t, "OVN_Southbound",
			map[string]any{"op": "update", "table": "Port_Binding", "where": []any{[]any{"logical_port", "==", "lsp-a"}},
				"row": map[string]any{"chassis": ch["_uuid"], "encap": encap, "up": true}},
			map[string]any{"op": "mutate", "table": "Chassis_Private", "where": []any{[]any{"name", "==", "chassis-a"}},
				"mutations": []any{[]any{"nb_cfg", "+=", 1}}})
		require.NotContains(t, canon(claim), `"error"`, "%s: claim", impl.name)
		// Another chassis cannot take chassis-a's Chassis_Private.
		other := pki.dialTLS(t, port, "chassis-b").transact(t, "OVN_Southbound",
			map[string]any{"op": "update", "table": "Chassis_Private", "where": []any{[]any{"name", "==", "chassis-a"}},
				"row": map[string]any{"nb_cfg": 9}})
		require.Contains(t, canon(other), `RBAC rules for client \"chassis-b\" role \"ovn-controller\" prohibit modification of table \"Chassis_Private\".`)
		results[impl.name] = reg + "\n" + maskReply(claim) + "\n" + maskReply(other)
	}
	require.Equal(t, results["C"], results["Go"])
}

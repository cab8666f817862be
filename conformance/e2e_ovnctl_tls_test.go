package conformance

// A clustered Northbound database whose members talk TLS to each other,
// built the way deployments build it: ovn-ctl with its SSL options
// (--ovn-nb-db-ssl-key/-cert/-ca-cert, --db-nb-cluster-local-proto=ssl,
// --db-nb-cluster-remote-proto=ssl, no insecure remote), clients on pssl:
// remotes, and a member with a certificate of another CA that cannot join.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf/tlstest"
)

// scriptLines drops the log lines of the tools ovn-ctl runs ("<time>|...":
// ovsdb-client's reconnections, which with C vary from run to run) from
// masked ovn-ctl output, keeping the script's own lines.
func scriptLines(out string) string {
	var keep []string
	for _, l := range strings.SplitAfter(out, "\n") {
		if !strings.HasPrefix(l, "<time>|") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

// TestE2EOVNCtlTLSCluster builds a 3-member NB cluster on ssl: cluster
// addresses with ovn-ctl's SSL options, each member with its own
// certificate of one CA, and gives each member a pssl: remote
// (ovsdb-server/add-remote). ovn-nbctl with a client certificate of the
// CA writes over ssl: and reads the write through every member's pssl:
// remote; cluster/status lists the three ssl: addresses. A fourth member
// whose certificate comes from another CA (and which trusts the cluster's
// CA) is started by ovn-ctl to join: the member it asks refuses its
// certificate and logs why, and the cluster stays at three servers. Runs
// on the C server and on ours; ovn-ctl's own output for the three
// members must be the same.
func TestE2EOVNCtlTLSCluster(t *testing.T) {
	t.Parallel()
	impls, tool := ovnCtlClusterImpls(t)
	outputs := map[string][]string{}
	for _, impl := range impls {
		bin := realBinary(t, impl.bin)
		t.Run(impl.name, func(t *testing.T) {
			pki := t.TempDir()
			ca := tlstest.NewCA(t, "ovn-cluster-ca")
			caFile := ca.Write(t, pki, "cacert")
			rogueCA := tlstest.NewCA(t, "rogue-ca")
			clientCert, clientKey := ca.Issue(t, "ovn-nbctl").Write(t, pki, "client")
			ports := freePorts(t, 7) // cluster ports 0-3, pssl: ports 4-6
			var envs []*ovnCtlEnv
			var args [][]string
			for i := 0; i < 4; i++ {
				e := newOVNCtlEnv(t, bin)
				if impl.name == "Go" {
					require.NoError(t, os.Symlink(tool, filepath.Join(e.binDir, "ovsdb-tool")))
				}
				issuer, cn := ca, fmt.Sprintf("nb-member-%d", i+1)
				if i == 3 {
					issuer, cn = rogueCA, "rogue-member"
				}
				cert, key := issuer.Issue(t, cn).Write(t, pki, cn)
				a := []string{
					"--db-nb-cluster-local-addr=127.0.0.1", "--db-nb-cluster-local-port=" + strconv.Itoa(ports[i]),
					"--db-nb-cluster-local-proto=ssl",
					"--ovn-nb-db-ssl-key=" + key, "--ovn-nb-db-ssl-cert=" + cert, "--ovn-nb-db-ssl-ca-cert=" + caFile,
					"--db-nb-create-insecure-remote=no",
				}
				if i > 0 {
					a = append(a, "--db-nb-cluster-remote-addr=127.0.0.1",
						"--db-nb-cluster-remote-port="+strconv.Itoa(ports[0]), "--db-nb-cluster-remote-proto=ssl")
				}
				pidfile := e.pidfile("nb")
				t.Cleanup(func() { killDaemon(pidfile, bin) })
				envs, args = append(envs, e), append(args, a)
			}
			var transcript []string
			for i := 0; i < 3; i++ {
				out, err := envs[i].runArgs(append(args[i], "start_nb_ovsdb")...)
				require.NoError(t, err, "member %d: ovn-ctl start_nb_ovsdb:\n%s", i+1, out)
				transcript = append(transcript, fmt.Sprintf("member %d start_nb_ovsdb: %s", i+1, scriptLines(masked(out, envs[i].root, ports))))
			}
			ctlSock := func(i int) string { return filepath.Join(envs[i].root, "run", "ovnnb_db.ctl") }
			var sslRemotes []string
			for i := 0; i < 3; i++ {
				remote := fmt.Sprintf("pssl:%d:127.0.0.1", ports[4+i])
				_, stderr, err := envs[i].tool("ovs-appctl", "-t", ctlSock(i), "ovsdb-server/add-remote", remote)
				require.NoError(t, err, "member %d: add-remote %s: %s", i+1, remote, stderr)
				sslRemotes = append(sslRemotes, fmt.Sprintf("ssl:127.0.0.1:%d", ports[4+i]))
			}
			nbctl := func(db string, args ...string) (string, error) {
				full := append([]string{"--timeout=20", "--db=" + db, "-p", clientKey, "-c", clientCert, "-C", caFile}, args...)
				stdout, stderr, err := envs[0].tool("ovn-nbctl", full...)
				if err != nil {
					return stdout, fmt.Errorf("%w: %s", err, stderr)
				}
				return stdout, nil
			}
			// A write over TLS (to whichever member leads), read over TLS
			// on every member.
			waitFor(t, "a write over ssl:", func() bool {
				_, err := nbctl(strings.Join(sslRemotes, ","), "--may-exist", "ls-add", "sw-tls")
				return err == nil
			})
			for i, r := range sslRemotes {
				waitFor(t, fmt.Sprintf("member %d to show the switch over ssl:", i+1), func() bool {
					out, err := nbctl(r, "--no-leader-only", "--bare", "--columns=name", "list", "Logical_Switch")
					return err == nil && strings.Contains(out, "sw-tls")
				})
			}
			status := func() string {
				out, stderr, err := envs[0].tool("ovs-appctl", "-t", ctlSock(0), "cluster/status", "OVN_Northbound")
				require.NoError(t, err, "cluster/status: %s", stderr)
				return out
			}
			st := status()
			for i := 0; i < 3; i++ {
				require.Contains(t, st, fmt.Sprintf(" at ssl:127.0.0.1:%d)", ports[i]), "cluster/status:\n%s", st)
			}

			// The rogue member: ovn-ctl creates its file with
			// join-cluster and starts it (ours waits in the start for
			// the cluster to answer; C's returns and keeps trying).
			ctx, cancel := context.WithTimeout(context.Background(), 2*e2eWait)
			defer cancel()
			cmd := exec.CommandContext(ctx, ovnCtlScript, append(args[3], "start_nb_ovsdb")...)
			cmd.Env, cmd.Dir = envs[3].env, envs[3].root
			require.NoError(t, cmd.Start())
			rogueDone := make(chan struct{})
			go func() { _ = cmd.Wait(); close(rogueDone) }()
			t.Cleanup(func() {
				killDaemon(envs[3].pidfile("nb"), bin)
				cancel()
				<-rogueDone
			})
			logFile := filepath.Join(envs[0].root, "log", "ovsdb-server-nb.log")
			var why string
			if impl.name == "C" {
				why = "certificate verify failed"
			} else {
				why = fmt.Sprintf(`ssl:127.0.0.1:%d: refused cluster connection from ssl:127.0.0.1:`, ports[0])
			}
			waitFor(t, "member 1 to log the refusal of the rogue member", func() bool {
				b, _ := os.ReadFile(logFile)
				return strings.Contains(string(b), why)
			})
			if impl.name == "Go" {
				b, err := os.ReadFile(logFile)
				require.NoError(t, err)
				require.Contains(t, string(b), `peer certificate (subject "CN=rogue-member,O=ovsdb-go tests", `+
					`issuer "CN=rogue-ca,O=ovsdb-go tests") refused: x509: certificate signed by unknown authority`)
				// The rogue member's own log says it was refused.
				rogueLog := filepath.Join(envs[3].root, "log", "ovsdb-server-nb.log")
				waitFor(t, "the rogue member to log its refusal", func() bool {
					b, _ := os.ReadFile(rogueLog)
					return strings.Contains(string(b), fmt.Sprintf("ssl:127.0.0.1:%d: the cluster member refused "+
						"this member's TLS connection: remote error: tls: bad certificate", ports[0]))
				})
			}
			st = status()
			require.NotContains(t, st, fmt.Sprintf("ssl:127.0.0.1:%d", ports[3]), "cluster/status:\n%s", st)
			require.Equal(t, 3, strings.Count(st, " at ssl:127.0.0.1:"), "cluster/status:\n%s", st)
			out, err := nbctl(sslRemotes[1], "--no-leader-only", "--bare", "--columns=name", "list", "Logical_Switch")
			require.NoError(t, err)
			require.Equal(t, "sw-tls\n", out)
			outputs[impl.name] = transcript
		})
	}
	if ref, test := outputs["C"], outputs["Go"]; ref != nil && test != nil {
		assert.Equal(t, ref, test, "ovn-ctl output with C clusters and with ours")
	}
}

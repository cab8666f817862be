package conformance

// TLS for client remotes, C against ours, with the real clients and a
// throwaway CA made by the test (internal/tlsconf/tlstest): ovsdb-client,
// ovn-nbctl, ovn-sbctl and the Python IDL over ssl: to a pssl: remote;
// clients with another CA's certificate or none refused; a client that
// bootstraps its CA from the server (--peer-ca-cert); certificate and key
// rotated on disk and picked up without a restart while an existing
// session goes on; an active ssl: remote to a listening ovsdb-client; and
// TLS options Go cannot honour refused at startup by ours.

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf"
	"github.com/ovsdb-go/ovsdb-server/internal/tlsconf/tlstest"
)

// tlsPKI is a throwaway CA with the server's and a client's certificate,
// and a client certificate of another CA, as PEM files.
type tlsPKI struct {
	dir                 string
	ca                  *tlstest.CA
	caFile              string
	srvCert, srvKey     string
	cliCert, cliKey     string
	otherCert, otherKey string
	otherCAFile         string
	srvLeaf             *tlstest.Leaf
}

func newTLSPKI(t *testing.T) *tlsPKI {
	t.Helper()
	p := &tlsPKI{dir: t.TempDir(), ca: tlstest.NewCA(t, "tls test CA")}
	p.caFile = p.ca.Write(t, p.dir, "cacert")
	p.srvLeaf = p.ca.Issue(t, "ovsdb-server")
	p.srvCert, p.srvKey = p.srvLeaf.Write(t, p.dir, "server")
	p.cliCert, p.cliKey = p.ca.Issue(t, "client").Write(t, p.dir, "client")
	other := tlstest.NewCA(t, "other CA")
	p.otherCAFile = other.Write(t, p.dir, "othercacert")
	p.otherCert, p.otherKey = other.Issue(t, "intruder").Write(t, p.dir, "intruder")
	return p
}

// sslArgs are C's SSL options for a key, certificate and CA.
func sslArgs(key, cert, ca string) []string {
	return []string{"--private-key=" + key, "--certificate=" + cert, "--ca-cert=" + ca}
}

// tlsClientConf is the Go client configuration of a key, certificate and
// CA (as C's clients: verify the chain, no host name).
func tlsClientConf(t *testing.T, key, cert, ca string) *tls.Config {
	t.Helper()
	c, err := tlsconf.New(tlsconf.Settings{PrivateKey: key, Certificate: cert, CACert: ca}, nil)
	require.NoError(t, err)
	return c.ClientConfig()
}

// tlsWaitListening waits until a handshake with the client certificate
// succeeds on addr and returns the server certificate's serial.
func (p *tlsPKI) tlsWaitListening(t *testing.T, addr string) string {
	t.Helper()
	var serial string
	dbrWait(t, "TLS listener "+addr, func() bool {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, tlsClientConf(t, p.cliKey, p.cliCert, p.caFile))
		if err != nil {
			return false
		}
		defer c.Close()
		serial = c.ConnectionState().PeerCertificates[0].SerialNumber.String()
		return true
	})
	return serial
}

// tlsTool runs an OVS/OVN client tool with a bounded time; stdout,
// stderr's last line and the exit status.
func tlsTool(t *testing.T, rundir, tool string, args ...string) (string, string, int) {
	t.Helper()
	stdout, stderr, code := dbrRun(t, ovnToolEnv(rundir), rundir, tool, args...)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	return stdout, lines[len(lines)-1], code
}

// tlsIDLScript connects the Python IDL over ssl:, prints the switches,
// inserts one and prints the commit's status.
const tlsIDLScript = `
import sys, time
import ovs.db.idl, ovs.poller, ovs.stream
key, cert, ca, remote, schema = sys.argv[1:6]
ovs.stream.Stream.ssl_set_private_key_file(key)
ovs.stream.Stream.ssl_set_certificate_file(cert)
ovs.stream.Stream.ssl_set_ca_cert_file(ca)
helper = ovs.db.idl.SchemaHelper(location=schema)
helper.register_columns("Logical_Switch", ["name"])
idl = ovs.db.idl.Idl(remote, helper)
seq = idl.change_seqno
end = time.monotonic() + 20
while not (idl.has_ever_connected() and idl.change_seqno != seq):
    idl.run()
    if time.monotonic() > end:
        print("TIMEOUT")
        sys.exit(1)
    p = ovs.poller.Poller()
    idl.wait(p)
    p.timer_wait(100)
    p.block()
print("initial:", sorted(r.name for r in idl.tables["Logical_Switch"].rows.values()))
txn = ovs.db.idl.Transaction(idl)
row = txn.insert(idl.tables["Logical_Switch"])
row.name = "py-ssl"
print("insert:", ovs.db.idl.Transaction.status_to_string(txn.commit_block()))
print("after:", sorted(r.name for r in idl.tables["Logical_Switch"].rows.values()))
`

// TestE2ETLSClients: on C's server and ours, each with a pssl: remote
// and the same SSL options, ovsdb-client, ovn-nbctl, ovn-sbctl and the
// Python IDL work over ssl:; a client whose certificate is from another
// CA is refused (ovsdb-client's exit status and error are C's), so is a
// client with no certificate; a client that trusts another CA refuses the
// server; and an ovsdb-client with --bootstrap-ca-cert obtains the CA
// from the server (--peer-ca-cert) on its first connection and is served
// on the next. The outcomes must be the same.
func TestE2ETLSClients(t *testing.T) {
	py := requirePythonIDL(t)
	p := newTLSPKI(t)
	results := map[string][]string{}
	for _, impl := range e2eImplementations(t) {
		dir := t.TempDir()
		nb := dbrCreate(t, dir, "nb.db", ovnNBSchema)
		sb := dbrCreate(t, dir, "sb.db", ovnSBSchema)
		port := dbrFreePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		remote := "ssl:" + addr
		extra := append([]string{fmt.Sprintf("--remote=pssl:%d:127.0.0.1", port), "--peer-ca-cert=" + p.caFile},
			sslArgs(p.srvKey, p.srvCert, p.caFile)...)
		s := dbrStartOpts(t, impl, dir, extra, nb, sb)
		p.tlsWaitListening(t, addr)
		cli := sslArgs(p.cliKey, p.cliCert, p.caFile)
		var r []string
		add := func(format string, args ...any) {
			r = append(r, strings.ReplaceAll(fmt.Sprintf(format, args...), remote, "REMOTE"))
		}

		out, errl, code := tlsTool(t, dir, "ovsdb-client", append(cli, "list-dbs", remote)...)
		require.Equal(t, 0, code, "%s: ovsdb-client: %s", impl.name, errl)
		add("ovsdb-client list-dbs: %q", out)

		nbctl := append([]string{"--db=" + remote, "--timeout=30"}, cli...)
		for _, args := range [][]string{{"init"}, {"ls-add", "sw0"}, {"lsp-add", "sw0", "p0"}, {"show"}} {
			out, errl, code := tlsTool(t, dir, "ovn-nbctl", append(nbctl, args...)...)
			require.Equal(t, 0, code, "%s: ovn-nbctl %v: %s", impl.name, args, errl)
			add("ovn-nbctl %v: %s", args, maskUUIDs(out))
		}
		for _, args := range [][]string{{"init"}, {"chassis-add", "ch0", "geneve", "192.0.2.1"}, {"--columns=name", "list", "Chassis"}} {
			out, errl, code := tlsTool(t, dir, "ovn-sbctl", append(nbctl, args...)...)
			require.Equal(t, 0, code, "%s: ovn-sbctl %v: %s", impl.name, args, errl)
			add("ovn-sbctl %v: %s", args, maskUUIDs(out))
		}

		ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
		cmd := exec.CommandContext(ctx, py, "-c", tlsIDLScript, p.cliKey, p.cliCert, p.caFile, remote, ovnNBSchema)
		cmd.Env, cmd.Dir = ovnToolEnv(dir), dir
		pyOut, err := cmd.CombinedOutput()
		cancel()
		require.NoError(t, err, "%s: Python IDL: %s\nserver log:\n%s", impl.name, pyOut, s.logTail())
		add("python IDL: %s", pyOut)

		// Another CA's certificate: refused by the server.
		out, errl, code = tlsTool(t, dir, "ovsdb-client", append(sslArgs(p.otherKey, p.otherCert, p.caFile), "list-dbs", remote)...)
		require.NotEqual(t, 0, code, "%s: a certificate of another CA was served: %s", impl.name, out)
		// The cause varies from run to run with C's server too (the alert
		// read, or the connection reset or closed while writing):
		// "Input/output error", "Broken pipe", "Connection reset by peer".
		errl, _, _ = strings.Cut(errl, " (")
		add("other CA: exit %d, %q, %s", code, out, errl)
		// A client that trusts another CA: it refuses the server.
		out, errl, code = tlsTool(t, dir, "ovsdb-client", append(sslArgs(p.cliKey, p.cliCert, p.otherCAFile), "list-dbs", remote)...)
		require.NotEqual(t, 0, code, "%s: the client accepted a server of another CA: %s", impl.name, out)
		add("client trusts another CA: exit %d, %q, %s", code, out, errl)
		// No certificate at all (ovsdb-client cannot connect without one:
		// a Go client makes the attempt).
		add("no certificate: %s", noCertAttempt(t, addr))

		// --bootstrap-ca-cert: the first connection saves the CA and is
		// dropped; the next is verified against it.
		boot := filepath.Join(dir, "boot-ca.pem")
		bargs := []string{"--private-key=" + p.cliKey, "--certificate=" + p.cliCert, "--bootstrap-ca-cert=" + boot, "list-dbs", remote}
		out, errl, code = tlsTool(t, dir, "ovsdb-client", bargs...)
		saved, err := os.ReadFile(boot)
		require.NoError(t, err, "%s: no CA bootstrapped (%s)", impl.name, errl)
		require.Equal(t, string(p.ca.CertPEM), string(saved))
		add("bootstrap, first: exit %d, %q, %s", code, out, errl)
		out, errl, code = tlsTool(t, dir, "ovsdb-client", bargs...)
		add("bootstrap, second: exit %d, %q, %s", code, out, errl)
		results[impl.name] = r
	}
	require.Equal(t, results["C"], results["Go"])
}

// noCertAttempt connects without a client certificate, sends list_dbs
// and returns "refused" unless it was served. Where the refusal shows
// (the handshake, the write, the read; TLS 1.3 lets the client finish its
// side first) and its text ("certificate required" alert, broken pipe,
// reset) depend on timing, with C's server as with ours: they are logged,
// not compared.
func noCertAttempt(t *testing.T, addr string) string {
	t.Helper()
	// The server is not verified here: only its verdict matters.
	cfg := &tls.Config{InsecureSkipVerify: true}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: e2eWait}, "tcp", addr, cfg)
	if err != nil {
		t.Logf("no certificate: handshake refused: %v", err)
		return "refused"
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(e2eWait))
	if _, err := conn.Write([]byte(`{"method":"list_dbs","params":[],"id":0}`)); err != nil {
		t.Logf("no certificate: write refused: %v", err)
		return "refused"
	}
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err != nil {
		t.Logf("no certificate: read refused: %v", err)
		return "refused"
	}
	t.Fatalf("a client without a certificate was served: %s", buf[:n])
	return ""
}

// TestE2ETLSRotation: the server's certificate and key are replaced on
// disk; within a few seconds a new connection sees the new certificate's
// serial, without a restart, and a session opened before goes on (C
// re-reads them too, when their modification times change).
func TestE2ETLSRotation(t *testing.T) {
	p := newTLSPKI(t)
	for _, impl := range e2eImplementations(t) {
		dir := t.TempDir()
		nb := dbrCreate(t, dir, "nb.db", ovnNBSchema)
		port := dbrFreePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		key, cert := filepath.Join(dir, "srv-key.pem"), filepath.Join(dir, "srv-cert.pem")
		require.NoError(t, os.WriteFile(key, p.srvLeaf.KeyPEM, 0o600))
		require.NoError(t, os.WriteFile(cert, p.srvLeaf.CertPEM, 0o600))
		s := dbrStartOpts(t, impl, dir, append([]string{fmt.Sprintf("--remote=pssl:%d:127.0.0.1", port)}, sslArgs(key, cert, p.caFile)...), nb)
		require.Equal(t, p.srvLeaf.Serial(), p.tlsWaitListening(t, addr), impl.name)

		old, err := tls.DialWithDialer(&net.Dialer{Timeout: e2eWait}, "tcp", addr, tlsClientConf(t, p.cliKey, p.cliCert, p.caFile))
		require.NoError(t, err)
		oldConn := newRPCConn(t, old)
		_, err = oldConn.call("list_dbs", []any{})
		require.NoError(t, err)

		next := p.ca.Issue(t, "ovsdb-server")
		// As a deployment would: new files renamed over the old ones.
		for _, f := range []struct {
			path string
			data []byte
		}{{key, next.KeyPEM}, {cert, next.CertPEM}} {
			require.NoError(t, os.WriteFile(f.path+".new", f.data, 0o600))
			require.NoError(t, os.Rename(f.path+".new", f.path))
		}
		dbrWait(t, impl.name+": new certificate served", func() bool {
			return p.tlsWaitListening(t, addr) == next.Serial()
		})
		res, err := oldConn.call("list_dbs", []any{})
		require.NoError(t, err, "%s: the session opened before the rotation\nlog:\n%s", impl.name, s.logTail())
		require.Equal(t, []any{"OVN_Northbound", "_Server"}, res)
	}
}

// TestE2ETLSActiveRemote: the server's active ssl: remote connects to an
// ovsdb-client listening on pssl: with the client's certificate (C's
// stream-ssl on the other side) and serves its monitor, on C and ours.
func TestE2ETLSActiveRemote(t *testing.T) {
	p := newTLSPKI(t)
	got := map[string]string{}
	for _, impl := range e2eImplementations(t) {
		dir := t.TempDir()
		nb := dbrCreate(t, dir, "nb.db", ovnNBSchema)
		port := strconv.Itoa(dbrFreePort(t))
		_, mon := dbrBackground(t, append(sslArgs(p.cliKey, p.cliCert, p.caFile),
			"monitor", "pssl:"+port+":127.0.0.1", "OVN_Northbound", "Logical_Switch", "name")...)
		dbrWait(t, "client listening", func() bool { return strings.Contains(mon.String(), "waiting for connection") })
		s := dbrStartOpts(t, impl, dir, append([]string{"--remote=ssl:127.0.0.1:" + port}, sslArgs(p.srvKey, p.srvCert, p.caFile)...), nb)
		nbctl := newNbctl(t, s)
		nbctl.run(t, "init")
		nbctl.run(t, "ls-add", "active-sw")
		dbrWait(t, impl.name+": monitor served over ssl", func() bool { return strings.Contains(mon.String(), "active-sw") })
		dbrWait(t, impl.name+": connected logged", func() bool {
			return dbrLogHas(t, s, "reconnect", "INFO", "ssl:127.0.0.1:"+port+": connected")
		})
		got[impl.name] = "served"
	}
	require.Equal(t, got["C"], got["Go"])
}

// TestE2ETLSOptionsRefused: ours refuses at startup, naming the value,
// TLS options it cannot honour (C logs most of them and serves on):
// protocols of which none is enabled, ciphers Go does not implement, a key that
// does not match the certificate, an unreadable CA file.
func TestE2ETLSOptionsRefused(t *testing.T) {
	_, ours := implementations(t)
	p := newTLSPKI(t)
	dir := t.TempDir()
	nb := dbrCreate(t, dir, "nb.db", ovnNBSchema)
	good := sslArgs(p.srvKey, p.srvCert, p.caFile)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append(good, "--ssl-protocols=TLSv1,TLSv1.1"), `--ssl-protocols="TLSv1,TLSv1.1": no protocol left`},
		{append(good, "--ssl-protocols=SSLv3"), "SSLv3: SSL protocol not recognized"},
		{append(good, "--ssl-ciphers=DEFAULT"), `"DEFAULT": not a cipher Go's TLS implements`},
		{append(good, "--ssl-ciphers=HIGH:@STRENGTH"), `"@STRENGTH"`},
		{sslArgs(p.cliKey, p.srvCert, p.caFile), "Private key does not match certificate public key"},
		{sslArgs(p.srvKey, p.srvCert, filepath.Join(dir, "missing.pem")), "--ca-cert: open " + filepath.Join(dir, "missing.pem")},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
		args := append([]string{"--unixctl=" + filepath.Join(dir, "ctl"), "--remote=pssl:0:127.0.0.1", "-vconsole:off", "--run=true"}, tc.args...)
		cmd := exec.CommandContext(ctx, ours, append(args, nb)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		cancel()
		ee, ok := err.(*exec.ExitError)
		require.True(t, ok, "%v: started (%v)", tc.args, err)
		require.Equal(t, 1, ee.ExitCode(), "%v", tc.args)
		require.Contains(t, stderr.String(), tc.want, "%v", tc.args)
	}
}

// TestE2ETLSDBRemote: as ovn-ctl runs the Northbound server, every SSL
// option a db: reference to the SSL table and the remotes read from
// NB_Global's connections; ovn-nbctl set-ssl and set-connection
// pssl:0:127.0.0.1 (over the unix socket) make a TLS listener that
// ovsdb-client reaches over ssl:, and the Connection row's status and
// is_connected are C's (the port normalised), idle and with a monitor
// connected; a client of another CA is still refused.
func TestE2ETLSDBRemote(t *testing.T) {
	type outcome struct {
		Idle, Busy         map[string]string
		IdleConn, BusyConn string
		ListDBs            string
		Refused            int
		Remotes            []string
	}
	p := newTLSPKI(t)
	got := map[string]outcome{}
	for _, impl := range e2eImplementations(t) {
		var o outcome
		dir := t.TempDir()
		nb := dbrCreate(t, dir, "nb.db", ovnNBSchema)
		const ref = "db:OVN_Northbound,SSL,"
		s := dbrStartOpts(t, impl, dir, []string{"--remote=db:OVN_Northbound,NB_Global,connections",
			"--private-key=" + ref + "private_key", "--certificate=" + ref + "certificate", "--ca-cert=" + ref + "ca_cert",
			"--ssl-protocols=" + ref + "ssl_protocols", "--ssl-ciphers=" + ref + "ssl_ciphers"}, nb)
		nbctl := newNbctl(t, s)
		nbctl.run(t, "init")
		nbctl.run(t, "set-ssl", p.srvKey, p.srvCert, p.caFile)
		nbctl.run(t, "set-connection", "pssl:0:127.0.0.1")
		get := func(col string) string { return strings.TrimSpace(nbctl.run(t, "get", "connection", ".", col)) }
		var port string
		dbrWait(t, impl.name+": bound_port", func() bool {
			port = dbrStatus(get("status"))["bound_port"]
			return port != ""
		})
		norm := func(m map[string]string) map[string]string {
			if _, ok := m["bound_port"]; ok {
				m["bound_port"] = "PORT"
			}
			return m
		}
		o.Idle, o.IdleConn = norm(dbrStatus(get("status"))), get("is_connected")
		remote := "ssl:127.0.0.1:" + port
		cli := sslArgs(p.cliKey, p.cliCert, p.caFile)
		// The SSL settings are applied on the server's next loop: retry.
		dbrWait(t, impl.name+": list-dbs over ssl", func() bool {
			out, _, code := tlsTool(t, dir, "ovsdb-client", append(cli, "list-dbs", remote)...)
			o.ListDBs = out
			return code == 0
		})
		stop, _ := dbrBackground(t, append(cli, "monitor", remote, "OVN_Northbound", "NB_Global")...)
		dbrWait(t, impl.name+": connected", func() bool { return get("is_connected") == "true" })
		o.Busy, o.BusyConn = norm(dbrStatus(get("status"))), get("is_connected")
		stop()
		_, _, o.Refused = tlsTool(t, dir, "ovsdb-client", append(sslArgs(p.otherKey, p.otherCert, p.caFile), "list-dbs", remote)...)
		o.Remotes = strings.Split(strings.TrimSpace(appctlOut(t, s, "ovsdb-server/list-remotes")), "\n")
		for i, r := range o.Remotes {
			o.Remotes[i] = strings.ReplaceAll(r, dir, "DIR")
		}
		got[impl.name] = o
	}
	require.Equal(t, got["C"], got["Go"], "C (expected) vs ours")
	require.Equal(t, "OVN_Northbound\n_Server\n", got["Go"].ListDBs)
	require.Equal(t, "true", got["Go"].BusyConn)
	require.NotZero(t, got["Go"].Refused)
}

// TestE2ETLSSyncFrom: a backup replicates from an active server over
// ssl: (--sync-from=ssl:IP:PORT with the SSL options; the active server,
// C's, listens on pssl:): the active's rows reach the backup, whose
// sync-status says it is replicating; C's backup and ours alike.
func TestE2ETLSSyncFrom(t *testing.T) {
	p := newTLSPKI(t)
	cImpl := e2eImplementations(t)[0]
	got := map[string]string{}
	for _, impl := range e2eImplementations(t) {
		adir, bdir := t.TempDir(), t.TempDir()
		port := dbrFreePort(t)
		active := dbrStartOpts(t, cImpl, adir, append([]string{fmt.Sprintf("--remote=pssl:%d:127.0.0.1", port)},
			sslArgs(p.srvKey, p.srvCert, p.caFile)...), dbrCreate(t, adir, "nb.db", ovnNBSchema))
		anb := newNbctl(t, active)
		anb.run(t, "init")
		anb.run(t, "ls-add", "from-active")
		backup := dbrStartOpts(t, impl, bdir, append([]string{fmt.Sprintf("--sync-from=ssl:127.0.0.1:%d", port)},
			sslArgs(p.cliKey, p.cliCert, p.caFile)...), dbrCreate(t, bdir, "nb.db", ovnNBSchema))
		var out string
		dbrWait(t, impl.name+": backup has the active's rows", func() bool {
			o, _, code := dbrClient(t, "dump", "unix:"+backup.sock, "OVN_Northbound", "Logical_Switch", "name")
			out = o
			return code == 0 && strings.Contains(o, "from-active")
		})
		anb.run(t, "ls-add", "later")
		dbrWait(t, impl.name+": backup follows", func() bool {
			o, _, _ := dbrClient(t, "dump", "unix:"+backup.sock, "OVN_Northbound", "Logical_Switch", "name")
			return strings.Contains(o, "later")
		})
		st := appctlOut(t, backup, "ovsdb-server/sync-status")
		require.Contains(t, st, "state: backup", impl.name)
		require.Contains(t, st, fmt.Sprintf("replicating: ssl:127.0.0.1:%d", port), impl.name)
		// Ours adds lag lines (conformance/DIFFERENCES.md): C's lines only.
		var lines []string
		for _, l := range strings.Split(st, "\n") {
			if !strings.HasPrefix(l, "lag:") && !strings.HasPrefix(l, "last update:") {
				lines = append(lines, l)
			}
		}
		got[impl.name] = maskUUIDs(out) + "\n" + strings.ReplaceAll(strings.Join(lines, "\n"), strconv.Itoa(port), "PORT")
	}
	require.Equal(t, got["C"], got["Go"])
}

// TestE2ETLSNotConfigured: a pssl: remote without key, certificate and
// CA opens (C's behaviour), and each connection fails with C's logged
// errors; a client's outcome (ovsdb-client's exit status and error) is
// C's.
func TestE2ETLSNotConfigured(t *testing.T) {
	p := newTLSPKI(t)
	got := map[string]string{}
	for _, impl := range e2eImplementations(t) {
		dir := t.TempDir()
		port := dbrFreePort(t)
		s := dbrStartOpts(t, impl, dir, []string{fmt.Sprintf("--remote=pssl:%d:127.0.0.1", port)}, dbrCreate(t, dir, "nb.db", ovnNBSchema))
		remote := fmt.Sprintf("ssl:127.0.0.1:%d", port)
		var out, errl string
		var code int
		// The listener may not be open yet: retry while refused.
		dbrWait(t, impl.name+": listener open", func() bool {
			out, errl, code = tlsTool(t, dir, "ovsdb-client", append(sslArgs(p.cliKey, p.cliCert, p.caFile), "list-dbs", remote)...)
			return !strings.Contains(errl, "Connection refused")
		})
		require.NotEqual(t, 0, code, "%s: served without a key", impl.name)
		dbrWait(t, impl.name+": C's errors logged", func() bool {
			return dbrLogHas(t, s, "stream_ssl", "ERR", "Private key must be configured to use SSL") &&
				dbrLogHas(t, s, "stream_ssl", "ERR", "Certificate must be configured to use SSL") &&
				dbrLogHas(t, s, "stream_ssl", "ERR", "CA certificate must be configured to use SSL")
		})
		got[impl.name] = fmt.Sprintf("exit %d, %q, %s", code, out, strings.ReplaceAll(errl, remote, "REMOTE"))
	}
	t.Logf("C: %s", got["C"])
	require.Equal(t, got["C"], got["Go"])
}

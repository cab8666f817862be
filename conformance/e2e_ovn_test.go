package conformance

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ovnScript is the ovn-nbctl script applied to both deployments: switches,
// ports with addresses and port security, a router with ports and a static
// route, ACLs on a switch and on a port group, a load balancer on a switch
// and a router, DHCP options.
var ovnScript = [][]string{
	{"init"},
	{"ls-add", "sw0"},
	{"ls-add", "sw1"},
	{"lsp-add", "sw0", "sw0-p1"},
	{"lsp-set-addresses", "sw0-p1", "50:54:00:00:00:01 10.0.0.11"},
	{"lsp-add", "sw0", "sw0-p2"},
	{"lsp-set-addresses", "sw0-p2", "50:54:00:00:00:02 10.0.0.12"},
	{"lsp-set-port-security", "sw0-p2", "50:54:00:00:00:02 10.0.0.12"},
	{"lsp-add", "sw1", "sw1-p1"},
	{"lsp-set-addresses", "sw1-p1", "50:54:00:00:01:01 20.0.0.11", "unknown"},
	{"lr-add", "lr0"},
	{"lrp-add", "lr0", "lr0-sw0", "00:00:00:00:ff:01", "10.0.0.1/24"},
	{"lrp-add", "lr0", "lr0-sw1", "00:00:00:00:ff:02", "20.0.0.1/24"},
	{"lsp-add", "sw0", "sw0-lr0"},
	{"lsp-set-type", "sw0-lr0", "router"},
	{"lsp-set-addresses", "sw0-lr0", "router"},
	{"lsp-set-options", "sw0-lr0", "router-port=lr0-sw0"},
	{"lsp-add", "sw1", "sw1-lr0"},
	{"lsp-set-type", "sw1-lr0", "router"},
	{"lsp-set-addresses", "sw1-lr0", "router"},
	{"lsp-set-options", "sw1-lr0", "router-port=lr0-sw1"},
	{"lr-route-add", "lr0", "0.0.0.0/0", "20.0.0.254"},
	{"pg-add", "pg0", "sw0-p1", "sw1-p1"},
	{"acl-add", "pg0", "to-lport", "1002", "outport == @pg0 && ip4 && tcp.dst == 22", "allow-related"},
	{"acl-add", "pg0", "to-lport", "1000", "outport == @pg0 && ip4", "drop"},
	{"acl-add", "sw0", "from-lport", "1001", "ip4.src == 10.0.0.12 && udp", "drop"},
	{"lb-add", "lb0", "30.0.0.10:80", "10.0.0.11:80,20.0.0.11:80", "tcp"},
	{"ls-lb-add", "sw0", "lb0"},
	{"lr-lb-add", "lr0", "lb0"},
	{"--", "--id=@d", "create", "DHCP_Options", "cidr=10.0.0.0/24",
		`options="lease_time"="3600" "router"="10.0.0.1" "server_id"="10.0.0.1" "server_mac"="c0:ff:ee:00:00:01"`},
}

// ovnQueries are the read commands whose outputs are compared. kind says how
// the output is normalised: "lines" (UUIDs masked, lines sorted), "records"
// (list/find records sorted) or "exact" (UUIDs masked only).
var ovnQueries = []struct {
	name, kind string
	args       []string
}{
	{"show", "lines", []string{"show"}},
	{"ls-list", "exact", []string{"ls-list"}},
	{"lsp-list", "exact", []string{"lsp-list", "sw0"}},
	{"lr-list", "exact", []string{"lr-list"}},
	{"lrp-list", "exact", []string{"lrp-list", "lr0"}},
	{"acl-list-sw0", "exact", []string{"acl-list", "sw0"}},
	{"acl-list-pg0", "exact", []string{"acl-list", "pg0"}},
	{"lb-list", "lines", []string{"lb-list"}},
	{"lr-route-list", "exact", []string{"lr-route-list", "lr0"}},
	{"list-Logical_Switch", "records", []string{"list", "Logical_Switch"}},
	{"list-Logical_Switch_Port", "records", []string{"list", "Logical_Switch_Port"}},
	{"list-Logical_Router", "records", []string{"list", "Logical_Router"}},
	{"list-Logical_Router_Port", "records", []string{"list", "Logical_Router_Port"}},
	{"list-ACL", "records", []string{"list", "ACL"}},
	{"list-Load_Balancer", "records", []string{"list", "Load_Balancer"}},
	{"list-Port_Group", "records", []string{"list", "Port_Group"}},
	{"list-NB_Global-cfg", "records", []string{"--columns=nb_cfg,sb_cfg", "list", "NB_Global"}},
	{"find-router-ports", "records", []string{"find", "Logical_Switch_Port", "type=router"}},
	{"find-acl-priority", "records", []string{"--columns=priority,direction,match,action", "find", "ACL", "priority>=1001"}},
	{"find-by-map", "records", []string{"--columns=name", "find", "Logical_Switch_Port", "options:router-port=lr0-sw1"}},
	{"find-none", "records", []string{"find", "Logical_Switch", "name=nosuch"}},
	{"get-bare", "lines", []string{"--bare", "--columns=name,addresses", "list", "Logical_Switch_Port"}},
	{"list-json", "records", []string{"--format=json", "--columns=name,addresses", "list", "Logical_Switch_Port", "sw0-p1"}},
}

// ovnErrorCommands fail the same way on both (compared: exit status and
// stderr).
var ovnErrorCommands = [][]string{
	{"destroy", "Logical_Switch", "nosuch"},
	{"ls-add", "sw0"},
	{"lsp-add", "sw0", "sw0-p1"},
	{"find", "Logical_Switch", "nosuchcolumn=1"},
	{"list", "Nope"},
}

// ovnRun is what one deployment produced, step name -> normalised output.
type ovnRun map[string]string

// runOVNScenario deploys NB and SB on impl, starts the real ovn-northd on
// them, applies ovnScript, waits for the SB with `ovn-nbctl --wait=sb sync`
// and collects the normalised outputs of the queries, of the SB logical
// flows, of destroy and of the flows after destroy.
func runOVNScenario(t *testing.T, impl e2eImpl) ovnRun {
	nb := startOVNDB(t, impl, "nb")
	sb := startOVNDB(t, impl, "sb")
	nbctl, sbctl := newNbctl(t, nb), newSbctl(t, sb)
	sbctl.run(t, "init")
	nd := startNorthd(t, nb, sb)

	for _, args := range ovnScript {
		nbctl.run(t, args...)
	}
	out := ovnRun{}
	sync := func(step string) {
		_, errOut, err := nbctl.exec("--wait=sb", "sync")
		require.NoError(t, err, "%s: ovn-nbctl --wait=sb sync on %s: %s\nnorthd log:\n%s\nNB log:\n%s\nSB log:\n%s",
			step, impl.name, errOut, nd.logTail(), nb.logTail(), sb.logTail())
	}
	sync("after script")
	// northd is active only while it holds the SB lock "ovn_northd".
	out["northd status"] = nd.status(t)
	for _, q := range ovnQueries {
		s := nbctl.run(t, q.args...)
		switch q.kind {
		case "lines":
			s = strings.Join(sortedLines(maskUUIDs(s)), "\n")
		case "records":
			s = strings.Join(sortedRecords(s), "\n\n")
		default:
			s = maskUUIDs(s)
		}
		out["nbctl "+q.name] = s
	}
	for _, args := range ovnErrorCommands {
		stdout, stderr, err := nbctl.exec(args...)
		out["nbctl error "+strings.Join(args, " ")] = "exit=" + exitStatus(err) +
			"\nstdout: " + maskUUIDs(stdout) + "\nstderr: " + maskUUIDs(stderr)
	}
	out["sb flows"] = logicalFlows(t, sbctl)
	out["sb port bindings"] = strings.Join(sortedLines(sbctl.run(t, "--bare", "--columns=logical_port,type,mac", "list", "Port_Binding")), "\n")
	out["sb datapaths"] = strings.Join(sortedRecords(sbctl.run(t, "--columns=external_ids", "list", "Datapath_Binding")), "\n\n")

	// destroy: a load balancer (weakly referenced by a switch and the
	// router) and a port group (its ACLs go with it), then the flows once
	// northd has caught up.
	out["nbctl destroy lb0"] = nbctl.run(t, "destroy", "Load_Balancer", "lb0")
	out["nbctl destroy pg0"] = nbctl.run(t, "--if-exists", "destroy", "Port_Group", "pg0")
	out["nbctl destroy absent"] = nbctl.run(t, "--if-exists", "destroy", "Port_Group", "pg0")
	out["nbctl list ACL after destroy"] = strings.Join(sortedRecords(nbctl.run(t, "list", "ACL")), "\n\n")
	out["nbctl list Logical_Switch after destroy"] = strings.Join(sortedRecords(nbctl.run(t, "list", "Logical_Switch")), "\n\n")
	sync("after destroy")
	out["sb flows after destroy"] = logicalFlows(t, sbctl)
	out["sb load balancers after destroy"] = sbctl.run(t, "--bare", "--columns=name", "list", "Load_Balancer")
	return out
}

// logicalFlows returns the SB Logical_Flow tuples (table, pipeline,
// priority, match, actions), sorted, UUIDs masked.
func logicalFlows(t *testing.T, sbctl *ovnCtl) string {
	t.Helper()
	s := sbctl.run(t, "--format=csv", "--no-headings",
		"--columns=table_id,pipeline,priority,match,actions", "list", "Logical_Flow")
	lines := sortedLines(maskUUIDs(s))
	require.Greater(t, len(lines), 100, "ovn-northd wrote too few logical flows")
	return strings.Join(lines, "\n")
}

func exitStatus(err error) string {
	if err == nil {
		return "0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return strconv.Itoa(ee.ExitCode())
	}
	return err.Error()
}

// TestE2EOVN is the OVN end-to-end acceptance test: NB and SB served by two
// C servers and by two of ours, the real ovn-northd on each pair, and the
// same ovn-nbctl script applied to both; `ovn-nbctl --wait=sb sync` must
// return on both, the SB logical flows must be identical, and ovn-nbctl
// show, list, find, destroy and error outputs must match.
func TestE2EOVN(t *testing.T) {
	t.Parallel()
	impls := e2eImplementations(t)
	var mu sync.Mutex
	runs := map[string]ovnRun{}
	t.Run("deploy", func(t *testing.T) {
		for _, impl := range impls {
			t.Run(impl.name, func(t *testing.T) {
				t.Parallel()
				r := runOVNScenario(t, impl)
				mu.Lock()
				runs[impl.name] = r
				mu.Unlock()
			})
		}
	})
	ref, test := runs["C"], runs["Go"]
	require.NotNil(t, ref, "the scenario failed on the C servers (see above)")
	require.NotNil(t, test, "the scenario failed on our servers (see above)")
	require.Contains(t, ref["nbctl show"], "router <uuid> (lr0)", "C show output lacks the router")
	require.Equal(t, "Status: active\n", ref["northd status"])
	// The flows reflect the script: the load balancer VIP, the ACLs, the
	// port security; and destroy removed the VIP.
	for _, s := range []string{"30.0.0.10", "tcp.dst == 22", "ip4.src == 10.0.0.12 && udp", "50:54:00:00:00:02"} {
		require.Contains(t, ref["sb flows"], s, "C logical flows lack %q", s)
	}
	require.NotContains(t, ref["sb flows after destroy"], "30.0.0.10", "C flows still have the destroyed VIP")
	require.Len(t, test, len(ref))
	if verbose {
		for k, v := range ref {
			t.Logf("%s:\n%s", k, v)
		}
	}
	for k, want := range ref {
		assert.Equal(t, want, test[k], "%s differs between the C servers and ours", k)
	}
}

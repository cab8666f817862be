package conformance

// The operator runbooks of docs/operations.md, executed step by step: each
// test sets up a runbook's starting situation with its own code (a cluster
// of ours, or of C's, in a temporary directory on 127.0.0.1), exports the
// runbook's shell variables, runs every numbered step verbatim with sh -c
// and checks the outcome itself. The site helpers are in
// runbook_site_test.go.

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runbookDoc is the operator documentation the runbook tests execute.
const runbookDoc = "../docs/operations.md"

// runbookProcedures lists every procedure of docs/operations.md ("RUNBOOK /
// PROCEDURE", the "##" and "###" headings) and the tests that run it
// (comma-separated, each a function of this file).
// TestRunbookDocument fails when the document and this list differ, so a
// procedure cannot be added, renamed or emptied without its test.
var runbookProcedures = map[string]string{
	"Two-node site with an arbiter / Building the cluster":                             "TestRunbookArbiter",
	"Replacing a member / A member whose disk was wiped comes back at its old address": "TestRunbookReplaceWipedMember",
	"Replacing a member / A member moves to a new address":                             "TestRunbookMoveMember",
	"Recovering from the loss of a majority / Recovering a running survivor":           "TestRunbookMajorityLoss",
	"Recovering from the loss of a majority / Recovering a stopped survivor":           "TestRunbookMajorityLossStoppedSurvivor",
	"Recovering from the loss of a majority / Rebuilding the lost members":             "TestRunbookMajorityLoss, TestRunbookMajorityLossStoppedSurvivor",
	"Migrating a running C cluster / From the C cluster to ours":                       "TestRunbookMigrateFromC",
	"Migrating a running C cluster / Going back to C":                                  "TestRunbookMigrateFromC",
	"Backup and restore / Taking a backup":                                             "TestRunbookBackupRestore",
	"Backup and restore / Restoring into the running cluster":                          "TestRunbookBackupRestore",
	"Backup and restore / Rebuilding the cluster from a backup":                        "TestRunbookBackupRestore",
}

// runbookStep is one numbered step: its number, the first line of its
// text, its line in the document and its one shell command.
type runbookStep struct {
	n     int
	title string
	line  int
	cmd   string
}

// runbookProc is one procedure: the numbered list under a "###" heading
// (or directly under a "##" heading, then named by it alone).
type runbookProc struct {
	runbook, name string
	steps         []runbookStep
}

func (p *runbookProc) key() string {
	if p.name == "" {
		return p.runbook
	}
	return p.runbook + " / " + p.name
}

var runbookStepRE = regexp.MustCompile(`^([0-9]+)\. (.*)$`)

// parseRunbooks returns the procedures of a runbook document that have
// steps, keyed by runbookProc.key, and the runbooks ("##" headings) that
// hold any. The format it enforces:
//   - a step is a line "N. TEXT" at column 0, outside a code block; the
//     steps of a procedure are numbered 1, 2, ... without a gap;
//   - each step holds exactly one fenced block with the info string "sh",
//     the command run verbatim (its indentation removed);
//   - a "sh" block outside a step is an error: it would look like a
//     command that no test runs (examples use another info string).
func parseRunbooks(doc string) (map[string]*runbookProc, map[string]bool, error) {
	procs := map[string]*runbookProc{}
	runbooks := map[string]bool{}
	var runbook, name string
	var cur *runbookProc
	var step *runbookStep
	var blocks int
	finishStep := func() error {
		if step == nil {
			return nil
		}
		if blocks != 1 {
			return fmt.Errorf("line %d: step %d of %q has %d sh blocks (want exactly 1)", step.line, step.n, cur.key(), blocks)
		}
		cur.steps = append(cur.steps, *step)
		step, blocks = nil, 0
		return nil
	}
	sc := bufio.NewScanner(strings.NewReader(doc))
	lineNo := 0
	var fence *strings.Builder // non-nil inside a "sh" block
	var fenceIndent int
	inOther := false // inside a code block of another kind
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if fence != nil || inOther {
			if trimmed == "```" {
				if fence != nil {
					step.cmd = strings.TrimRight(fence.String(), "\n")
					fence = nil
				}
				inOther = false
				continue
			}
			if fence != nil {
				l := line
				if len(l) >= fenceIndent && strings.TrimSpace(l[:fenceIndent]) == "" {
					l = l[fenceIndent:]
				}
				fence.WriteString(l + "\n")
			}
			continue
		}
		switch {
		case strings.HasPrefix(trimmed, "```"):
			if strings.TrimPrefix(trimmed, "```") != "sh" {
				inOther = true
				continue
			}
			if step == nil {
				return nil, nil, fmt.Errorf("line %d: sh block outside a numbered step (under %q / %q)", lineNo, runbook, name)
			}
			blocks++
			fence, fenceIndent = &strings.Builder{}, len(line)-len(strings.TrimLeft(line, " "))
			continue
		case strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "### "):
			if err := finishStep(); err != nil {
				return nil, nil, err
			}
			if strings.HasPrefix(line, "## ") {
				runbook, name = strings.TrimPrefix(line, "## "), ""
			} else {
				name = strings.TrimPrefix(line, "### ")
			}
			cur = nil
			continue
		}
		if m := runbookStepRE.FindStringSubmatch(line); m != nil {
			if err := finishStep(); err != nil {
				return nil, nil, err
			}
			if cur == nil {
				cur = &runbookProc{runbook: runbook, name: name}
				if _, dup := procs[cur.key()]; dup {
					return nil, nil, fmt.Errorf("line %d: procedure %q appears twice", lineNo, cur.key())
				}
				procs[cur.key()] = cur
				runbooks[runbook] = true
			}
			n, _ := strconv.Atoi(m[1])
			if n != len(cur.steps)+1 {
				return nil, nil, fmt.Errorf("line %d: step %d of %q follows step %d", lineNo, n, cur.key(), len(cur.steps))
			}
			step = &runbookStep{n: n, title: m[2], line: lineNo}
		}
	}
	if fence != nil || inOther {
		return nil, nil, fmt.Errorf("unterminated code block at the end")
	}
	if err := finishStep(); err != nil {
		return nil, nil, err
	}
	return procs, runbooks, sc.Err()
}

// loadRunbook returns the procedure key of docs/operations.md, failing the
// test if it is missing or has no steps.
func loadRunbook(t *testing.T, key string) *runbookProc {
	t.Helper()
	data, err := os.ReadFile(runbookDoc)
	require.NoError(t, err)
	procs, _, err := parseRunbooks(string(data))
	require.NoError(t, err, "%s does not parse", runbookDoc)
	p := procs[key]
	require.NotNil(t, p, "%s has no procedure %q", runbookDoc, key)
	require.NotEmpty(t, p.steps, "%s: procedure %q has no steps", runbookDoc, key)
	return p
}

// TestRunbookDocument checks that docs/operations.md has exactly the
// procedures the runbook tests run, each with steps, and every runbook the
// issue asks for.
func TestRunbookDocument(t *testing.T) {
	data, err := os.ReadFile(runbookDoc)
	require.NoError(t, err)
	procs, runbooks, err := parseRunbooks(string(data))
	require.NoError(t, err)
	var got, want []string
	for k, p := range procs {
		got = append(got, k)
		assert.NotEmpty(t, p.steps, k)
		for _, s := range p.steps {
			assert.NotEmpty(t, strings.TrimSpace(s.cmd), "%s step %d (line %d) has an empty command", k, s.n, s.line)
		}
	}
	for k := range runbookProcedures {
		want = append(want, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	require.Equal(t, want, got, "procedures of %s vs runbookProcedures", runbookDoc)
	src, err := os.ReadFile("runbook_test.go")
	require.NoError(t, err)
	for k, tests := range runbookProcedures {
		for _, name := range strings.Split(tests, ", ") {
			assert.Contains(t, string(src), "\nfunc "+name+"(t *testing.T) {", "procedure %q: no test %s", k, name)
		}
	}
	for _, rb := range []string{"Two-node site with an arbiter", "Replacing a member",
		"Recovering from the loss of a majority", "Migrating a running C cluster", "Backup and restore"} {
		assert.True(t, runbooks[rb], "%s has no runbook %q with steps", runbookDoc, rb)
	}
}

// TestRunbookParser checks the parser's rules on small documents.
func TestRunbookParser(t *testing.T) {
	good := "## A\n\ntext\n\n### P\n\n1. One.\n\n   ```sh\n   echo 1\n   ```\n\n" +
		"10. x\n" // a step number out of sequence is an error, checked below
	_, _, err := parseRunbooks(good)
	require.ErrorContains(t, err, "follows step 1")

	procs, rbs, err := parseRunbooks("## A\n\n### P\n\n1. One.\n\n   ```sh\n   echo 'a b'\n   ```\n\n" +
		"2. Two.\n\n   ```text\n   not run\n   ```\n\n   ```sh\n   true\n   ```\n\n## B\n\n1. Alone.\n\n   ```sh\n   false\n   ```\n")
	require.NoError(t, err)
	require.True(t, rbs["A"] && rbs["B"])
	require.Len(t, procs["A / P"].steps, 2)
	require.Equal(t, "echo 'a b'", procs["A / P"].steps[0].cmd)
	require.Equal(t, "true", procs["A / P"].steps[1].cmd)
	require.Equal(t, "false", procs["B"].steps[0].cmd)

	_, _, err = parseRunbooks("## A\n\n```sh\nrm -rf x\n```\n")
	require.ErrorContains(t, err, "outside a numbered step")
	_, _, err = parseRunbooks("## A\n\n1. Two blocks.\n\n   ```sh\n   a\n   ```\n   ```sh\n   b\n   ```\n")
	require.ErrorContains(t, err, "has 2 sh blocks")
	_, _, err = parseRunbooks("## A\n\n1. No block.\n\n2. Next.\n\n   ```sh\n   b\n   ```\n")
	require.ErrorContains(t, err, "has 0 sh blocks")
}

// TestRunbookMajorityLoss runs "Recovering from the loss of a majority"
// on a running survivor: members 2 and 3 of a cluster holding data are
// killed (member 3's file is lost with its disk, member 2's is left
// behind); after the runbook the cluster has three members again under
// the same cluster id, every write acknowledged before the loss is on each
// of them, the lost server ids are gone and writes are accepted.
func TestRunbookMajorityLoss(t *testing.T) {
	majorityLoss(t, "Recovering a running survivor", func(s *runbookSite) {
		s.kill(2)
		s.kill(3)
	})
}

// TestRunbookMajorityLossStoppedSurvivor is TestRunbookMajorityLoss
// after a power loss: every member is killed and only member 1's host
// comes back (its server not running, its pidfile left behind), so the
// survivor's file is recovered with ovsdb-tool before it is started.
func TestRunbookMajorityLossStoppedSurvivor(t *testing.T) {
	majorityLoss(t, "Recovering a stopped survivor", func(s *runbookSite) {
		for n := 1; n <= 3; n++ {
			s.kill(n)
		}
	})
}

// majorityLoss runs the recovery procedure recover, then "Rebuilding the
// lost members", on a cluster that lose calls after writing the data.
func majorityLoss(t *testing.T, recover string, lose func(s *runbookSite)) {
	const rb = "Recovering from the loss of a majority / "
	rec := loadRunbook(t, rb+recover)
	rebuild := loadRunbook(t, rb+"Rebuilding the lost members")
	s := newRunbookSite(t, 3, []int{1, 2, 3})
	s.ourCluster(3)
	s.nbctl("init")
	for _, sw := range []string{"sw0", "sw1", "sw2"} {
		s.nbctl("ls-add", sw)
	}
	want := []string{"sw0", "sw1", "sw2"}
	for n := 1; n <= 3; n++ {
		s.waitSwitches(n, want)
	}
	cid := s.appctl(1, "cluster/cid", "OVN_Northbound")
	oldSIDs := []string{s.appctl(2, "cluster/sid", "OVN_Northbound"), s.appctl(3, "cluster/sid", "OVN_Northbound")}

	lose(s)
	require.NoError(t, os.Remove(s.v("NB_DB3"))) // member 3's disk is gone

	s.run(rec)
	s.waitSwitches(1, want)
	ext := s.nbctl("--db=unix:"+s.v("NB_SOCK1"), "get", "NB_Global", ".", "external_ids:last-majority-recovery")
	require.NotEmpty(t, strings.TrimSpace(ext), "the recovery's check write is missing")
	require.Equal(t, cid, s.appctl(1, "cluster/cid", "OVN_Northbound"), "the cluster id changed")

	s.run(rebuild)
	st := s.appctl(1, "cluster/status", "OVN_Northbound")
	require.Equal(t, 3, serverLines(st), "the leader's configuration:\n%s", st)
	for _, sid := range oldSIDs {
		require.NotContains(t, st, "("+sid[:4]+" at ", "a lost server id is still in the configuration:\n%s", st)
	}
	for n := 1; n <= 3; n++ {
		s.waitSwitches(n, want)
	}
	s.nbctl("ls-add", "sw-after")
	for n := 1; n <= 3; n++ {
		s.waitSwitches(n, append(want, "sw-after"))
	}
	_, err := os.Stat(s.v("NB_DB2") + ".lost")
	require.NoError(t, err, "member 2's old file was not kept")
}

// TestRunbookBackupRestore runs the three procedures of "Backup and
// restore": a backup of a running cluster; a restore into it after a
// mistake (a switch deleted, another added), which brings back exactly the
// backup's rows on every member; and, after every member is killed, a new
// cluster rebuilt from the backup, with three members and the data.
func TestRunbookBackupRestore(t *testing.T) {
	backup := loadRunbook(t, "Backup and restore / Taking a backup")
	restore := loadRunbook(t, "Backup and restore / Restoring into the running cluster")
	rebuild := loadRunbook(t, "Backup and restore / Rebuilding the cluster from a backup")
	s := newRunbookSite(t, 3, []int{1, 2, 3})
	s.ourCluster(3)
	want := s.seedSwitches(3)

	listed := s.nbctl("ls-list") // "UUID (NAME)" lines
	s.run(backup)
	_, err := os.Stat(s.v("BACKUP_DIR") + "/ovnnb-backup.db")
	require.NoError(t, err)
	_, err = os.Stat(s.v("BACKUP_DIR") + "/ovnnb-backup.db.new")
	require.True(t, os.IsNotExist(err), "the temporary backup file is left: %v", err)

	// The mistake.
	s.nbctl("ls-del", "sw1")
	s.nbctl("ls-add", "sw-mistake")
	s.waitSwitches(1, []string{"sw-mistake", "sw0"})

	s.run(restore)
	cid := s.appctl(1, "cluster/cid", "OVN_Northbound")
	for n := 1; n <= 3; n++ {
		s.waitSwitches(n, want)
	}
	require.Contains(t, s.nbctl("lsp-list", "sw1"), "(port1)", "the restored switch lost its port")
	_, err = os.Stat(s.v("BACKUP_DIR") + "/ovnnb-before-restore.db")
	require.NoError(t, err, "the damaged contents were not kept")

	// Every member is lost.
	for n := 1; n <= 3; n++ {
		s.kill(n)
	}
	require.NoError(t, os.Remove(s.v("NB_DB2")))

	s.run(rebuild)
	require.NotEqual(t, cid, s.appctl(1, "cluster/cid", "OVN_Northbound"), "a rebuilt cluster has a new id")
	st := s.appctl(1, "cluster/status", "OVN_Northbound")
	require.Equal(t, 3, serverLines(st), "the leader's configuration:\n%s", st)
	for n := 1; n <= 3; n++ {
		s.waitSwitches(n, want)
	}
	require.Equal(t, listed, s.nbctl("ls-list"), "a rebuild keeps the backup's row UUIDs")
	s.nbctl("ls-add", "sw-after")
	for n := 1; n <= 3; n++ {
		s.waitSwitches(n, append(want, "sw-after"))
	}
	for _, f := range []string{"NB_DB1", "NB_DB3"} {
		_, err := os.Stat(s.v(f) + ".old")
		require.NoError(t, err, "%s's old file was not kept", f)
	}
}

// serverLines counts the members under "Servers:" in a cluster/status.
func serverLines(status string) int {
	n, in := 0, false
	for _, l := range strings.Split(status, "\n") {
		switch {
		case strings.HasPrefix(l, "Servers:"):
			in = true
		case in && strings.HasPrefix(l, "    "):
			n++
		case in:
			in = false
		}
	}
	return n
}

// statusLine is the line of a cluster/status that contains s ("" if none).
func statusLine(status, s string) string {
	for _, l := range strings.Split(status, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// TestRunbookArbiter runs "Two-node site with an arbiter" from nothing:
// afterwards every member marks member 3 as the arbiter, the arbiter
// refuses clients naming the data members, and the site keeps accepting
// writes, on the surviving data member, after a data member is killed.
func TestRunbookArbiter(t *testing.T) {
	p := loadRunbook(t, "Two-node site with an arbiter / Building the cluster")
	s := newRunbookSite(t, 3, []int{1, 2})
	s.run(p)

	arb := "at " + s.v("NB_ADDR3") + ")"
	for n := 1; n <= 3; n++ {
		waitForCond(t, fmt.Sprintf("member %d marks member 3 as the arbiter", n), func() bool {
			st := s.status(n)
			return serverLines(st) == 3 && strings.Contains(statusLine(st, arb), "(arbiter)") &&
				strings.Count(st, "(arbiter)") == 1
		}, s.diagnose)
	}
	_, err := s.switches(3)
	require.Error(t, err, "the arbiter served a client")
	require.Contains(t, err.Error(), s.v("NB_ADDR1"))
	require.Contains(t, err.Error(), s.v("NB_ADDR2"))

	s.nbctl("ls-add", "sw0")
	s.waitSwitches(1, []string{"sw0"})
	s.waitSwitches(2, []string{"sw0"})

	// A data member is lost: the other one and the arbiter carry on.
	s.kill(1)
	// ovn-nbctl fails until member 2 leads, and whenever it picks the dead
	// member's remote: it is retried, as the runbook tells operators.
	s.waitStatus(2, "Role: leader")
	s.nbctlRetry("--may-exist", "ls-add", "sw1")
	s.waitSwitches(2, []string{"sw0", "sw1"})
	s.start(s.server, 1)
	s.waitSwitches(1, []string{"sw0", "sw1"})
}

// TestRunbookReplaceWipedMember runs "Replacing a member / A member whose
// disk was wiped comes back at its old address" after kill -9 of member
// 3 and the removal of its file (its pidfile is left, as after a crash):
// member 3 comes back with a new server id in place of the old one, a
// voter holding the data.
func TestRunbookReplaceWipedMember(t *testing.T) {
	p := loadRunbook(t, "Replacing a member / A member whose disk was wiped comes back at its old address")
	s := newRunbookSite(t, 3, []int{1, 2, 3})
	s.ourCluster(3)
	s.nbctl("init")
	s.nbctl("ls-add", "sw0")
	s.nbctl("ls-add", "sw1")
	want := []string{"sw0", "sw1"}
	for n := 1; n <= 3; n++ {
		s.waitSwitches(n, want)
	}
	oldSID := s.appctl(3, "cluster/sid", "OVN_Northbound")
	s.kill(3)
	require.NoError(t, os.Remove(s.v("NB_DB3")))

	s.run(p)

	newSID := s.appctl(3, "cluster/sid", "OVN_Northbound")
	require.NotEqual(t, oldSID, newSID)
	for n := 1; n <= 3; n++ {
		waitForCond(t, fmt.Sprintf("member %d's configuration has the new member 3 as a voter, not the old one", n), func() bool {
			st := s.status(n)
			l := statusLine(st, "at "+s.v("NB_ADDR3")+")")
			return serverLines(st) == 3 && strings.HasPrefix(l, "    "+newSID[:4]+" ") &&
				!strings.Contains(l, "(catchup)") && !strings.Contains(st, "("+oldSID[:4]+" at ")
		}, s.diagnose)
	}
	s.waitSwitches(3, want)
	s.nbctl("ls-add", "sw2")
	for n := 1; n <= 3; n++ {
		s.waitSwitches(n, append(want, "sw2"))
	}
}

// TestRunbookMoveMember runs "Replacing a member / A member moves to a new
// address": member 4 joins, member 3 leaves and stops; the configuration
// is members 1, 2 and 4, which hold the data and accept writes.
func TestRunbookMoveMember(t *testing.T) {
	p := loadRunbook(t, "Replacing a member / A member moves to a new address")
	s := newRunbookSite(t, 4, []int{1, 2, 3, 4})
	s.ourCluster(3)
	s.nbctl("init")
	s.nbctl("ls-add", "sw0")
	for n := 1; n <= 3; n++ {
		s.waitSwitches(n, []string{"sw0"})
	}

	s.run(p)

	require.Zero(t, s.pidOf(3), "member 3's server still runs")
	for _, n := range []int{1, 2, 4} {
		waitForCond(t, fmt.Sprintf("member %d's configuration is members 1, 2 and 4", n), func() bool {
			st := s.status(n)
			return serverLines(st) == 3 && !strings.Contains(st, "at "+s.v("NB_ADDR3")+")") &&
				strings.Contains(st, "at "+s.v("NB_ADDR4")+")")
		}, s.diagnose)
	}
	s.waitSwitches(4, []string{"sw0"})
	s.nbctl("ls-add", "sw1")
	for _, n := range []int{1, 2, 4} {
		s.waitSwitches(n, []string{"sw0", "sw1"})
	}
	_, err := os.Stat(s.v("NB_DB3") + ".old")
	require.NoError(t, err, "member 3's file was not kept")
}

// TestRunbookMigrateFromC runs "Migrating a running C cluster": a C
// cluster holding data becomes a cluster of ours on the same files,
// sockets and addresses (same rows, same row UUIDs, a new cluster id),
// takes a write, and goes back to C with that write.
func TestRunbookMigrateFromC(t *testing.T) {
	toOurs := loadRunbook(t, "Migrating a running C cluster / From the C cluster to ours")
	back := loadRunbook(t, "Migrating a running C cluster / Going back to C")
	s := newRunbookSite(t, 3, []int{1, 2, 3})
	s.cCluster(3)
	want := s.seedSwitches(3)
	listed := s.nbctl("ls-list")
	cCID := s.appctl(1, "cluster/cid", "OVN_Northbound")
	isOurs := func(n int) bool { return strings.Contains(s.appctl(n, "version"), "ovsdb-server-go") }
	for n := 1; n <= 3; n++ {
		require.False(t, isOurs(n), "member %d is not C's before the migration", n)
	}

	s.run(toOurs)

	for n := 1; n <= 3; n++ {
		require.True(t, isOurs(n), "member %d is not ours after the migration", n)
		s.waitSwitches(n, want)
	}
	require.Equal(t, listed, s.nbctl("ls-list"), "the import keeps the rows and their UUIDs")
	require.Contains(t, s.nbctl("lsp-list", "sw1"), "(port1)")
	require.NotEqual(t, cCID, s.appctl(1, "cluster/cid", "OVN_Northbound"))
	st := s.appctl(1, "cluster/status", "OVN_Northbound")
	require.Equal(t, 3, serverLines(st), "our leader's configuration:\n%s", st)
	s.nbctl("ls-add", "sw-ours")
	want = append(want, "sw-ours")
	for n := 1; n <= 3; n++ {
		s.waitSwitches(n, want)
	}

	s.run(back)

	for n := 1; n <= 3; n++ {
		require.False(t, isOurs(n), "member %d is not C's after going back", n)
		s.waitSwitches(n, want)
	}
	for n := 1; n <= 3; n++ {
		for _, suffix := range []string{".c-cluster", ".go-cluster"} {
			_, err := os.Stat(s.mv("DB", n) + suffix)
			require.NoError(t, err, "member %d's %s file was not kept", n, suffix)
		}
	}
}

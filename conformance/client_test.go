package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

// clientSetup fills both databases with rows of every kind, through the
// JSON-RPC session, so that the normalisers know every row's symbol.
var clientSetup = []any{
	map[string]any{"op": "insert", "table": "Target", "row": map[string]any{"name": "t1", "n": 1}, "uuid-name": "t1"},
	map[string]any{"op": "insert", "table": "Target", "row": map[string]any{"name": "t2", "n": 2}, "uuid-name": "t2"},
	map[string]any{"op": "insert", "table": "Child", "row": map[string]any{"name": "c1", "val": 10}, "uuid-name": "c1"},
	map[string]any{"op": "insert", "table": "Parent", "row": map[string]any{
		"name": "p1", "child": []any{"named-uuid", "c1"},
		"weak": []any{"set", []any{[]any{"named-uuid", "t1"}, []any{"named-uuid", "t2"}}},
		"wmap": []any{"map", []any{[]any{"a", []any{"named-uuid", "t1"}}}},
		"cmap": []any{"map", []any{[]any{[]any{"named-uuid", "c1"}, 3}}},
	}},
	map[string]any{"op": "insert", "table": "Atoms", "row": map[string]any{
		"i": 42, "r": 2.5, "b": true, "s": "hello world", "e": "red", "si": []any{"set", []any{3, 1, 2}},
		"ss": []any{"set", []any{"x", "y z"}}, "mss": []any{"map", []any{[]any{"k", "v"}, []any{"quote", "\"q\""}}},
		"mir": []any{"map", []any{[]any{1, 0.5}}}, "sr": []any{"set", []any{1.5, -0.25}}, "imm": "fixed",
		"u": []any{"uuid", "01234567-89ab-cdef-0123-456789abcdef"},
	}},
	map[string]any{"op": "insert", "table": "Atoms", "row": map[string]any{"i": -1, "s": "", "os": "opt"}},
	map[string]any{"op": "insert", "table": "Uniq", "row": map[string]any{"key": "k1", "a": 1, "b": "x"}},
	map[string]any{"op": "insert", "table": "Limited", "row": map[string]any{"name": "only"}},
}

type clientCase struct {
	name string
	args []string // arguments after the command name; "SERVER" is replaced
	// jsonOut: stdout is JSON (transact, query) and is compared normalised.
	jsonOut bool
	// sortRows: stdout is one or more tables whose rows C prints in hash
	// order; rows are sorted within each table before comparing.
	sortRows bool
}

var clientCases = []clientCase{
	{name: "list-dbs", args: []string{"list-dbs", "SERVER"}},
	{name: "get-schema", args: []string{"get-schema", "SERVER", dbName}},
	{name: "get-schema-server", args: []string{"get-schema", "SERVER", "_Server"}},
	{name: "get-schema-unknown", args: []string{"get-schema", "SERVER", "Nope"}},
	{name: "get-schema-version", args: []string{"get-schema-version", "SERVER", dbName}},
	{name: "get-schema-cksum", args: []string{"get-schema-cksum", "SERVER", dbName}},
	{name: "list-tables", args: []string{"list-tables", "SERVER", dbName}},
	{name: "list-columns", args: []string{"list-columns", "SERVER", dbName, "Atoms"}},
	{name: "list-columns-all", args: []string{"list-columns", "SERVER", dbName}},
	{name: "transact-select", jsonOut: true, args: []string{"transact", "SERVER",
		`["Conf",{"op":"select","table":"Parent","where":[]}]`}},
	{name: "transact-insert", jsonOut: true, args: []string{"transact", "SERVER",
		`["Conf",{"op":"insert","table":"Target","row":{"name":"from-client","n":9}},{"op":"select","table":"Target","where":[],"columns":["name","n"]}]`}},
	{name: "transact-error", jsonOut: true, args: []string{"transact", "SERVER",
		`["Conf",{"op":"insert","table":"Atoms","row":{"ci":1000}}]`}},
	{name: "transact-unknown-db", args: []string{"transact", "SERVER", `["Nope",{"op":"comment","comment":"x"}]`}},
	{name: "query", jsonOut: true, args: []string{"query", "SERVER",
		`["Conf",{"op":"select","table":"Atoms","where":[],"columns":["i","s","si","mss","e"]}]`}},
	{name: "query-write-rejected", jsonOut: true, args: []string{"query", "SERVER",
		`["Conf",{"op":"insert","table":"Target","row":{"name":"not-committed"}},{"op":"select","table":"Target","where":[["name","==","not-committed"]]}]`}},
	{name: "dump", sortRows: true, args: []string{"dump", "SERVER", dbName}},
	{name: "dump-tables", sortRows: true, args: []string{"dump", "SERVER", dbName, "Parent", "Target"}},
	{name: "dump-columns", sortRows: true, args: []string{"dump", "SERVER", dbName, "Atoms", "i", "s", "si"}},
	{name: "dump-json", jsonOut: true, args: []string{"--format=json", "dump", "SERVER", dbName, "Target"}},
	{name: "dump-csv", sortRows: true, args: []string{"--format=csv", "dump", "SERVER", dbName, "Atoms"}},
	{name: "dump-server", sortRows: true, args: []string{"dump", "SERVER", "_Server", "Database", "name", "model", "connected", "leader"}},
}

// TestOvsdbClient runs ovsdb-client commands against both servers and
// compares their normalised output, stderr and exit status.
func TestOvsdbClient(t *testing.T) {
	client := testutil.RequireTool(t, "ovsdb-client")
	ref, test := startPair(t)
	s := newSession(t, "ovsdb-client", ref, test)
	s.compare("setup", request{Method: "transact", Params: append([]any{dbName}, clientSetup...)})

	for _, tc := range clientCases {
		t.Run(tc.name, func(t *testing.T) {
			outRef := runClient(t, client, ref.sock, tc.args)
			outTest := runClient(t, client, test.sock, tc.args)
			nr := normalizeClientOutput(t, tc, outRef, s.nref)
			nt := normalizeClientOutput(t, tc, outTest, s.ntest)
			totals.compared.Add(1)
			if nr != nt {
				totals.differ.Add(1)
				t.Errorf("ovsdb-client %s differs\nC:\n%s\nGo:\n%s", strings.Join(tc.args, " "), nr, nt)
			}
		})
	}
}

type clientOutput struct {
	stdout, stderr string
	exit           int
}

func runClient(t *testing.T, client, sock string, args []string) clientOutput {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	full := make([]string, 0, len(args)+1)
	full = append(full, "--timeout=8")
	for _, a := range args {
		if a == "SERVER" {
			a = "unix:" + sock
		}
		full = append(full, a)
	}
	cmd := exec.CommandContext(ctx, client, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := clientOutput{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		out.exit = ee.ExitCode()
	default:
		require.NoError(t, err)
	}
	require.NoError(t, ctx.Err(), "ovsdb-client %v timed out", args)
	// The socket path differs between the two servers.
	out.stderr = strings.ReplaceAll(out.stderr, sock, "SOCK")
	return out
}

// uuidListRE matches a printed set [..] or map {..} holding UUID symbols.
var uuidListRE = regexp.MustCompile(`\[[^\[\]\n]*<u[^\[\]\n]*\]|\{[^{}\n]*<u[^{}\n]*\}`)

// normalizeClientOutput renders one run's output for comparison.
func normalizeClientOutput(t *testing.T, tc clientCase, o clientOutput, n *normalizer) string {
	t.Helper()
	stdout := o.stdout
	if tc.jsonOut && o.exit == 0 {
		v, err := decode([]byte(stdout))
		require.NoError(t, err, "ovsdb-client output is not JSON: %s", stdout)
		if tc.args[0] == "transact" {
			n.registerInserts(map[string]any{"result": v})
		}
		stdout = canon(n.normalize(v)) + "\n"
	} else {
		// UUIDs become symbols padded to a UUID's width, so that column
		// alignment in tables is still compared.
		stdout = uuidRE.ReplaceAllStringFunc(stdout, func(u string) string {
			return fmt.Sprintf("%-36s", n.replaceUUIDs(u))
		})
		// Sets and maps of UUIDs are printed in UUID order.
		stdout = uuidListRE.ReplaceAllStringFunc(stdout, func(l string) string {
			elems := strings.Split(l[1:len(l)-1], ", ")
			sort.Strings(elems)
			return l[:1] + strings.Join(elems, ", ") + l[len(l)-1:]
		})
		if tc.sortRows {
			stdout = sortTableRows(stdout, tc.args)
		}
	}
	stderr := uuidRE.ReplaceAllStringFunc(o.stderr, n.replaceUUIDs)
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", o.exit, stdout, stderr)
}

// sortTableRows sorts the data rows of each table in ovsdb-client's table
// (or CSV) output. Tables are separated by blank lines; a table starts with
// a title line ("X table"), then a heading line, then (text format) a line
// of dashes.
func sortTableRows(s string, args []string) string {
	csv := false
	for _, a := range args {
		if a == "--format=csv" {
			csv = true
		}
	}
	var out []string
	for _, block := range strings.Split(s, "\n\n") {
		lines := strings.Split(strings.TrimRight(block, "\n"), "\n")
		head := 3
		if csv {
			head = 2
		}
		if len(lines) > head {
			body := append([]string(nil), lines[head:]...)
			sort.Strings(body)
			lines = append(lines[:head:head], body...)
		}
		out = append(out, strings.Join(lines, "\n"))
	}
	return strings.Join(out, "\n\n") + "\n"
}

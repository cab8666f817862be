package schema_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/cjson"
	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
	"github.com/ovsdb-go/ovsdb-server/ovsdberr"
	"github.com/ovsdb-go/ovsdb-server/schema"
)

// cToolError renders err the way C's ovsdb-tool prints a schema error.
func cToolError(path string, err error) string {
	e := ovsdberr.As(err)
	s := "ovsdb-tool: "
	if e.HasSyntax {
		s += "syntax \"" + cjson.String(e.Syntax) + "\": "
	}
	return s + e.Tag + ": failed to parse \"" + path + "\" as ovsdb schema: " + e.Details
}

// TestBadSchemasMatchC feeds invalid schemas to C's `ovsdb-tool create` and
// to our parser and requires the same message.
func TestBadSchemasMatchC(t *testing.T) {
	tool := testutil.RequireTool(t, "ovsdb-tool")
	cases := []string{
		`{"name":"x","tables":{"T":{"columns":{}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":"foo"}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":7}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"key":"integer","min":2}}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"key":"integer","max":0}}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"key":"integer","max":"lots"}}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"key":"integer","min":-1}}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"uuid","refTable":"U"}}}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"uuid","refTable":"T","refType":"soft"}}}}}}}`,
		`{"name":"x","version":"1.2","tables":{"T":{"columns":{"a":{"type":"integer"}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":"integer","foo":1}}}}}`,
		`{"tables":{}}`,
		`{"name":"1x","tables":{}}`,
		`{"name":"x","tables":{"_T":{"columns":{"a":{"type":"integer"}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"_a":{"type":"integer"}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a-b":{"type":"integer"}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"integer","enum":["set",["a"]]}}}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"integer","enum":1,"minInteger":0}}}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"integer","minInteger":5,"maxInteger":1}}}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"real","minReal":5,"maxReal":1.5}}}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"string","minLength":5,"maxLength":1}}}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"string","minLength":-1}}}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"key":{"type":"string","minInteger":1}}}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":"integer"}},"maxRows":0}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":"integer"}},"indexes":[["b"]]}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":"integer"}},"indexes":[["a","a"]]}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":"integer"}},"indexes":[[]]}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":"integer","ephemeral":true}},"indexes":[["a"]]}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":"integer"}},"isRoot":"yes"}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"key":"string","value":{"type":"real","maxReal":"x"}}}}}}}`,
		`{"name":"x","tables":{"T":{"columns":{"a":{"type":{"value":"string"}}}}}}`,
		`["not","an","object"]`,
	}
	dir := t.TempDir()
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("s%d.ovsschema", i))
			require.NoError(t, os.WriteFile(path, []byte(c), 0o644))
			out, err := exec.Command(tool, "create", filepath.Join(dir, fmt.Sprintf("d%d.db", i)), path).CombinedOutput()
			require.Error(t, err, "C accepted %s", c)
			_, ours := schema.ParseSchemaBytes([]byte(c))
			require.Error(t, ours, "we accepted %s", c)
			require.Equal(t, strings.TrimSpace(string(out)), cToolError(path, ours), c)
		})
	}
}

// TestGetSchemaMatchesC compares our schema JSON byte for byte (member
// order included, which follows C's hash tables) with what C writes as the
// first record of a new database file, and with what the C server's
// get_schema returns for that file, for the OVN and OVS schemas.
func TestGetSchemaMatchesC(t *testing.T) {
	tool := testutil.RequireTool(t, "ovsdb-tool")
	srv := testutil.RequireTool(t, "ovsdb-server")
	files := []string{"/usr/share/ovn/ovn-nb.ovsschema", "/usr/share/ovn/ovn-sb.ovsschema",
		"/usr/share/openvswitch/vswitch.ovsschema", "testdata/all-types.ovsschema",
		"/usr/share/ovn/ovn-ic-nb.ovsschema", "/usr/share/ovn/ovn-ic-sb.ovsschema",
		"../conformance/testdata/test.ovsschema"}
	dir := t.TempDir()
	args := []string{"--remote=punix:" + filepath.Join(dir, "sock"), "--no-chdir",
		"--unixctl=" + filepath.Join(dir, "ctl"), "--log-file=" + filepath.Join(dir, "log")}
	var ours []*schema.DatabaseSchema
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil && !testutil.InCI() && os.IsNotExist(err) {
			t.Skipf("%s missing", f)
		}
		require.NoError(t, err)
		s, err := schema.ParseSchemaBytes(data)
		require.NoError(t, err, f)
		ours = append(ours, s)
		db := filepath.Join(dir, fmt.Sprintf("%d.db", i))
		out, err := exec.Command(tool, "create", db, f).CombinedOutput()
		require.NoError(t, err, string(out))
		args = append(args, db)
		rec := firstRecord(t, db)
		require.Equal(t, string(rec), string(cjson.Marshal(s.CJSON())), "ovsdb-tool create %s", f)
		// The server re-parses the record C wrote: its text order is what
		// decides get_schema's order. Parse it as our storage does (from the
		// record's text).
		s, err = schema.ParseSchemaBytes(rec)
		require.NoError(t, err)
		ours[len(ours)-1] = s
	}
	cmd := exec.Command(srv, args...)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var conn net.Conn
	var err error
	for i := 0; i < 200; i++ {
		if conn, err = net.Dial("unix", filepath.Join(dir, "sock")); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	require.NoError(t, err)
	defer conn.Close()
	dec := json.NewDecoder(conn)
	for i, s := range ours {
		req := fmt.Sprintf(`{"method":"get_schema","params":[%q],"id":%d}`, s.Name, i)
		_, err := conn.Write([]byte(req))
		require.NoError(t, err)
		var reply struct {
			Result json.RawMessage
			Error  any
		}
		require.NoError(t, dec.Decode(&reply))
		require.Nil(t, reply.Error)
		require.Equal(t, string(reply.Result), string(cjson.Marshal(s.CJSON())), s.Name)
	}
}

// firstRecord returns the JSON text of a standalone database file's first
// record.
func firstRecord(t *testing.T, path string) []byte {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	nl := strings.IndexByte(string(data), '\n')
	require.Positive(t, nl)
	var n int
	_, err = fmt.Sscanf(string(data[:nl]), "OVSDB JSON %d", &n)
	require.NoError(t, err)
	return []byte(strings.TrimSuffix(string(data[nl+1:nl+1+n]), "\n"))
}

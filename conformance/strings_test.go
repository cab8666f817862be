package conformance

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// badStrings are string bodies (the bytes between the quotes, sent as they
// are) that C's JSON parser or its UTF-8 check treats specially: invalid
// UTF-8 (a bad lead byte, overlong forms, UTF-8-encoded surrogates, a code
// point beyond U+10FFFF, a sequence cut short at the end of the string or
// by an ASCII byte, a lone continuation byte, 5-byte forms) and escapes
// (unpaired leading surrogate, lone trailing surrogate, null, valid pairs).
// A few valid strings are included so that both outcomes are compared.
var badStrings = []string{
	"a\xffb", "\xfe", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xed\xa0\x80", "\xed\xbf\xbf",
	"\xf0\x80\x80\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xe2\x82a", "\xf0\x9f\x98", "\x80",
	"\xf8\x88\x80\x80\x80",
	`\ud800x`, `\ud800`, `\udbff\u0041`, `\ud800\ud800`, `\udc00`, `x\udfff`, `\ud800\u0000`,
	`\u0000`, `\ud83d\ude00`, `\u00e9`, "é",
}

// stringPositions are request sequences with @S@ where a string body goes:
// every place a client's string enters the server.
var stringPositions = []struct {
	name string
	reqs []string
}{
	{"echo param", []string{`{"method":"echo","params":["@S@"],"id":1}`}},
	{"echo member name", []string{`{"method":"echo","params":[{"@S@":["@S@"]}],"id":1}`}},
	{"request id", []string{`{"method":"echo","params":[],"id":"@S@"}`}},
	{"request id array", []string{`{"method":"list_dbs","params":[],"id":["@S@",1]}`}},
	{"method", []string{`{"method":"@S@","params":[],"id":1}`}},
	{"notification method", []string{`{"method":"@S@","params":[],"id":null}`}},
	{"cancel id", []string{`{"method":"cancel","params":["@S@"],"id":null}`}},
	{"get_schema db", []string{`{"method":"get_schema","params":["@S@"],"id":1}`}},
	{"transact db", []string{`{"method":"transact","params":["@S@",{"op":"comment","comment":"x"}],"id":1}`}},
	{"monitor db", []string{`{"method":"monitor","params":["@S@",null,{"Atoms":{"columns":["i"]}}],"id":1}`}},
	{"convert db", []string{`{"method":"convert","params":["@S@",{}],"id":1}`}},
	{"op name", []string{`{"method":"transact","params":["Conf",{"op":"@S@"}],"id":1}`}},
	{"table name", []string{`{"method":"transact","params":["Conf",{"op":"insert","table":"@S@","row":{}}],"id":1}`}},
	{"select table", []string{`{"method":"transact","params":["Conf",{"op":"select","table":"@S@","where":[]}],"id":1}`}},
	{"column name in row", []string{`{"method":"transact","params":["Conf",{"op":"insert","table":"Atoms","row":{"@S@":1}}],"id":1}`}},
	{"column name in columns", []string{`{"method":"transact","params":["Conf",{"op":"select","table":"Atoms","where":[],"columns":["@S@"]}],"id":1}`}},
	{"column name in where", []string{`{"method":"transact","params":["Conf",{"op":"select","table":"Atoms","where":[["@S@","==",1]]}],"id":1}`}},
	{"function name", []string{`{"method":"transact","params":["Conf",{"op":"select","table":"Atoms","where":[["i","@S@",1]]}],"id":1}`}},
	{"mutator name", []string{`{"method":"transact","params":["Conf",{"op":"mutate","table":"Atoms","where":[],"mutations":[["i","@S@",1]]}],"id":1}`}},
	{"string value", []string{`{"method":"transact","params":["Conf",{"op":"insert","table":"Atoms","row":{"s":"@S@","i":1}}],"id":1}`}},
	{"constrained string", []string{`{"method":"transact","params":["Conf",{"op":"insert","table":"Atoms","row":{"cs":"@S@"}}],"id":1}`}},
	{"enum string", []string{`{"method":"transact","params":["Conf",{"op":"insert","table":"Atoms","row":{"e":"@S@"}}],"id":1}`}},
	{"update value", []string{`{"method":"transact","params":["Conf",{"op":"update","table":"Atoms","where":[["i","==",42]],"row":{"os":"@S@"}}],"id":1}`}},
	{"set element", []string{`{"method":"transact","params":["Conf",{"op":"insert","table":"Atoms","row":{"ss":["set",["a","@S@"]]}}],"id":1}`}},
	{"map key", []string{`{"method":"transact","params":["Conf",{"op":"insert","table":"Atoms","row":{"mss":["map",[["@S@","v"]]]}}],"id":1}`}},
	{"map value", []string{`{"method":"transact","params":["Conf",{"op":"insert","table":"Atoms","row":{"mss":["map",[["k","@S@"]]]}}],"id":1}`}},
	{"map key of string-integer map", []string{`{"method":"transact","params":["Conf",{"op":"insert","table":"Atoms","row":{"msi":["map",[["@S@",1]]]}}],"id":1}`}},
	{"uuid-name", []string{`{"method":"transact","params":["Conf",{"op":"insert","table":"Target","row":{},"uuid-name":"@S@"}],"id":1}`}},
	{"named-uuid", []string{`{"method":"transact","params":["Conf",{"op":"insert","table":"Parent","row":{"target":["named-uuid","@S@"]}}],"id":1}`}},
	{"uuid", []string{`{"method":"transact","params":["Conf",{"op":"select","table":"Atoms","where":[["u","==",["uuid","@S@"]]]}],"id":1}`}},
	{"atom type tag", []string{`{"method":"transact","params":["Conf",{"op":"insert","table":"Atoms","row":{"ss":["@S@",[]]}}],"id":1}`}},
	{"condition value", []string{`{"method":"transact","params":["Conf",{"op":"select","table":"Atoms","where":[["s","==","@S@"]],"columns":["i"]}],"id":1}`}},
	{"condition includes", []string{`{"method":"transact","params":["Conf",{"op":"select","table":"Atoms","where":[["ss","includes","@S@"]],"columns":["i"]}],"id":1}`}},
	{"condition map", []string{`{"method":"transact","params":["Conf",{"op":"delete","table":"Atoms","where":[["mss","excludes",["map",[["@S@","x"]]]]]}],"id":1}`}},
	{"mutation insert", []string{`{"method":"transact","params":["Conf",{"op":"mutate","table":"Atoms","where":[["i","==",42]],"mutations":[["ss","insert","@S@"]]}],"id":1}`}},
	{"mutation delete map key", []string{`{"method":"transact","params":["Conf",{"op":"mutate","table":"Atoms","where":[["i","==",42]],"mutations":[["mss","delete",["set",["@S@"]]]]}],"id":1}`}},
	{"wait row", []string{`{"method":"transact","params":["Conf",{"op":"wait","table":"Atoms","where":[["i","==",42]],"columns":["s"],"until":"==","rows":[{"s":"@S@"}],"timeout":0}],"id":1}`}},
	{"wait until", []string{`{"method":"transact","params":["Conf",{"op":"wait","table":"Atoms","where":[],"columns":["s"],"until":"@S@","rows":[],"timeout":0}],"id":1}`}},
	{"comment", []string{`{"method":"transact","params":["Conf",{"op":"comment","comment":"@S@"}],"id":1}`}},
	{"lock", []string{`{"method":"lock","params":["@S@"],"id":1}`, `{"method":"unlock","params":["@S@"],"id":2}`}},
	{"steal", []string{`{"method":"steal","params":["@S@"],"id":1}`}},
	{"unlock", []string{`{"method":"unlock","params":["@S@"],"id":1}`}},
	{"assert lock", []string{`{"method":"transact","params":["Conf",{"op":"assert","lock":"@S@"}],"id":1}`}},
	{"monitor id", []string{
		`{"method":"monitor","params":["Conf","@S@",{"Target":{"columns":["n"]}}],"id":1}`,
		`{"method":"transact","params":["Conf",{"op":"insert","table":"Target","row":{"n":5}}],"id":2}`,
		`{"method":"monitor_cancel","params":["@S@"],"id":3}`,
	}},
	{"monitor_cond id", []string{
		`{"method":"monitor_cond","params":["Conf",["@S@"],{"Target":[{"columns":["n"],"where":[["n","==",6]]}]}],"id":1}`,
		`{"method":"transact","params":["Conf",{"op":"insert","table":"Target","row":{"n":6}}],"id":2}`,
		`{"method":"monitor_cond_change","params":[["@S@"],["@S@"],{"Target":[{"where":[["name","==","@S@"]]}]}],"id":3}`,
		`{"method":"monitor_cancel","params":[["@S@"]],"id":4}`,
	}},
	{"monitor_cond_since id", []string{
		`{"method":"monitor_cond_since","params":["Conf",{"@S@":1},{"Target":[{"columns":["n"],"where":[["n","==",7]]}]},null],"id":1}`,
		`{"method":"transact","params":["Conf",{"op":"insert","table":"Target","row":{"n":7}}],"id":2}`,
		`{"method":"monitor_cancel","params":[{"@S@":1}],"id":3}`,
	}},
	{"monitor table", []string{`{"method":"monitor","params":["Conf",null,{"@S@":{}}],"id":1}`}},
	{"monitor column", []string{`{"method":"monitor","params":["Conf",null,{"Target":{"columns":["@S@"]}}],"id":1}`}},
	{"monitor_cond where", []string{`{"method":"monitor_cond","params":["Conf",null,{"Target":[{"columns":["name"],"where":[["name","==","@S@"]]}]}],"id":1}`}},
	{"monitor_cond_since last id", []string{`{"method":"monitor_cond_since","params":["Conf",null,{"Target":[{"columns":["n"]}]},"@S@"],"id":1}`}},
}

// TestBadStrings sends every string of badStrings in every position of
// stringPositions, raw, to both servers and compares the replies byte for
// byte (after UUID normalisation; bytes >= 0x80 are compared as they are)
// or that both closed the connection. C keeps a string's bytes as they are
// wherever it does not parse them as a string atom, refuses invalid UTF-8
// in string atoms ("constraint violation", "not a valid UTF-8 string:
// invalid UTF-8 sequence 0x.."), and closes the connection on an escaped
// leading surrogate without its trailing half or an escaped null.
func TestBadStrings(t *testing.T) {
	ref, test := startPair(t)
	norm := [2]*normalizer{newNormalizer(), newNormalizer()}
	setup := `{"method":"transact","params":["Conf",{"op":"insert","table":"Atoms","row":{"i":42,"s":"x"}}],"id":"setup"}`
	for i, srv := range []*server{ref, test} {
		_, err := rawSession(norm[i], srv.sock, []string{setup})
		require.NoError(t, err)
	}
	n, closed, diffs := 0, 0, 0
	for _, pos := range stringPositions {
		for _, body := range badStrings {
			reqs := make([]string, len(pos.reqs))
			for i, r := range pos.reqs {
				reqs[i] = strings.ReplaceAll(r, "@S@", body)
			}
			var got [2]string
			for i, srv := range []*server{ref, test} {
				out, err := rawSession(norm[i], srv.sock, reqs)
				require.NoError(t, err, "%s server, %s, %q", srv.name, pos.name, body)
				got[i] = out
			}
			if got[0] != got[1] {
				diffs++
				t.Errorf("%s: %q\nrequests: %q\nC:  %s\nGo: %s", pos.name, body, reqs, got[0], got[1])
			}
			n++
			if strings.HasSuffix(got[0], "closed") {
				closed++
			}
		}
	}
	// Both still serve and agree on the contents.
	sel := []string{`{"method":"transact","params":["Conf",{"op":"select","table":"Atoms","where":[],"columns":["s","cs","e","os","ss","mss","msi"]},{"op":"select","table":"Target","where":[],"columns":["n"]}],"id":9}`}
	var final [2]string
	for i, srv := range []*server{ref, test} {
		out, err := rawSession(norm[i], srv.sock, sel)
		require.NoError(t, err)
		final[i] = out
	}
	require.Equal(t, final[0], final[1])
	require.NotContains(t, final[0], "closed")
	t.Logf("%d request sequences compared, %d closed the connection, %d differ", n, closed, diffs)
}

// rawSession sends reqs (raw bytes) one by one on a new connection, each
// after the reply to the one before (requests with "id":null are
// notifications: a list_dbs follows them), then a synchronising list_dbs,
// and returns what came back, normalised: each message on a line, then
// "closed" if the server closed the connection.
func rawSession(n *normalizer, sock string, reqs []string) (string, error) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(replyTimeout))
	dec := json.NewDecoder(bufio.NewReader(c))
	var out []string
	const sync = `{"method":"list_dbs","params":[],"id":"sync"}`
	for _, r := range append(reqs, sync) {
		// The server may have closed the connection already: a write
		// error is then expected, and EOF below.
		_, _ = c.Write([]byte(r))
		if strings.Contains(r, `"id":null`) {
			_, _ = c.Write([]byte(sync))
		}
		for {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "reset") {
					return strings.Join(append(out, "closed"), "\n"), nil
				}
				return "", fmt.Errorf("reading reply to %q: %v (got %q)", r, err, out)
			}
			v, err := decode(escapeHighBytes(raw))
			if err != nil {
				return "", fmt.Errorf("reply %q: %v", raw, err)
			}
			m, _ := v.(map[string]any)
			if m["id"] == "sync" {
				break
			}
			n.registerInserts(v)
			out = append(out, canon(n.normalize(v)))
			if _, isNote := m["method"]; !isNote {
				break // the reply to r
			}
		}
	}
	return strings.Join(out, "\n"), nil
}

// escapeHighBytes rewrites every byte >= 0x80 of a JSON text (they occur
// only in strings) as the escape \u00XX, so that encoding/json keeps every
// byte distinct instead of replacing invalid UTF-8 with U+FFFD.
func escapeHighBytes(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c >= 0x80 {
			out = fmt.Appendf(out, `\u00%02x`, c)
			continue
		}
		out = append(out, c)
	}
	return out
}

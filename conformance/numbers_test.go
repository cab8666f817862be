package conformance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rawOutcome sends text on a fresh connection to sock and returns what
// came back: the decoded, normalised reply, or "closed" when the server
// closed the connection without one.
func rawOutcome(t *testing.T, n *normalizer, sock, text string) string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte(text))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	dec := json.NewDecoder(bufio.NewReader(c))
	dec.UseNumber()
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		if err == io.EOF || !isTimeout(err) && strings.Contains(err.Error(), "reset") {
			return "closed"
		}
		t.Fatalf("reading the reply to %s: %v", text, err)
	}
	v, err := decode(raw)
	require.NoError(t, err, "reply %q", raw)
	n.registerInserts(v)
	return canon(n.normalize(v))
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestNumberRange sends JSON numbers at and beyond the edges of what C's
// JSON parser accepts, in every place a request can hold one: C closes the
// connection on a number outside the range of a double (1e999), on a
// subnormal one (1e-310) and on an exponent beyond an int; it reads one
// that underflows to zero as 0. The test compares what each server does
// (reply or closed connection), then checks that both still serve.
func TestNumberRange(t *testing.T) {
	ref, test := startPair(t)
	numbers := []string{
		"1e999", "-1e999", "1e309", "1e308", "-1e308", "1e-310", "4.9e-324", "1e-400", "0.1e-999",
		"2.2250738585072014e-308", "0e99999999999", "0e999", "1e2147483647", "1e-214748364",
		"9223372036854775807", "-9223372036854775808", "9223372036854775808", "18446744073709551616",
		"18446744073709551617", "1844674407370955161.6", "123456789012345678901234567890", "1.5e3", "1.00000000000000000001", "-0", "-0.0e5",
	}
	templates := []string{
		`{"method":"echo","params":[%s],"id":1}`,
		`{"method":"echo","params":[{"a":[%s]}],"id":1}`,
		`{"method":"echo","params":["é",%s],"id":1}`,
		`{"method":"transact","params":["Conf",{"op":"insert","table":"Atoms","row":{"r":%s}}],"id":2}`,
		`{"method":"transact","params":["Conf",{"op":"insert","table":"Atoms","row":{"i":%s}}],"id":2}`,
		`{"method":"transact","params":["Conf",{"op":"select","table":"Atoms","where":[["r","<",%s]],"columns":["r"]}],"id":3}`,
		`{"method":"transact","params":["Conf",{"op":"mutate","table":"Atoms","where":[],"mutations":[["i","+=",%s]]}],"id":4}`,
		`{"method":"transact","params":["Conf",{"op":"wait","table":"Atoms","where":[],"columns":["r"],"until":"!=","rows":[],"timeout":%s}],"id":5}`,
		`{"method":"echo","params":[],"id":%s}`,
	}
	norm := [2]*normalizer{newNormalizer(), newNormalizer()}
	n := 0
	for _, tmpl := range templates {
		for _, num := range numbers {
			text := fmt.Sprintf(tmpl, num)
			if strings.Contains(tmpl, `"wait"`) && !strings.HasPrefix(num, "-") && num != "1e-400" && num != "0.1e-999" && num != "0e999" && num != "0e99999999999" {
				// A long "wait" timeout: both servers would block.
				continue
			}
			got := [2]string{rawOutcome(t, norm[0], ref.sock, text), rawOutcome(t, norm[1], test.sock, text)}
			require.Equal(t, got[0], got[1], "request %s", text)
			n++
		}
	}
	// Both servers still serve, and agree on the database contents.
	sel := `{"method":"transact","params":["Conf",{"op":"select","table":"Atoms","where":[],"columns":["i","r"]}],"id":9}`
	require.Equal(t, rawOutcome(t, norm[0], ref.sock, sel), rawOutcome(t, norm[1], test.sock, sel))
	t.Logf("%d raw requests compared", n)
}

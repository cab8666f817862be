package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/internal/testutil"
)

func TestFrameReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		err  error
	}{
		{"two objects", `{"a":1}{"b":[2,3]}`, []string{`{"a":1}`, `{"b":[2,3]}`}, io.EOF},
		{"whitespace between", " {\"a\":1}\n\t [1] ", []string{`{"a":1}`, `[1]`}, io.EOF},
		{"braces in strings", `{"s":"}{]["}{"t":"\"}"}`, []string{`{"s":"}{]["}`, `{"t":"\"}"}`}, io.EOF},
		{"escaped backslash before quote", `{"s":"a\\"}{"x":0}`, []string{`{"s":"a\\"}`, `{"x":0}`}, io.EOF},
		{"truncated", `{"a":1}{"b":`, []string{`{"a":1}`}, io.ErrUnexpectedEOF},
		{"bare value", `{"a":1} 3`, []string{`{"a":1}`}, errFrameSyntax},
		{"unbalanced", `{"a":1}]`, []string{`{"a":1}`}, errFrameSyntax},
	}
	for _, tc := range tests {
		for _, oneByte := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				var r io.Reader = strings.NewReader(tc.in)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				fr := newFrameReader(r, 0)
				var got []string
				var err error
				for {
					var f []byte
					f, err = fr.Next()
					if err != nil {
						break
					}
					got = append(got, string(f))
				}
				require.ErrorIs(t, err, tc.err)
				require.Equal(t, tc.want, got)
			})
		}
	}
}

func TestFrameReaderLargeFrame(t *testing.T) {
	// A frame much larger than the initial buffer, split across reads.
	big := `{"result":{"T":{` + strings.Repeat(`"k":"v\"}",`, 20000) + `"z":1}},"id":7}`
	fr := newFrameReader(iotest.HalfReader(strings.NewReader(big+`{"id":8}`)), 512)
	f, err := fr.Next()
	require.NoError(t, err)
	require.Equal(t, big, string(f))
	f, err = fr.Next()
	require.NoError(t, err)
	require.Equal(t, `{"id":8}`, string(f))
}

func TestFanoutKey(t *testing.T) {
	tests := []struct {
		msg string
		k   int
		ok  bool
	}{
		{`{"id":null,"method":"update2","params":["mon1",{"Logical_Switch":{"u":{"insert":{"name":"fan-42"}}}}]}`, 42, true},
		{`{"method":"update","params":["m",{"Logical_Switch":{"u":{"new":{"acls":["set",[]],"name":"fan-0"}}}}],"id":null}`, 0, true},
		{`{"id":null,"method":"update2","params":["m",{"Logical_Switch":{"u":{"insert":{"name":"ls-1"}}}}]}`, 0, false},
		{`{"name":"fan-x"}`, 0, false},
		{`{"name":"fan-"}`, 0, false},
		{`{"id":"echo","method":"echo","params":[]}`, 0, false},
	}
	for _, tc := range tests {
		k, ok := fanoutKey([]byte(tc.msg))
		require.Equal(t, tc.ok, ok, tc.msg)
		require.Equal(t, tc.k, k, tc.msg)
	}
}

func TestIsEchoAndReply(t *testing.T) {
	id, ok := isEcho([]byte(`{"id":"echo","method":"echo","params":[]}`))
	require.True(t, ok)
	require.JSONEq(t, `{"id":"echo","result":[],"error":null}`, string(echoReply(id)))
	_, ok = isEcho([]byte(`{"id":null,"method":"update2","params":["m",{"T":{"u":{"insert":{"name":"echo"}}}}]}`))
	require.False(t, ok)
	_, ok = isEcho([]byte(`{"id":null,"method":"echo","params":[]}`))
	require.False(t, ok, "an echo notification needs no reply")
}

func TestMonitorCondRequest(t *testing.T) {
	var m struct {
		ID     int    `json:"id"`
		Method string `json:"method"`
		Params []any  `json:"params"`
	}
	require.NoError(t, json.Unmarshal(monitorCondRequest("OVN_Northbound", "Logical_Switch", 3), &m))
	require.Equal(t, 3, m.ID)
	require.Equal(t, "monitor_cond", m.Method)
	require.Equal(t, []any{"OVN_Northbound", "mon3", map[string]any{"Logical_Switch": []any{map[string]any{}}}}, m.Params)
}

func TestLoadParams(t *testing.T) {
	raw, err := loadParams(2, 3)
	require.NoError(t, err)
	var ops []any
	require.NoError(t, json.Unmarshal(raw, &ops))
	require.Len(t, ops, 1+3+1)
	require.Equal(t, nbDB, ops[0])
	port := ops[1].(map[string]any)
	require.Equal(t, "Logical_Switch_Port", port["table"])
	require.Equal(t, "p0", port["uuid-name"])
	row := port["row"].(map[string]any)
	require.Equal(t, "lsp-2-0", row["name"])
	require.Equal(t, "0a:00:00:00:00:06 10.0.0.6", row["addresses"])
	sw := ops[4].(map[string]any)
	require.Equal(t, "Logical_Switch", sw["table"])
	require.Equal(t, []any{"set", []any{[]any{"named-uuid", "p0"}, []any{"named-uuid", "p1"}, []any{"named-uuid", "p2"}}},
		sw["row"].(map[string]any)["ports"])
	// Every port name is distinct across switches.
	require.False(t, bytes.Contains(raw, []byte(`"lsp-1-`)))
}

func TestCountTableRows(t *testing.T) {
	n, err := countTableRows([]byte(`{"id":1,"result":{"T":{"a":{"initial":{}},"b":{"initial":{}}}},"error":null}`), "T")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	n, err = countTableRows([]byte(`{"id":1,"result":{},"error":null}`), "T")
	require.NoError(t, err)
	require.Equal(t, 0, n)
	_, err = countTableRows([]byte(`{"id":1,"result":null,"error":{"error":"unknown database"}}`), "T")
	require.ErrorContains(t, err, "unknown database")
}

func TestMedians(t *testing.T) {
	require.Equal(t, 2*time.Millisecond, medianDuration([]time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}))
	require.Equal(t, time.Millisecond, medianDuration([]time.Duration{2 * time.Millisecond, time.Millisecond}))
	require.Zero(t, medianDuration(nil))
	f := MedianFanout([]FanoutResult{
		{Server: "c", Clients: 10, P50Micros: 5, P99Micros: 9, MeanMicros: 6, Samples: []float64{1}},
		{Server: "c", Clients: 10, P50Micros: 1, P99Micros: 30, MeanMicros: 2},
		{Server: "c", Clients: 10, P50Micros: 3, P99Micros: 10, MeanMicros: 4},
	})
	require.Equal(t, FanoutResult{Server: "c", Clients: 10, P50Micros: 3, P99Micros: 10, MeanMicros: 4}, f)
	in := MedianInitial([]InitialResult{
		{Server: "ours", RunsMillis: []float64{9, 1}, MedianMilli: 1, FirstMilli: 9, RSSLoadedKiB: 300},
		{Server: "ours", RunsMillis: []float64{7, 2}, MedianMilli: 2, FirstMilli: 7, RSSLoadedKiB: 100},
		{Server: "ours", RunsMillis: []float64{8, 3}, MedianMilli: 3, FirstMilli: 8, RSSLoadedKiB: 200},
	})
	require.Equal(t, []float64{9, 1, 7, 2, 8, 3}, in.RunsMillis)
	require.Equal(t, 2.0, in.MedianMilli)
	require.Equal(t, 8.0, in.FirstMilli)
	require.Equal(t, int64(200), in.RSSLoadedKiB)
}

// TestMonitorBenchAgainstC is a small smoke run of both measurements on
// the C server (the OVN NB schema must be installed).
func TestMonitorBenchAgainstC(t *testing.T) {
	srv := testutil.RequireTool(t, "ovsdb-server")
	tool := testutil.RequireTool(t, "ovsdb-tool")
	const nbSchema = "/usr/share/ovn/ovn-nb.ovsschema"
	if _, err := SchemaName(nbSchema); err != nil {
		if testutil.InCI() {
			t.Fatalf("OVN NB schema: %v", err)
		}
		testutil.MissingPrerequisite(t, "OVN NB schema: %v", err)
	}
	_, err := RaiseFDLimit()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	so := StartOptions{Tool: tool, SchemaPath: nbSchema, Unixctl: true}
	spec := ServerSpec{Name: "c", Binary: srv}

	f, err := RunFanout(ctx, spec, FanoutOptions{Start: so, TempDir: t.TempDir(), Clients: 5, Txns: 4, Warmup: 1, Wait: 20 * time.Second})
	require.NoError(t, err)
	require.Equal(t, 4, f.Txns)
	require.Len(t, f.Samples, 4)
	require.Positive(t, f.P50Micros)
	require.GreaterOrEqual(t, f.P99Micros, f.P50Micros)
	require.Positive(t, f.RSSKiB)

	in, err := RunInitial(ctx, spec, InitialOptions{Start: so, TempDir: t.TempDir(), Runs: 2,
		Load: LoadOptions{Switches: 2, PortsPerSwitch: 50}})
	require.NoError(t, err)
	require.Equal(t, 100, in.Ports)
	require.Len(t, in.RunsMillis, 2)
	require.Positive(t, in.MedianMilli)
	require.Greater(t, in.ReplyBytes, 100*50, "reply carries every port")
	require.Positive(t, in.RSSLoadedKiB)
	require.Positive(t, in.RSSMonitorKiB)
	require.Positive(t, in.RSSReopenedKiB)
	require.Positive(t, in.DBFileBytes)
}

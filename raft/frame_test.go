package raft

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFrameRoundTrip checks both frame kinds: "apply" travels as a binary
// frame (entry bytes verbatim, successful answer as index + reply JSON),
// every other request and every failed answer as JSON.
func TestFrameRoundTrip(t *testing.T) {
	entry := []byte{entryVersion, 0, '{', 0xff, 'A'} // arbitrary bytes, not JSON
	tests := []struct {
		name       string
		req        *Request
		resp       *Response
		wantBinary bool
		wantResp   *Response
	}{
		{"apply ok", &Request{Op: "apply", Entry: entry},
			&Response{Index: 42, Reply: json.RawMessage(`[{"uuid":["uuid","x"]}]`)}, true,
			&Response{Index: 42, Reply: json.RawMessage(`[{"uuid":["uuid","x"]}]`)}},
		{"apply blocked", &Request{Op: "apply", Entry: entry},
			&Response{Index: 7, Reply: json.RawMessage("null")}, true,
			&Response{Index: 7, Reply: json.RawMessage("null")}},
		{"apply not leader", &Request{Op: "apply", Entry: entry},
			&Response{Error: "not leader", NotLeader: true, Leader: "tcp:127.0.0.1:1"}, true,
			&Response{Error: "not leader", NotLeader: true, Leader: "tcp:127.0.0.1:1"}},
		{"apply error", &Request{Op: "apply", Entry: entry},
			&Response{Error: "boom"}, true, &Response{Error: "boom"}},
		{"join", &Request{Op: "join", ServerID: "id", Address: "tcp:127.0.0.1:2"},
			&Response{LeaderID: "l", ClusterID: "c"}, false, &Response{LeaderID: "l", ClusterID: "c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var wire bytes.Buffer
			require.NoError(t, writeRequest(&wire, tc.req))
			require.Equal(t, tc.wantBinary, wire.Bytes()[4] == frameApply)
			got, binaryApply, err := readRequest(&wire)
			require.NoError(t, err)
			require.Equal(t, tc.wantBinary, binaryApply)
			require.Equal(t, tc.req.Op, got.Op)
			require.Equal(t, tc.req.Entry, got.Entry)
			require.Equal(t, tc.req.ServerID, got.ServerID)
			require.Zero(t, wire.Len())

			require.NoError(t, writeResponse(&wire, binaryApply, tc.resp))
			resp, err := readResponse(&wire)
			require.NoError(t, err)
			require.Equal(t, tc.wantResp, resp)
			require.Zero(t, wire.Len())
		})
	}
}

func TestFrameTruncatedApplyAnswer(t *testing.T) {
	var wire bytes.Buffer
	require.NoError(t, writeRaw(&wire, []byte{frameApply}, []byte{0, 0, 0}))
	_, err := readResponse(&wire)
	require.Error(t, err)
}

// FuzzClusterFrames feeds arbitrary bytes to every parser of what arrives
// on a cluster connection: the Raft connection preamble (target server
// id) and its answer, and cluster RPC request and response frames. None
// may panic; a preamble read back re-encodes to the bytes it came from.
func FuzzClusterFrames(f *testing.F) {
	pre, err := appendPreamble(nil, "1b9a5d76-e69b-410c-8085-39943d0cd38c")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pre)
	f.Add([]byte{0})
	refusal, _ := appendPreamble([]byte{raftRefuse}, "4984aaaa-e69b-410c-8085-39943d0cd38c")
	f.Add(refusal)
	f.Add([]byte{raftAccept})
	var wire bytes.Buffer
	_ = writeRequest(&wire, &Request{Op: "apply", Entry: []byte{entryVersion, 0, 1}})
	f.Add(bytes.Clone(wire.Bytes()))
	wire.Reset()
	_ = writeRequest(&wire, &Request{Op: "join", ServerID: "id", Address: "tcp:127.0.0.1:2"})
	f.Add(bytes.Clone(wire.Bytes()))
	wire.Reset()
	_ = writeResponse(&wire, true, &Response{Index: 42, Term: 3, Reply: json.RawMessage(`[[{"count":1}]]`)})
	f.Add(bytes.Clone(wire.Bytes()))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		if id, err := readPreamble(r); err == nil {
			b, err := appendPreamble(nil, id)
			require.NoError(t, err)
			require.Equal(t, data[:len(data)-r.Len()], b)
		}
		err := readAnswer(bytes.NewReader(data), "tcp:127.0.0.1:1", "x")
		var re *RefusedError
		if errors.As(err, &re) {
			require.Equal(t, "x", re.Target)
		}
		_, _, _ = readRequest(bytes.NewReader(data))
		_, _ = readResponse(bytes.NewReader(data))
	})
}

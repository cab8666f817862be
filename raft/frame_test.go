package raft

import (
	"bytes"
	"encoding/json"
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
		{"join", &Request{Op: "join", ID: "id", Address: "tcp:127.0.0.1:2"},
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
			require.Equal(t, tc.req.ID, got.ID)
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

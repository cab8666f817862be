package ovsdb

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ovsdb-go/ovsdb-server/schema"
)

func TestClassifyOps(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  string
		want OpsClass
	}{
		{"empty", `[]`, OpsClass{ReadOnly: true, WaitTimeoutMS: -1}},
		{"read-only ops", `[{"op":"select"},{"op":"wait"},{"op":"comment"},{"op":"assert"},{"op":"abort"}]`,
			OpsClass{ReadOnly: true, WaitTimeoutMS: -1}},
		{"insert", `[{"op":"select"},{"op":"insert"}]`, OpsClass{WaitTimeoutMS: -1}},
		{"each write op", `[{"op":"update"},{"op":"mutate"},{"op":"delete"},{"op":"commit"}]`, OpsClass{WaitTimeoutMS: -1}},
		{"unknown op", `[{"op":"frobnicate"}]`, OpsClass{WaitTimeoutMS: -1}},
		{"op not a string", `[{"op":1}]`, OpsClass{WaitTimeoutMS: -1}},
		{"no op", `[{}]`, OpsClass{WaitTimeoutMS: -1}},
		{"not an object", `[{"op":"select"},1]`, OpsClass{WaitTimeoutMS: -1}},
		{"locks in order", `[{"op":"assert","lock":"b"},{"op":"assert","lock":"a"},{"op":"assert","lock":"b"},
			{"op":"assert"},{"op":"assert","lock":1},{"op":"select","lock":"c"}]`,
			OpsClass{ReadOnly: true, Locks: []string{"b", "a", "b"}, WaitTimeoutMS: -1}},
		{"smallest timeout", `[{"op":"wait","timeout":50},{"op":"wait"},{"op":"wait","timeout":20},
			{"op":"wait","timeout":"5"},{"op":"select","timeout":1}]`, OpsClass{ReadOnly: true, WaitTimeoutMS: 20}},
		{"zero timeout", `[{"op":"wait","timeout":0},{"op":"wait","timeout":20}]`, OpsClass{ReadOnly: true, WaitTimeoutMS: 0}},
		{"wait without timeout", `[{"op":"wait"}]`, OpsClass{ReadOnly: true, WaitTimeoutMS: -1}},
		{"negative then positive timeout", `[{"op":"wait","timeout":-5},{"op":"wait","timeout":7}]`,
			OpsClass{ReadOnly: true, WaitTimeoutMS: 7}},
		{"durable", `[{"op":"commit","durable":false},{"op":"commit","durable":true}]`,
			OpsClass{Durable: true, WaitTimeoutMS: -1}},
		{"not durable", `[{"op":"commit","durable":false},{"op":"commit","durable":"true"}]`,
			OpsClass{WaitTimeoutMS: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := schema.DecodeJSON([]byte(tc.ops))
			require.NoError(t, err)
			require.Equal(t, tc.want, ClassifyOps(v.([]any)))
		})
	}
	// Values as other decoders give them.
	require.Equal(t, OpsClass{ReadOnly: true, WaitTimeoutMS: 3},
		ClassifyOps([]any{map[string]any{"op": "wait", "timeout": json.Number("3")},
			map[string]any{"op": "wait", "timeout": float64(4)}, map[string]any{"op": "wait", "timeout": int64(5)}}))
	require.Equal(t, OpsClass{WaitTimeoutMS: -1}, ClassifyOps([]any{nil}))
}

// TestClassifyOpsReadOnlyMatchesOperations checks that ReadOnly follows the
// operations table, the one list of read-only operations.
func TestClassifyOpsReadOnlyMatchesOperations(t *testing.T) {
	require.Len(t, operations, 10)
	for name, def := range operations {
		require.Equal(t, def.readOnly, ClassifyOps([]any{map[string]any{"op": name}}).ReadOnly, name)
	}
}

package conformance

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// These tests check the normaliser on its own (no servers): equal replies
// from two servers with different UUIDs compare equal, and real differences
// are still seen.
func TestNormalizer(t *testing.T) {
	const (
		a1  = "aaaaaaaa-0000-0000-0000-000000000001"
		a2  = "aaaaaaaa-0000-0000-0000-000000000002"
		b1  = "bbbbbbbb-0000-0000-0000-000000000001"
		b2  = "bbbbbbbb-0000-0000-0000-000000000002"
		lit = "01234567-89ab-cdef-0123-456789abcdef"
	)
	tests := []struct {
		name      string
		ref, test string // replies of the two servers, after the same inserts
		equal     bool
	}{
		{"uuids by insert order", `{"result":[{"rows":[{"_uuid":["uuid","` + a2 + `"]}]}]}`,
			`{"result":[{"rows":[{"_uuid":["uuid","` + b2 + `"]}]}]}`, true},
		{"different rows", `{"result":[{"rows":[{"_uuid":["uuid","` + a2 + `"]}]}]}`,
			`{"result":[{"rows":[{"_uuid":["uuid","` + b1 + `"]}]}]}`, false},
		{"row order ignored", `{"result":[{"rows":[{"n":1},{"n":2}]}]}`, `{"result":[{"rows":[{"n":2},{"n":1}]}]}`, true},
		{"row count matters", `{"result":[{"rows":[{"n":1},{"n":1}]}]}`, `{"result":[{"rows":[{"n":1}]}]}`, false},
		{"uuid set order ignored", `["set",[["uuid","` + a1 + `"],["uuid","` + a2 + `"]]]`,
			`["set",[["uuid","` + b2 + `"],["uuid","` + b1 + `"]]]`, true},
		{"integer set order kept", `["set",[1,2]]`, `["set",[2,1]]`, false},
		{"version constant", `{"_version":["uuid","` + a1 + `"]}`, `{"_version":["uuid","` + lit + `"]}`, true},
		{"uuid in details", `{"details":"row ` + a1 + ` is bad"}`, `{"details":"row ` + b1 + ` is bad"}`, true},
		{"literal uuid kept", `["uuid","` + lit + `"]`, `["uuid","` + lit + `"]`, true},
		{"unknown vs literal", `["uuid","` + lit + `"]`, `["uuid","cccccccc-0000-0000-0000-000000000000"]`, false},
		{"number text matters", `{"r":1}`, `{"r":1.0}`, false},
		{"member order ignored", `{"a":1,"b":2}`, `{"b":2,"a":1}`, true},
		{"index message row order", `"Transaction causes multiple rows in \"U\" table to have identical values (k) for index on column \"key\".  First row, with UUID ` + a1 + `, was inserted by this transaction.  Second row, with UUID ` + a2 + `, existed in the database before this transaction and was not modified by the transaction."`,
			`"Transaction causes multiple rows in \"U\" table to have identical values (k) for index on column \"key\".  First row, with UUID ` + b2 + `, existed in the database before this transaction and was not modified by the transaction.  Second row, with UUID ` + b1 + `, was inserted by this transaction."`, true},
		{"wait timeout ms", `"\"wait\" timed out after 20 ms"`, `"\"wait\" timed out after 23 ms"`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nr, nt := newNormalizer(), newNormalizer()
			nr.denormalize(lit)
			nt.denormalize(lit)
			for _, u := range []string{a1, a2} {
				nr.register(u)
			}
			for _, u := range []string{b1, b2} {
				nt.register(u)
			}
			vr, err := decode([]byte(tc.ref))
			require.NoError(t, err)
			vt, err := decode([]byte(tc.test))
			require.NoError(t, err)
			got := canon(nr.normalize(vr)) == canon(nt.normalize(vt))
			require.Equal(t, tc.equal, got, "C: %s\nGo: %s", canon(nr.normalize(vr)), canon(nt.normalize(vt)))
		})
	}
}

func TestDenormalize(t *testing.T) {
	n := newNormalizer()
	n.register("aaaaaaaa-0000-0000-0000-000000000001")
	got := n.denormalize([]any{"uuid", "<u1>", "<u7>", "x"})
	require.Equal(t, []any{"uuid", "aaaaaaaa-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000007", "x"}, got)
}

func TestMaskHashOrder(t *testing.T) {
	a := []any{map[string]any{"error": "constraint violation", "details": "row 1"}}
	b := []any{map[string]any{"error": "constraint violation", "details": "row 2"}}
	c := []any{map[string]any{"error": "syntax error", "details": "row 1"}}
	d := []any{map[string]any{"error": "syntax error", "details": "row 2"}}
	require.Equal(t, canon(maskHashOrder(a)), canon(maskHashOrder(b)))
	require.NotEqual(t, canon(maskHashOrder(c)), canon(maskHashOrder(d)))
}

func TestSortTableRows(t *testing.T) {
	in := "T table\n_uuid n\n----- -\nb 2\na 1\n\nU table\nx\n-\nz\ny\n"
	require.Equal(t, "T table\n_uuid n\n----- -\na 1\nb 2\n\nU table\nx\n-\ny\nz\n", sortTableRows(in, nil))
}

package chash

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// The expected orders were observed in the JSON that C's ovsdb-tool create
// writes for the OVN schemas (OVS 3.1, x86_64); schema's
// TestGetSchemaMatchesC checks whole schemas byte for byte.
func TestOrderMatchesC(t *testing.T) {
	cases := []struct {
		inserted []string
		want     []string
	}{
		{[]string{"name", "version", "cksum", "tables"}, []string{"cksum", "name", "version", "tables"}},
		{[]string{"key", "value", "min", "max"}, []string{"max", "min", "key", "value"}},
		{[]string{"type", "minInteger", "maxInteger"}, []string{"minInteger", "maxInteger", "type"}},
		{[]string{"type", "refTable", "refType"}, []string{"refType", "type", "refTable"}},
		{[]string{"isRoot", "columns", "maxRows"}, []string{"maxRows", "isRoot", "columns"}},
		{[]string{"isRoot", "columns", "indexes"}, []string{"isRoot", "indexes", "columns"}},
		{[]string{"ephemeral", "type"}, []string{"ephemeral", "type"}},
	}
	for _, c := range cases {
		require.Equal(t, c.want, Order(c.inserted...), "%v", c.inserted)
	}
}

func TestHeadInsertionAndGrowth(t *testing.T) {
	var m Map
	m.Add("a")
	require.Equal(t, uint32(0), m.mask())
	m.Add("b") // n/2 = 1 > mask 0: grows to 4 buckets
	require.Equal(t, uint32(3), m.mask())
	m.Add("a") // already present: no change
	require.Equal(t, 2, m.Len())

	// Find a, b sharing a bucket at mask 3 and x in another bucket.
	var a, b, x string
	for i := 0; b == "" || x == ""; i++ {
		k := fmt.Sprintf("k%d", i)
		switch {
		case a == "":
			a = k
		case HashString(k, 0)&3 == HashString(a, 0)&3 && b == "":
			b = k
		case HashString(k, 0)&3 != HashString(a, 0)&3 && x == "":
			x = k
		}
	}
	// Inserted into one bucket as [b a], then moved one by one to the head
	// of the new bucket by the growth after the second insertion: [a b].
	require.Equal(t, []string{a, b}, Order(a, b))
	// With x first, the growth happens before b arrives; b goes to the head.
	got := Order(x, a, b)
	var ia, ib int
	for i, k := range got {
		switch k {
		case a:
			ia = i
		case b:
			ib = i
		}
	}
	require.Equal(t, ia, ib+1, "%v", got)
}

func TestCalcMask(t *testing.T) {
	for n, want := range map[int]uint32{0: 0, 1: 0, 2: 3, 7: 3, 8: 7, 16: 15, 17: 15, 100: 63} {
		require.Equal(t, want, calcMask(n), "n=%d", n)
	}
}

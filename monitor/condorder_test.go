package monitor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCondOrder checks which request's condition applies to a table with
// several requests. The expectations were observed on C ovsdb-server 3.1
// (monitor_cond initial replies with one distinct "where" per request,
// for 1-18 requests per table and 0-6 other tables).
func TestCondOrder(t *testing.T) {
	tests := []struct {
		name   string
		tables []string // in C's iteration order of the request object
		counts map[string]int
		want   map[string]int
	}{
		{"one", []string{"Target"}, map[string]int{"Target": 1}, map[string]int{"Target": 0}},
		{"2 alone: first", []string{"Target"}, map[string]int{"Target": 2}, map[string]int{"Target": 0}},
		{"3 alone: last", []string{"Target"}, map[string]int{"Target": 3}, map[string]int{"Target": 2}},
		{"5 alone: last", []string{"Target"}, map[string]int{"Target": 5}, map[string]int{"Target": 4}},
		{"7 alone: last", []string{"Target"}, map[string]int{"Target": 7}, map[string]int{"Target": 6}},
		{"8 alone: second", []string{"Target"}, map[string]int{"Target": 8}, map[string]int{"Target": 1}},
		{"16 alone: eighth", []string{"Target"}, map[string]int{"Target": 16}, map[string]int{"Target": 7}},
		{"18 alone: last", []string{"Target"}, map[string]int{"Target": 18}, map[string]int{"Target": 17}},
		{"2 after one", []string{"Atoms", "Target"}, map[string]int{"Atoms": 1, "Target": 2},
			map[string]int{"Atoms": 0, "Target": 1}},
		{"2 before one", []string{"Target", "Parent"}, map[string]int{"Target": 2, "Parent": 1},
			map[string]int{"Target": 0, "Parent": 0}},
		{"7 before one", []string{"Target", "Parent"}, map[string]int{"Target": 7, "Parent": 1},
			map[string]int{"Target": 1, "Parent": 0}},
		{"7 after one", []string{"Atoms", "Target"}, map[string]int{"Atoms": 1, "Target": 7},
			map[string]int{"Atoms": 0, "Target": 0}},
		{"3 after four", []string{"Atoms", "Limited", "Child", "Uniq", "Target", "Parent"},
			map[string]int{"Atoms": 1, "Limited": 1, "Child": 1, "Uniq": 1, "Target": 3, "Parent": 1},
			map[string]int{"Atoms": 0, "Limited": 0, "Child": 0, "Uniq": 0, "Target": 0, "Parent": 0}},
		{"both several", []string{"Atoms", "Target"}, map[string]int{"Atoms": 6, "Target": 2},
			map[string]int{"Atoms": 1, "Target": 0}},
		{"both several 2", []string{"Atoms", "Target"}, map[string]int{"Atoms": 3, "Target": 2},
			map[string]int{"Atoms": 2, "Target": 1}},
		{"no request", []string{"Atoms", "Target"}, map[string]int{"Atoms": 0, "Target": 2},
			map[string]int{"Target": 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, condOrder(tc.tables, tc.counts))
		})
	}
}

// Package diskfull holds the multi-process tests of a full disk (issue 9):
// the C ovsdb-server 3.1 and ours run the same sequence with their database
// on a small tmpfs, standalone and as one member of a three-member
// cluster, and the tests assert each server's observable behaviour, so
// they document C's as well as checking ours. The package has no code of
// its own; see diskfull_test.go.
package diskfull

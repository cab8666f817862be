// Package gctune adapts the garbage collector's target (GOGC) to the live
// heap of a database server: generous while the heap is small, tighter as
// it grows. It changes a process-wide setting, so only a program starts
// it (cmd/ovsdb-server at start-up), never the embeddable packages.
package gctune

// Package gctune adapts the garbage collector's target (GOGC) to the live
// heap of a database server: generous while the heap is small, tighter as
// it grows. Standalone and clustered databases start it once open.
package gctune

//go:build !linux

package raftstore

// DropMappedPages does nothing on this system (pages_linux.go).
func (s *Store) DropMappedPages() error { return nil }

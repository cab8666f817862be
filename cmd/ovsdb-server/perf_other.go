//go:build !linux

package main

func perfEventsAvailable() bool { return false }

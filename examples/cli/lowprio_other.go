//go:build !linux

package main

// atLowPriority runs fn; only Linux lowers the priority of one thread.
func atLowPriority(fn func()) { fn() }

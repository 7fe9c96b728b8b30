//go:build linux

package main

import (
	"runtime"
	"syscall"
)

// atLowPriority runs fn on an OS thread of its own at the lowest scheduling priority (nice
// 19), so that background work (verifying an index file) takes the CPU that requests leave
// rather than slowing them. The thread ends with the calling goroutine, which must not run
// anything after.
func atLowPriority(fn func()) {
	runtime.LockOSThread() // never unlocked: the reniced thread exits with the goroutine
	syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
	fn()
}

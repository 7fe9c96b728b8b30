//go:build !linux

package ann

import "unsafe"

// adviseHuge does nothing outside Linux (see huge_linux.go).
func adviseHuge(p unsafe.Pointer, size int) {}

//go:build !linux

package ann

import "unsafe"

// hugePages does nothing outside Linux (see huge_linux.go).
func hugePages(p unsafe.Pointer, size int, on bool) {}

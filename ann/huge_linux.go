//go:build linux

package ann

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePages asks Linux to back the 2 MiB-aligned interior of a slab of size bytes at p with
// huge pages (on: madvise MADV_HUGEPAGE; "madvise" is the usual transparent_hugepage
// setting), or no longer to (off: MADV_NOHUGEPAGE, for a slab the index drops, so that the
// memory the Go heap reuses for other things is not collapsed into huge pages behind the
// runtime's back). Advice on must come before anything touches the slab.
//
// A search reads a node's block and neighbour list at random places in slabs of gigabytes:
// with 4 KiB pages almost every block costs a TLB miss and a page walk (a block of 2 KiB
// straddles two pages half the time), with 2 MiB pages the TLB covers the whole slab. An
// error (a kernel without transparent huge pages) leaves the slab as it was.
func hugePages(p unsafe.Pointer, size int, on bool) {
	if size < hugeMin || p == nil {
		return
	}
	const huge = 2 << 20
	lo := (uintptr(p) + huge - 1) &^ (huge - 1)
	hi := (uintptr(p) + uintptr(size)) &^ (huge - 1)
	if hi <= lo {
		return
	}
	advice := unix.MADV_NOHUGEPAGE
	if on {
		advice = unix.MADV_HUGEPAGE
	}
	_ = unix.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, lo-uintptr(p))), hi-lo), advice)
}

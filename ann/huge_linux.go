//go:build linux

package ann

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHuge asks Linux to back the 2 MiB-aligned interior of a freshly allocated slab of
// size bytes at p with huge pages (madvise MADV_HUGEPAGE; "madvise" is the usual
// transparent_hugepage setting), before anything touches it. A search reads a node's block
// and neighbour list at random places in slabs of gigabytes: with 4 KiB pages almost every
// block costs a TLB miss and a page walk (and a block of 2 KiB straddles two pages half the
// time), with 2 MiB pages the TLB covers the whole slab. An error (a kernel without
// transparent huge pages) leaves the slab as it was.
func adviseHuge(p unsafe.Pointer, size int) {
	if size < hugeMin || p == nil {
		return
	}
	const huge = 2 << 20
	lo := (uintptr(p) + huge - 1) &^ (huge - 1)
	hi := (uintptr(p) + uintptr(size)) &^ (huge - 1)
	if hi <= lo {
		return
	}
	_ = unix.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, lo-uintptr(p))), hi-lo), unix.MADV_HUGEPAGE)
}

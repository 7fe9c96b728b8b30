package pinrec

// Scanning the vector block of an index file: in chunks, in parallel for large blocks, with
// the CRC-32C of the block and the check that every value is finite.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unsafe"

	"pinrec/internal/crc32c"
)

// vecBlockBytes returns the memory of v as bytes (in the host's byte order).
func vecBlockBytes(v []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*4)
}

// vecBlockFloats returns b, whose length is a multiple of 4 and whose address is 4-aligned, as
// float32 values (in the host's byte order).
func vecBlockFloats(b []byte) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}

// allFinite reports whether every float32 whose little-endian bits are in b (len(b) a
// multiple of 4) is finite. A float is non-finite when its exponent bits are all ones; adding
// one to the exponent field then carries into the sign bit, and for no smaller exponent does.
// Two floats are tested per 64-bit word, four words per step, with no branch.
func allFinite(b []byte) bool {
	const (
		expMask = 0x7f800000_7f800000
		expOne  = 0x00800000_00800000
		carry   = 0x80000000_80000000
	)
	var acc uint64
	one := func(v uint32) { acc |= uint64(v&0x7f800000 + 0x00800000) }
	// Single values up to an 8-byte boundary (and all of them on big-endian hosts).
	for len(b) >= 4 && (!hostLittleEndian || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 != 0) {
		one(binary.LittleEndian.Uint32(b))
		b = b[4:]
	}
	if n := len(b) / 8; n > 0 {
		words := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), n)
		i := 0
		for ; i+4 <= n; i += 4 {
			acc |= (words[i]&expMask + expOne) | (words[i+1]&expMask + expOne) |
				(words[i+2]&expMask + expOne) | (words[i+3]&expMask + expOne)
		}
		for ; i < n; i++ {
			acc |= words[i]&expMask + expOne
		}
		b = b[8*n:]
	}
	if len(b) >= 4 {
		one(binary.LittleEndian.Uint32(b))
	}
	return acc&carry == 0
}

// firstNonFinite returns the row of the first non-finite value in little-endian float32 bytes.
func firstNonFinite(b []byte, dim int) int {
	for i := 0; i+4 <= len(b); i += 4 {
		if binary.LittleEndian.Uint32(b[i:])&0x7f800000 == 0x7f800000 {
			return i / 4 / dim
		}
	}
	return -1
}

// checkVectors verifies the finiteness of a chunk of the vector block that starts at byte
// offset start of the block.
func checkVectors(chunk []byte, start int64, dim int) error {
	if allFinite(chunk) {
		return nil
	}
	row := int64(firstNonFinite(chunk, dim)) + start/4/int64(dim)
	return fmt.Errorf("%w: row %d: %w", ErrBadFormat, row, ErrNonFinite)
}

// scanParallelMin is the size of vector block from which scanBlock uses several goroutines
// (a variable so that tests can split small blocks).
var scanParallelMin int64 = 32 << 20

// prefetchWindow is how far ahead of its position a scan asks for the data it will read next.
const prefetchWindow = 32 << 20

// scanBlock calls chunk for every ioChunk-sized piece of a vector block of n bytes (rows of
// dim values), from several goroutines when the block is large, and, if verify, checks that
// every value is finite and returns the CRC-32C of the block. chunk returns the piece's bytes
// (read into place, or a view of a mapping). The first error stops the scan. If prefetch is not
// nil, each goroutine calls it for the window of the block ahead of it, so that the disk
// streams while the CPU checksums (parallel readers defeat the kernel's own read-ahead).
func scanBlock(n int64, dim int, verify bool, chunk func(off int64, n int) ([]byte, error), prefetch func(off, n int64)) (uint32, error) {
	parts := min(runtime.GOMAXPROCS(0), 8, int(n/scanParallelMin))
	if parts <= 1 {
		return scanBlockSerial(n, dim, verify, chunk)
	}
	// Parts of whole chunks; the last takes the rest.
	per := (n/int64(parts) + ioChunk - 1) / ioChunk * ioChunk
	crcs := make([]uint32, parts)
	errs := make([]error, parts)
	var failed atomic.Bool
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := int64(p)*per, min(int64(p+1)*per, n)
		if lo >= hi {
			break // rounding to whole chunks left nothing for the last parts
		}
		wg.Go(func() {
			// A fault on a mapping whose file was truncated: an error, not the end of the
			// process (other panics go on).
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() {
				if r := recover(); r != nil {
					if !isFault(r) {
						panic(r)
					}
					errs[p] = faultError("", r)
					failed.Store(true)
				}
			}()
			var crc uint32
			if prefetch != nil {
				prefetch(lo, min(2*prefetchWindow, hi-lo))
			}
			for off := lo; off < hi; off += ioChunk {
				if failed.Load() {
					return
				}
				if prefetch != nil && off > lo && (off-lo)%prefetchWindow == 0 && off+prefetchWindow < hi {
					prefetch(off+prefetchWindow, min(prefetchWindow, hi-off-prefetchWindow))
				}
				b, err := chunk(off, int(min(ioChunk, hi-off)))
				if err == nil && verify {
					crc = crc32.Update(crc, castagnoli, b)
					err = checkVectors(b, off, dim)
				}
				if err != nil {
					errs[p] = err
					failed.Store(true)
					return
				}
			}
			crcs[p] = crc
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	crc := crcs[0]
	for p := 1; p < parts; p++ {
		lo, hi := int64(p)*per, min(int64(p+1)*per, n)
		crc = crc32c.Combine(crc, crcs[p], max(hi-lo, 0))
	}
	return crc, nil
}

// scanBlockSerial is scanBlock in one goroutine, in order (for plain readers).
func scanBlockSerial(n int64, dim int, verify bool, chunk func(off int64, n int) ([]byte, error)) (uint32, error) {
	var crc uint32
	for off := int64(0); off < n; off += ioChunk {
		b, err := chunk(off, int(min(ioChunk, n-off)))
		if err != nil {
			return 0, err
		}
		if verify {
			crc = crc32.Update(crc, castagnoli, b)
			if err := checkVectors(b, off, dim); err != nil {
				return 0, err
			}
		}
	}
	return crc, nil
}

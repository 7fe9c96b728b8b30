//go:build amd64 && !purego

package kernel

import (
	"fmt"

	"golang.org/x/sys/cpu"
)

// testSets adds, where the CPU has AVX-512, the AVX-512 dot products in chunks of 16 and 48
// elements, so that the lengths 0..67 of the tests take the chunked path (several passes that
// add to out) that long vectors take with the default dotChunk.
func testSets() []kernelSet {
	if !cpu.X86.HasAVX512F || !cpu.X86.HasAVX512VL || !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	var sets []kernelSet
	for _, chunk := range []int{16, 48} {
		sets = append(sets, kernelSet{
			name: fmt.Sprintf("avx512f chunk %d", chunk),
			l2sq: l2sqTileAVX2,
			dot: func(x []float32, nr, xs int, q []float32, nq, qs, n int, out []float32, os int) {
				old := dotChunk
				dotChunk = chunk
				defer func() { dotChunk = old }()
				dotTileAVX512(x, nr, xs, q, nq, qs, n, out, os)
			},
		})
	}
	return sets
}

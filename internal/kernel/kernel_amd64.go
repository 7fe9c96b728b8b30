//go:build amd64 && !purego

package kernel

import (
	"os"

	"golang.org/x/sys/cpu"
)

//go:generate sh -c "cd ../avo && GOWORK=off go run . -out ../kernel/kernel_amd64.s -stubs ../kernel/kernel_amd64_stubs.go -pkg kernel"

func init() {
	choose(os.Getenv("PINREC_KERNEL"))
}

// choose installs the fastest kernels the CPU runs, or the slower ones that limit names:
// "avx2" leaves out AVX-512 and AVX-VNNI, "avxvnni" leaves out AVX-512, "avx512bw" the
// AVX512_VNNI tiles, "go" keeps the portable kernels; anything else is no limit.
func choose(limit string) {
	chooseI16(limit)
	L2sqTile, DotTile, Name = l2sqTileGo, dotTileGo, "go"
	if limit == "go" || !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return
	}
	L2sqTile, DotTile, Name = l2sqTileAVX2, dotTileAVX2, "avx2+fma"
	if limit == "avx2" || limit == "avxvnni" || !cpu.X86.HasAVX512F || !cpu.X86.HasAVX512VL {
		return
	}
	DotTile, Name = dotTileAVX512, "avx512f"
}

// available returns the kernel sets this CPU runs, the portable one first.
func available() []kernelSet {
	sets := []kernelSet{{"go", l2sqTileGo, dotTileGo}}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		sets = append(sets, kernelSet{"avx2+fma", l2sqTileAVX2, dotTileAVX2})
		if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
			sets = append(sets, kernelSet{"avx512f", l2sqTileAVX2, dotTileAVX512})
		}
	}
	return sets
}

// avx2Kernels[r-1][q-1] is the generated kernel for r rows and q queries
// (kernel_amd64.s, from internal/avo).
var avx2Kernels = [4][3]func(x []float32, xs int, q []float32, qs int, n int, out []float32, os int){
	{l2sqR1Q1, l2sqR1Q2, l2sqR1Q3},
	{l2sqR2Q1, l2sqR2Q2, l2sqR2Q3},
	{l2sqR3Q1, l2sqR3Q2, l2sqR3Q3},
	{l2sqR4Q1, l2sqR4Q2, l2sqR4Q3},
}

// avx2DotKernels[r-1][q-1] is the generated dot-product kernel for r rows and q queries.
var avx2DotKernels = [4][3]func(x []float32, xs int, q []float32, qs int, n int, out []float32, os int){
	{dotR1Q1, dotR1Q2, dotR1Q3},
	{dotR2Q1, dotR2Q2, dotR2Q3},
	{dotR3Q1, dotR3Q2, dotR3Q3},
	{dotR4Q1, dotR4Q2, dotR4Q3},
}

// l2sqTileAVX2 is L2sqTile over the AVX2+FMA kernels: for each group of up to three queries
// (which stay in L1), the rows go by in groups of four, each kernel call computing up to twelve
// distances with one register per pair.
func l2sqTileAVX2(x []float32, nr, xs int, q []float32, nq, qs, n int, out []float32, os int) {
	if nq == 1 && nr >= 8 {
		// One query: eight rows per call, eight memory streams in flight.
		checkTile(x, nr, xs, q, nq, qs, n, out, os)
		i := 0
		for ; i+8 <= nr; i += 8 {
			l2sqR8Q1(x[i*xs:], xs, q, qs, n, out[i:], os)
		}
		if i < nr {
			tileAVX2(&avx2Kernels, x[i*xs:], nr-i, xs, q, 1, qs, n, out[i:], os)
		}
		return
	}
	tileAVX2(&avx2Kernels, x, nr, xs, q, nq, qs, n, out, os)
}

// dotTileAVX2 is DotTile over the AVX2+FMA kernels, blocked as l2sqTileAVX2.
func dotTileAVX2(x []float32, nr, xs int, q []float32, nq, qs, n int, out []float32, os int) {
	tileAVX2(&avx2DotKernels, x, nr, xs, q, nq, qs, n, out, os)
}

func tileAVX2(kernels *[4][3]func(x []float32, xs int, q []float32, qs int, n int, out []float32, os int),
	x []float32, nr, xs int, q []float32, nq, qs, n int, out []float32, os int) {
	checkTile(x, nr, xs, q, nq, qs, n, out, os)
	for j := 0; j < nq; j += 3 {
		jn := min(3, nq-j)
		for i := 0; i < nr; i += 4 {
			in := min(4, nr-i)
			kernels[in-1][jn-1](x[i*xs:], xs, q[j*qs:], qs, n, out[j*os+i:], os)
		}
	}
}

// avx512DotKernels[r-1][q-1] is the generated AVX-512 dot-product kernel for r rows and q
// queries.
var avx512DotKernels = [4][6]func(x []float32, xs int, q []float32, qs int, n int, out []float32, os int, add int){
	{dot512R1Q1, dot512R1Q2, dot512R1Q3, dot512R1Q4, dot512R1Q5, dot512R1Q6},
	{dot512R2Q1, dot512R2Q2, dot512R2Q3, dot512R2Q4, dot512R2Q5, dot512R2Q6},
	{dot512R3Q1, dot512R3Q2, dot512R3Q3, dot512R3Q4, dot512R3Q5, dot512R3Q6},
	{dot512R4Q1, dot512R4Q2, dot512R4Q3, dot512R4Q4, dot512R4Q5, dot512R4Q6},
}

// dotChunk is how many elements of each row and query the AVX-512 tiles take per pass: six
// queries' chunks (24 KiB) stay in L1 while the rows' chunks go by. A variable so that tests
// can make the chunks short.
var dotChunk = 1024

// dotTileAVX512 is DotTile over the AVX-512 kernels, in chunks of dotChunk elements: for each
// chunk and each group of up to six queries, the rows go by in groups of four, each call
// computing up to 24 partial dot products with one register per pair, which the calls for
// later chunks add to out. (Each term then goes through at most ceil(dotChunk/16)+4 roundings
// in its chunk and one per later chunk, fewer than DotRoundings allows.)
func dotTileAVX512(x []float32, nr, xs int, q []float32, nq, qs, n int, out []float32, os int) {
	checkTile(x, nr, xs, q, nq, qs, n, out, os)
	add := 0
	for c := 0; c < n || c == 0; c += dotChunk {
		cn := min(dotChunk, n-c)
		for j := 0; j < nq; j += 6 {
			jn := min(6, nq-j)
			for i := 0; i < nr; i += 4 {
				in := min(4, nr-i)
				avx512DotKernels[in-1][jn-1](x[i*xs+c:], xs, q[j*qs+c:], qs, cn, out[j*os+i:], os, add)
			}
		}
		add = 1
	}
}

// chooseI16 installs the int16 kernels the CPU runs, or the slower ones that limit names:
// "avx2" leaves out AVX-VNNI and AVX-512, "avxvnni" AVX-512, "avx512bw" the AVX512_VNNI tiles.
func chooseI16(limit string) {
	DotI16Tile, normMax, quant, I16Fast, I16Name = dotI16TileGo, normMaxGo, quantGo, false, "go"
	if limit == "go" || !cpu.X86.HasAVX2 {
		return
	}
	DotI16Tile, normMax, quant, I16Fast, I16Name = dotI16TileAVX2, normMaxAVX2, quantAVX2, true, "avx2"
	if limit == "avx2" {
		return
	}
	if cpu.X86.HasAVXVNNI {
		DotI16Tile, I16Name = dotI16TileAVXVNNI, "avxvnni"
	}
	if limit == "avxvnni" || !cpu.X86.HasAVX512F || !cpu.X86.HasAVX512BW || !cpu.X86.HasAVX512VL {
		return
	}
	DotI16Tile, I16Name = dotI16TileAVX512, "avx512bw"
	if limit != "avx512bw" && cpu.X86.HasAVX512VNNI {
		DotI16Tile, I16Name = dotI16TileVNNI, "avx512vnni"
	}
}

// i16Kernel is the shape of the generated int16 tiles.
type i16Kernel = func(x []int16, xs int, q []int16, qs int, n int, out []float64, os int, add int)

// i16Kernels[r-1][q-1] is the AVX2 int16 tile for r rows and q queries.
var i16Kernels = [3][3]i16Kernel{
	{i16R1Q1, i16R1Q2, i16R1Q3},
	{i16R2Q1, i16R2Q2, i16R2Q3},
	{i16R3Q1, i16R3Q2, i16R3Q3},
}

// i16x512Kernels[r-1][q-1] is the AVX-512BW int16 tile for r rows and q queries.
var i16x512Kernels = [4][6]i16Kernel{
	{i16x512R1Q1, i16x512R1Q2, i16x512R1Q3, i16x512R1Q4, i16x512R1Q5, i16x512R1Q6},
	{i16x512R2Q1, i16x512R2Q2, i16x512R2Q3, i16x512R2Q4, i16x512R2Q5, i16x512R2Q6},
	{i16x512R3Q1, i16x512R3Q2, i16x512R3Q3, i16x512R3Q4, i16x512R3Q5, i16x512R3Q6},
	{i16x512R4Q1, i16x512R4Q2, i16x512R4Q3, i16x512R4Q4, i16x512R4Q5, i16x512R4Q6},
}

func dotI16TileAVX2(x []int16, nr, xs int, q []int16, nq, qs, n int, out []float64, os int, next []float32) {
	i16Tiles(x, nr, xs, q, nq, qs, n, out, os, next, 3, 3, func(r, q int) i16Kernel { return i16Kernels[r-1][q-1] })
}

func dotI16TileAVX512(x []int16, nr, xs int, q []int16, nq, qs, n int, out []float64, os int, next []float32) {
	i16Tiles(x, nr, xs, q, nq, qs, n, out, os, next, 4, 6, func(r, q int) i16Kernel { return i16x512Kernels[r-1][q-1] })
}

// i16vexKernels[r-1][q-1] is the AVX-VNNI (VEX, 256-bit) int16 tile for r rows and q queries.
var i16vexKernels = [4][3]i16Kernel{
	{i16vexR1Q1, i16vexR1Q2, i16vexR1Q3},
	{i16vexR2Q1, i16vexR2Q2, i16vexR2Q3},
	{i16vexR3Q1, i16vexR3Q2, i16vexR3Q3},
	{i16vexR4Q1, i16vexR4Q2, i16vexR4Q3},
}

func dotI16TileAVXVNNI(x []int16, nr, xs int, q []int16, nq, qs, n int, out []float64, os int, next []float32) {
	i16Tiles(x, nr, xs, q, nq, qs, n, out, os, next, 4, 3, func(r, q int) i16Kernel { return i16vexKernels[r-1][q-1] })
}

// i16vnniKernels[r-1][q-1] is the AVX512_VNNI int16 tile for r rows and q queries.
var i16vnniKernels = [4][6]i16Kernel{
	{i16vnniR1Q1, i16vnniR1Q2, i16vnniR1Q3, i16vnniR1Q4, i16vnniR1Q5, i16vnniR1Q6},
	{i16vnniR2Q1, i16vnniR2Q2, i16vnniR2Q3, i16vnniR2Q4, i16vnniR2Q5, i16vnniR2Q6},
	{i16vnniR3Q1, i16vnniR3Q2, i16vnniR3Q3, i16vnniR3Q4, i16vnniR3Q5, i16vnniR3Q6},
	{i16vnniR4Q1, i16vnniR4Q2, i16vnniR4Q3, i16vnniR4Q4, i16vnniR4Q5, i16vnniR4Q6},
}

func dotI16TileVNNI(x []int16, nr, xs int, q []int16, nq, qs, n int, out []float64, os int, next []float32) {
	i16Tiles(x, nr, xs, q, nq, qs, n, out, os, next, 4, 6, func(r, q int) i16Kernel { return i16vnniKernels[r-1][q-1] })
}

// prefetcher spreads the prefetching of a range over a number of steps.
type prefetcher struct {
	next    []float32
	perStep int // floats per step, whole cache lines
}

func newPrefetcher(next []float32, steps int) prefetcher {
	per := (len(next) + steps - 1) / max(steps, 1)
	return prefetcher{next, (per + 15) &^ 15}
}

// step prefetches the next part of the range.
func (p *prefetcher) step() {
	if len(p.next) == 0 {
		return
	}
	n := min(p.perStep, len(p.next))
	i16Prefetch(p.next, (n+15)/16)
	p.next = p.next[n:]
}

// i16Tiles runs the tiles of up to rs rows and qsz queries that kern returns in chunks of
// i16Chunk elements: for each chunk and group of queries, the rows go by in groups; later
// chunks add to out. Each call also prefetches its share of next.
func i16Tiles(x []int16, nr, xs int, q []int16, nq, qs, n int, out []float64, os int, next []float32,
	rs, qsz int, kern func(r, q int) i16Kernel) {
	checkI16Tile(x, nr, xs, q, nq, qs, n, out, os)
	chunks := max(1, (n+i16Chunk-1)/i16Chunk)
	pf := newPrefetcher(next, chunks*((nq+qsz-1)/qsz)*((nr+rs-1)/rs))
	add := 0
	for c := 0; c < n || c == 0; c += i16Chunk {
		cn := min(i16Chunk, n-c)
		for j := 0; j < nq; j += qsz {
			jn := min(qsz, nq-j)
			for i := 0; i < nr; i += rs {
				in := min(rs, nr-i)
				kern(in, jn)(x[i*xs+c:], xs, q[j*qs+c:], qs, cn, out[j*os+i:], os, add)
				pf.step()
			}
		}
		add = 1
	}
}

// normMaxAVX2 is normMax: the generated i16Norm.
func normMaxAVX2(x []float32) (m, sq float32) {
	if len(x) == 0 {
		return 0, 0
	}
	return i16Norm(x, len(x))
}

// quantAVX2 is quant: the generated i16Quant over whole groups of 16, Go for the rest.
func quantAVX2(x []float32, inv float32, codes []int16) int {
	codes = codes[:len(x)]
	n := len(x) &^ 15
	l1 := 0
	if n > 0 {
		l1 = i16Quant(x, inv, codes, n)
	}
	return l1 + quantGo(x[n:], inv, codes[n:])
}

// i16Set is one choice of the int16 kernels, for tests.
type i16Set struct {
	name    string
	dot     func(x []int16, nr, xs int, q []int16, nq, qs, n int, out []float64, os int, next []float32)
	normMax func([]float32) (float32, float32)
	quant   func([]float32, float32, []int16) int
}

// availableI16 returns the int16 kernel sets this CPU runs, the portable one first.
func availableI16() []i16Set {
	sets := []i16Set{{"go", dotI16TileGo, normMaxGo, quantGo}}
	if cpu.X86.HasAVX2 {
		sets = append(sets, i16Set{"avx2", dotI16TileAVX2, normMaxAVX2, quantAVX2})
		if cpu.X86.HasAVXVNNI {
			sets = append(sets, i16Set{"avxvnni", dotI16TileAVXVNNI, normMaxAVX2, quantAVX2})
		}
		if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL {
			sets = append(sets, i16Set{"avx512bw", dotI16TileAVX512, normMaxAVX2, quantAVX2})
			if cpu.X86.HasAVX512VNNI {
				sets = append(sets, i16Set{"avx512vnni", dotI16TileVNNI, normMaxAVX2, quantAVX2})
			}
		}
	}
	return sets
}

// Command avo generates pinrec's AVX2+FMA and AVX-512 kernels (../kernel/kernel_amd64.s and
// ../kernel/kernel_amd64_stubs.go). Run it through `go generate ./internal/kernel`; the
// directive is in ../kernel/kernel_amd64.go.
//
// Every kernel l2sqR<r>Q<q> computes the r×q squared Euclidean distances between r rows and
// q queries of length n: out[j*os+i] = Σ_t (x[i*xs+t] - q[j*qs+t])², i < r, j < q.
// Each (row, query) pair has one 8-lane accumulator, fed 8 elements per step by
// VSUBPS + VFMADD231PS, and the last n%8 elements through masked loads; the lanes are summed
// in the same fixed order in every kernel. So all kernels give bit-identical results for the
// same pair, whatever the blocking: Search and SearchBatch agree exactly.
//
// Register budget: r*q accumulators + q query registers + 1 temporary <= 16 (r=4, q=3 uses all).
//
// The dotR<r>Q<q> kernels have the same shape and compute dot products Σ x·q, for the
// |x|²+|q|²-2x·q bounds of SearchBatch. The dot512R<r>Q<q> kernels (r <= 4, q <= 6) compute
// the same with AVX-512: 16 lanes per register and 32 registers, so a 4x6 tile keeps 24
// accumulators, 6 query registers and 1 row register, 10 loads for 24 multiply-adds.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("amd64,!purego")

	// tailMask holds eight all-ones words then eight zeros: the 8 words at
	// tailMask + 4*(8-t) enable exactly the first t lanes.
	mask := GLOBL("tailMask", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}

	for r := 1; r <= 4; r++ {
		for q := 1; q <= 3; q++ {
			kernel(r, q, mask, false)
		}
	}
	for r := 1; r <= 4; r++ {
		for q := 1; q <= 3; q++ {
			kernel(r, q, mask, true)
		}
	}
	// One query against eight rows: eight memory streams in flight for single searches.
	kernel(8, 1, mask, false)

	// AVX-512: tailMask16[t] enables the first t of 16 lanes.
	mask16 := GLOBL("tailMask16", RODATA|NOPTR)
	for t := 0; t < 16; t++ {
		DATA(2*t, U16(uint16(1)<<t-1))
	}
	// gather picks element 0 of each 128-bit lane (reduce4).
	gather := GLOBL("gather4", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(uint32(4*(i%4))))
	}
	for r := 1; r <= dot512Rows; r++ {
		for q := 1; q <= dot512Queries; q++ {
			dot512(r, q, mask16, gather)
		}
	}
	genI16(mask)
	Generate()
}

// kernel generates l2sqR<nr>Q<nq>, or with dot dotR<nr>Q<nq>, which computes the dot
// products Σ x·q with one VFMADD231PS per 8 elements (half the work of a distance).
func kernel(nr, nq int, mask Mem, dot bool) {
	name := fmt.Sprintf("l2sqR%dQ%d", nr, nq)
	formula := "(x[i*xs+t] - q[j*qs+t])²"
	if dot {
		name = fmt.Sprintf("dotR%dQ%d", nr, nq)
		formula = "x[i*xs+t] * q[j*qs+t]"
	}
	TEXT(name, NOSPLIT, "func(x []float32, xs int, q []float32, qs int, n int, out []float32, os int)")
	Doc(
		fmt.Sprintf("%s computes out[j*os+i] = Σ_{t<n} %s for i < %d, j < %d.", name, formula, nr, nq),
		"The caller guarantees that every element it reads or writes is in bounds.",
	)

	// Row and query pointers.
	xp := strided("x", "xs", nr, 2)
	qp := strided("q", "qs", nq, 2)
	n := Load(Param("n"), GP64())

	acc := make([][]VecVirtual, nr)
	for i := range acc {
		acc[i] = make([]VecVirtual, nq)
		for j := range acc[i] {
			acc[i][j] = YMM()
			VXORPS(acc[i][j], acc[i][j], acc[i][j])
		}
	}

	off := GP64()
	XORQ(off, off)
	blocks := GP64()
	MOVQ(n, blocks)
	SHRQ(U8(3), blocks)
	JZ(LabelRef(name + "_tail"))

	Label(name + "_loop")
	qv := make([]VecVirtual, nq)
	for j := range qv {
		qv[j] = YMM()
		VMOVUPS(Mem{Base: qp[j], Index: off, Scale: 1}, qv[j])
	}
	for i := 0; i < nr; i++ {
		if dot { // one load of the row for its nq FMAs
			xv := YMM()
			VMOVUPS(Mem{Base: xp[i], Index: off, Scale: 1}, xv)
			for j := 0; j < nq; j++ {
				VFMADD231PS(xv, qv[j], acc[i][j])
			}
			continue
		}
		for j := 0; j < nq; j++ {
			d := YMM()
			VSUBPS(Mem{Base: xp[i], Index: off, Scale: 1}, qv[j], d)
			VFMADD231PS(d, d, acc[i][j])
		}
	}
	ADDQ(U8(32), off)
	DECQ(blocks)
	JNZ(LabelRef(name + "_loop"))

	// The last n%8 elements: masked loads read nothing past the end and give zeros.
	Label(name + "_tail")
	ANDQ(U8(7), n)
	JZ(LabelRef(name + "_reduce"))
	mp := GP64()
	LEAQ(mask.Offset(32), mp)
	SHLQ(U8(2), n)
	SUBQ(n, mp)
	m := YMM()
	VMOVUPS(Mem{Base: mp}, m)
	for j := 0; j < nq; j++ {
		qt := YMM()
		VMASKMOVPS(Mem{Base: qp[j], Index: off, Scale: 1}, m, qt)
		for i := 0; i < nr; i++ {
			d := YMM()
			VMASKMOVPS(Mem{Base: xp[i], Index: off, Scale: 1}, m, d)
			if dot {
				VFMADD231PS(d, qt, acc[i][j])
				continue
			}
			VSUBPS(qt, d, d)
			VFMADD231PS(d, d, acc[i][j])
		}
	}

	// Sum the lanes, the same way in every kernel, and store.
	Label(name + "_reduce")
	op := Load(Param("out").Base(), GP64())
	os := Load(Param("os"), GP64())
	SHLQ(U8(2), os)
	for j := 0; j < nq; j++ {
		for i := 0; i < nr; i++ {
			a := acc[i][j]
			hi := XMM()
			VEXTRACTF128(U8(1), a, hi)
			lo := XMM()
			VADDPS(hi, a.AsX(), lo)
			h2 := XMM()
			VMOVHLPS(lo, lo, h2)
			VADDPS(h2, lo, lo)
			h1 := XMM()
			VMOVSHDUP(lo, h1)
			VADDSS(h1, lo, lo)
			VMOVSS(lo, Mem{Base: op, Disp: 4 * i})
		}
		if j+1 < nq {
			ADDQ(os, op)
		}
	}
	VZEROUPPER()
	RET()
}

// The AVX-512 dot-product tile: 4 rows x 6 queries uses 24 accumulators, 6 query registers
// and 1 row register of the 32.
const (
	dot512Rows    = 4
	dot512Queries = 6
)

// dot512 generates dot512R<nr>Q<nq>, the AVX-512 twin of dotR<nr>Q<nq>: one 16-lane
// accumulator per pair, fed 16 elements per step by one VFMADD231PS, the last n%16 elements
// through zero-masked loads; the 16 lanes are folded to 8 (lane t plus lane t+8) and summed
// as in the AVX2 kernels.
func dot512(nr, nq int, mask, gather Mem) {
	name := fmt.Sprintf("dot512R%dQ%d", nr, nq)
	TEXT(name, NOSPLIT, "func(x []float32, xs int, q []float32, qs int, n int, out []float32, os int, add int)")
	Doc(
		fmt.Sprintf("%s computes out[j*os+i] = Σ_{t<n} x[i*xs+t] * q[j*qs+t] for i < %d, j < %d,", name, nr, nq),
		"or with add != 0 adds the sum to out[j*os+i].",
		"The caller guarantees that every element it reads or writes is in bounds.",
	)
	xp := strided("x", "xs", nr, 2)
	qp := strided("q", "qs", nq, 2)
	n := Load(Param("n"), GP64())

	acc := make([][]VecVirtual, nr)
	for i := range acc {
		acc[i] = make([]VecVirtual, nq)
		for j := range acc[i] {
			acc[i][j] = ZMM()
			VPXORD(acc[i][j], acc[i][j], acc[i][j])
		}
	}

	off := GP64()
	XORQ(off, off)
	blocks := GP64()
	MOVQ(n, blocks)
	SHRQ(U8(4), blocks)
	JZ(LabelRef(name + "_tail"))

	Label(name + "_loop")
	qv := make([]VecVirtual, nq)
	for j := range qv {
		qv[j] = ZMM()
		VMOVUPS(Mem{Base: qp[j], Index: off, Scale: 1}, qv[j])
	}
	for i := 0; i < nr; i++ {
		xv := ZMM()
		VMOVUPS(Mem{Base: xp[i], Index: off, Scale: 1}, xv)
		for j := 0; j < nq; j++ {
			VFMADD231PS(xv, qv[j], acc[i][j])
		}
	}
	ADDQ(U8(64), off)
	DECQ(blocks)
	JNZ(LabelRef(name + "_loop"))

	// The last n%16 elements: zero-masked loads read nothing past the end.
	Label(name + "_tail")
	ANDQ(U8(15), n)
	JZ(LabelRef(name + "_reduce"))
	mp := GP64()
	LEAQ(mask, mp)
	k := K()
	KMOVW(Mem{Base: mp, Index: n, Scale: 2}, k)
	for j := 0; j < nq; j++ {
		qt := ZMM()
		VMOVUPS_Z(Mem{Base: qp[j], Index: off, Scale: 1}, k, qt)
		for i := 0; i < nr; i++ {
			xt := ZMM()
			VMOVUPS_Z(Mem{Base: xp[i], Index: off, Scale: 1}, k, xt)
			VFMADD231PS(xt, qt, acc[i][j])
		}
	}

	Label(name + "_reduce")
	op := Load(Param("out").Base(), GP64())
	os := Load(Param("os"), GP64())
	SHLQ(U8(2), os)
	if nr == 4 {
		reduce4(name, acc, nq, op, os, gather)
		return
	}
	var sums []VecVirtual // sums[j*nr+i]: pair (i, j)
	for j := 0; j < nq; j++ {
		for i := 0; i < nr; i++ {
			a := acc[i][j]
			h8 := YMM()
			VEXTRACTF64X4(U8(1), a, h8)
			l8 := YMM()
			VADDPS(h8, a.AsY(), l8)
			hi := XMM()
			VEXTRACTF32X4(U8(1), l8, hi)
			lo := XMM()
			VADDPS(hi, l8.AsX(), lo)
			h2 := XMM()
			VMOVHLPS(lo, lo, h2)
			VADDPS(h2, lo, lo)
			h1 := XMM()
			VMOVSHDUP(lo, h1)
			VADDSS(h1, lo, lo)
			sums = append(sums, lo)
		}
	}
	// Store, or add to what out holds (a chunk of a longer sum).
	add := Load(Param("add"), GP64())
	TESTQ(add, add)
	JNZ(LabelRef(name + "_add"))
	for j := 0; j < nq; j++ {
		for i := 0; i < nr; i++ {
			VMOVSS(sums[j*nr+i], Mem{Base: op, Disp: 4 * i})
		}
		if j+1 < nq {
			ADDQ(os, op)
		}
	}
	VZEROUPPER()
	RET()
	Label(name + "_add")
	for j := 0; j < nq; j++ {
		for i := 0; i < nr; i++ {
			VADDSS(Mem{Base: op, Disp: 4 * i}, sums[j*nr+i], sums[j*nr+i])
			VMOVSS(sums[j*nr+i], Mem{Base: op, Disp: 4 * i})
		}
		if j+1 < nq {
			ADDQ(os, op)
		}
	}
	VZEROUPPER()
	RET()
}

// reduce4 sums the lanes of four rows' accumulators per query at once and stores (or, with
// add, adds) the four sums of query j to out[j*os : j*os+4]. For accumulators A, B, C, D
// (rows 0-3) of 4 lanes of 128 bits each: VSHUFF32X4 pairs give [A0+A2, A1+A3, B0+B2, B1+B3]
// and the same for C, D; two more give [A0+A1+A2+A3, B..., C..., D...]; in each 128-bit lane
// the 4 floats are then summed by two VPERMILPS+VADDPS (elements 2,3,0,1 then 1,0,3,2), and
// VPERMPS gathers element 0 of each lane. 14 instructions per query instead of 40.
func reduce4(name string, acc [][]VecVirtual, nq int, op, os Register, gather Mem) {
	idx := ZMM()
	VMOVUPS(gather, idx)
	quads := make([]Register, nq)
	for j := 0; j < nq; j++ {
		half := func(a, b VecVirtual) VecVirtual {
			t1, t2 := ZMM(), ZMM()
			VSHUFF32X4(U8(0x44), b, a, t1) // [a0, a1, b0, b1]
			VSHUFF32X4(U8(0xEE), b, a, t2) // [a2, a3, b2, b3]
			VADDPS(t2, t1, t1)
			return t1
		}
		ab := half(acc[0][j], acc[1][j])
		cd := half(acc[2][j], acc[3][j])
		u1, u2 := ZMM(), ZMM()
		VSHUFF32X4(U8(0x88), cd, ab, u1) // [ab0, ab2, cd0, cd2]
		VSHUFF32X4(U8(0xDD), cd, ab, u2) // [ab1, ab3, cd1, cd3]
		VADDPS(u2, u1, u1)
		w := ZMM()
		VPERMILPS(U8(0x4E), u1, w)
		VADDPS(w, u1, u1)
		VPERMILPS(U8(0xB1), u1, w)
		VADDPS(w, u1, u1)
		r := ZMM()
		VPERMPS(u1, idx, r)
		quads[j] = r.AsX()
	}
	add := Load(Param("add"), GP64())
	TESTQ(add, add)
	JNZ(LabelRef(name + "_add"))
	for j := 0; j < nq; j++ {
		VMOVUPS(quads[j], Mem{Base: op})
		if j+1 < nq {
			ADDQ(os, op)
		}
	}
	VZEROUPPER()
	RET()
	Label(name + "_add")
	for j := 0; j < nq; j++ {
		VADDPS(Mem{Base: op}, quads[j], quads[j])
		VMOVUPS(quads[j], Mem{Base: op})
		if j+1 < nq {
			ADDQ(os, op)
		}
	}
	VZEROUPPER()
	RET()
}

// strided loads the address of the slice parameter base and returns n pointers into it, each
// the parameter stride elements of 1<<shift bytes after the one before (rows of a tile, or
// queries).
func strided(base, stride string, n int, shift uint8) []GPVirtual {
	s := Load(Param(stride), GP64())
	SHLQ(U8(shift), s)
	p := make([]GPVirtual, n)
	p[0] = GP64()
	Load(Param(base).Base(), p[0])
	for i := 1; i < n; i++ {
		p[i] = GP64()
		LEAQ(Mem{Base: p[i-1], Index: s, Scale: 1}, p[i])
	}
	return p
}

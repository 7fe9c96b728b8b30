package main

// The int16 kernels of SearchBatch's first pass: dot products of 16-bit codes, exact in
// integers.
//
// i16R<r>Q<q> (AVX2, r <= 3, q <= 3), i16x512R<r>Q<q> (AVX-512BW, r <= 4, q <= 6) and
// i16vnniR<r>Q<q> (the same with AVX512_VNNI's VPDPWSSD, see i16VNNI) compute
// out[j*os+i] (float64) = Σ_{t<n} x[i*xs+t] * q[j*qs+t] over int16 codes, or with add != 0 add
// the sum to out. n is a multiple of 32 and at most 2048; every code is in [-2047, 2047].
// VPMADDWD multiplies 16 (32) pairs and adds neighbours into 8 (16) int32 lanes, VPADDD
// accumulates: each lane sums at most 2048/8 = 256 products (AVX2) or 2048/16 = 128
// (AVX-512), the lanes are folded in int32 to 4 lanes of at most 512 products, and
// 512 * 2047² = 2,145,388,544 < 2³¹: no int32 overflows. The 4 lanes are converted to float64,
// exact, and summed there (exactly: integers below 2⁵³). So every kernel returns the exact
// integer sum, bit for bit the portable kernel's.
//
// i16Max computes the largest |x[t]| of a float32 slice (n a multiple of 8); i16Quant the
// codes round(x[t]*inv) (VCVTPS2DQ, round to nearest even, as the portable twin) of n (a
// multiple of 16) elements and returns Σ|code|.

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

const (
	i16Rows        = 3
	i16Queries     = 3
	i16x512Rows    = 4
	i16x512Queries = 6
)

func genI16(mask Mem) {
	for r := 1; r <= i16Rows; r++ {
		for q := 1; q <= i16Queries; q++ {
			i16Tile(r, q, false)
		}
	}
	for r := 1; r <= i16x512Rows; r++ {
		for q := 1; q <= i16x512Queries; q++ {
			i16Tile(r, q, true)
		}
	}
	for r := 1; r <= i16x512Rows; r++ {
		for q := 1; q <= i16x512Queries; q++ {
			i16VNNI = true
			i16Tile(r, q, true)
			i16VNNI = false
		}
	}
	genI16VEX()
	i16Norm(mask)
	i16Quant()
	i16Prefetch()
}

// i16VNNI makes i16Tile generate i16vnniR<r>Q<q>: the AVX-512 tile with one VPDPWSSD
// (AVX512_VNNI: multiply, add neighbours and accumulate, the same int32 sums) instead of
// VPMADDWD + VPADDD.
var i16VNNI = false

// vpdpwssd emits VPDPWSSD b, a, acc (acc += pairwise products of a and b), which avo's
// instruction table lacks; the Go assembler knows it.
func vpdpwssd(b, a, acc Op) {
	Instruction(&ir.Instruction{
		Opcode:   "VPDPWSSD",
		Operands: []Op{b, a, acc},
		Inputs:   []Op{b, a, acc},
		Outputs:  []Op{acc},
		ISA:      []string{"AVX512_VNNI"},
	})
}

func i16Tile(nr, nq int, wide bool) {
	name := fmt.Sprintf("i16R%dQ%d", nr, nq)
	step := 32 // bytes per load
	if wide {
		name = fmt.Sprintf("i16x512R%dQ%d", nr, nq)
		if i16VNNI {
			name = fmt.Sprintf("i16vnniR%dQ%d", nr, nq)
		}
		step = 64
	}
	TEXT(name, NOSPLIT, "func(x []int16, xs int, q []int16, qs int, n int, out []float64, os int, add int)")
	Doc(
		fmt.Sprintf("%s computes out[j*os+i] = Σ_{t<n} x[i*xs+t] * q[j*qs+t] for i < %d, j < %d,", name, nr, nq),
		"exactly, or with add != 0 adds the sum to out[j*os+i]. n is a multiple of 32, at most 2048;",
		"codes are in [-2047, 2047]. The caller guarantees that every element it reads or writes is in bounds.",
	)
	vec := func() VecVirtual {
		if wide {
			return ZMM()
		}
		return YMM()
	}
	xp := strided("x", "xs", nr, 1)
	qp := strided("q", "qs", nq, 1)
	n := Load(Param("n"), GP64())

	acc := make([][]VecVirtual, nr)
	for i := range acc {
		acc[i] = make([]VecVirtual, nq)
		for j := range acc[i] {
			acc[i][j] = vec()
			if wide {
				VPXORD(acc[i][j], acc[i][j], acc[i][j])
			} else {
				VPXOR(acc[i][j], acc[i][j], acc[i][j])
			}
		}
	}
	off := GP64()
	XORQ(off, off)
	blocks := GP64()
	MOVQ(n, blocks)
	SHRQ(U8(4), blocks) // 16 codes per 32 bytes
	if wide {
		SHRQ(U8(1), blocks)
	}
	TESTQ(blocks, blocks)
	JZ(LabelRef(name + "_reduce"))

	Label(name + "_loop")
	qv := make([]VecVirtual, nq)
	for j := range qv {
		qv[j] = vec()
		if wide {
			VMOVDQU64(Mem{Base: qp[j], Index: off, Scale: 1}, qv[j])
		} else {
			VMOVDQU(Mem{Base: qp[j], Index: off, Scale: 1}, qv[j])
		}
	}
	for i := 0; i < nr; i++ {
		xv := vec()
		if wide {
			VMOVDQU64(Mem{Base: xp[i], Index: off, Scale: 1}, xv)
		} else {
			VMOVDQU(Mem{Base: xp[i], Index: off, Scale: 1}, xv)
		}
		for j := 0; j < nq; j++ {
			if i16VNNI {
				vpdpwssd(qv[j], xv, acc[i][j])
				continue
			}
			t := vec()
			VPMADDWD(qv[j], xv, t)
			VPADDD(t, acc[i][j], acc[i][j])
		}
	}
	ADDQ(U8(step), off)
	DECQ(blocks)
	JNZ(LabelRef(name + "_loop"))

	Label(name + "_reduce")
	op := Load(Param("out").Base(), GP64())
	os := Load(Param("os"), GP64())
	SHLQ(U8(3), os)
	sums := make([]VecVirtual, nr*nq) // sums[j*nr+i]: pair (i, j), in the low float64
	for j := 0; j < nq; j++ {
		for i := 0; i < nr; i++ {
			a := acc[i][j]
			y := VecVirtual(a)
			if wide {
				h := YMM()
				VEXTRACTI64X4(U8(1), a, h)
				y = YMM()
				VPADDD(h, a.AsY(), y)
			}
			h := XMM()
			if wide { // EVEX forms: the accumulators may be X16-X31
				VEXTRACTI32X4(U8(1), y, h)
			} else {
				VEXTRACTI128(U8(1), y, h)
			}
			l := XMM()
			VPADDD(h, y.AsX(), l) // 4 int32 lanes of at most 512 products
			d := YMM()
			VCVTDQ2PD(l, d)
			dh := XMM()
			if wide {
				VEXTRACTF32X4(U8(1), d, dh)
			} else {
				VEXTRACTF128(U8(1), d, dh)
			}
			s := XMM()
			VADDPD(dh, d.AsX(), s)
			s1 := XMM()
			VPERMILPD(U8(1), s, s1)
			VADDSD(s1, s, s)
			sums[j*nr+i] = s
		}
	}
	add := Load(Param("add"), GP64())
	TESTQ(add, add)
	JNZ(LabelRef(name + "_add"))
	for j := 0; j < nq; j++ {
		for i := 0; i < nr; i++ {
			VMOVSD(sums[j*nr+i], Mem{Base: op, Disp: 8 * i})
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
			VADDSD(Mem{Base: op, Disp: 8 * i}, sums[j*nr+i], sums[j*nr+i])
			VMOVSD(sums[j*nr+i], Mem{Base: op, Disp: 8 * i})
		}
		if j+1 < nq {
			ADDQ(os, op)
		}
	}
	VZEROUPPER()
	RET()
}

// i16Norm generates i16Norm(x []float32, n int) (m, s float32): m = max |x[t]| and
// s = Σ x[t]² for t < n. The squares go by VFMADD231PS into four accumulators of eight lanes
// (block b of eight elements into accumulator b%4, so that four FMA chains run at once; the
// last n%8 elements, through a masked load, into the fourth), which are added pairwise and
// their lanes as in the l2sq kernels: each term goes through at most ceil(n/32)+6 roundings
// (adding an all-zero accumulator is exact), never more than ceil(n/8)+4.
func i16Norm(mask Mem) {
	TEXT("i16Norm", NOSPLIT, "func(x []float32, n int) (m float32, s float32)")
	Doc("i16Norm returns max |x[t]| and Σ x[t]² for t < n, in one pass.",
		"The caller guarantees that x holds n elements.")
	xp := Load(Param("x").Base(), GP64())
	n := Load(Param("n"), GP64())
	absMask := YMM()
	ones := GP32()
	MOVL(U32(0x7fffffff), ones)
	mx := XMM()
	MOVD(ones, mx)
	VPBROADCASTD(mx, absMask)
	var m [2]VecVirtual
	for i := range m {
		m[i] = YMM()
		VXORPS(m[i], m[i], m[i])
	}
	var acc [4]VecVirtual
	for i := range acc {
		acc[i] = YMM()
		VXORPS(acc[i], acc[i], acc[i])
	}
	block := func(src Mem, k int) {
		v := YMM()
		VMOVUPS(src, v)
		VFMADD231PS(v, v, acc[k])
		VANDPS(v, absMask, v)
		VMAXPS(v, m[k/2], m[k/2])
	}
	groups := GP64()
	MOVQ(n, groups)
	SHRQ(U8(5), groups)
	JZ(LabelRef("i16Norm_rest"))
	Label("i16Norm_loop")
	for k := 0; k < 4; k++ {
		block(Mem{Base: xp, Disp: 32 * k}, k)
	}
	ADDQ(U8(128), xp)
	DECQ(groups)
	JNZ(LabelRef("i16Norm_loop"))

	// Up to three whole blocks of eight, into accumulators 0, 1, 2.
	Label("i16Norm_rest")
	rest := GP64()
	MOVQ(n, rest)
	ANDQ(U8(31), rest)
	for k := 0; k < 3; k++ {
		CMPQ(rest, U8(8*(k+1)))
		JB(LabelRef("i16Norm_tail"))
		block(Mem{Base: xp, Disp: 32 * k}, k)
	}

	Label("i16Norm_tail")
	ANDQ(U8(24), rest) // whole blocks taken: their bytes are 4x that
	SHLQ(U8(2), rest)
	ADDQ(rest, xp)
	ANDQ(U8(7), n)
	JZ(LabelRef("i16Norm_reduce"))
	mp := GP64()
	LEAQ(mask.Offset(32), mp)
	SHLQ(U8(2), n)
	SUBQ(n, mp)
	mk := YMM()
	VMOVUPS(Mem{Base: mp}, mk)
	t := YMM()
	VMASKMOVPS(Mem{Base: xp}, mk, t)
	VFMADD231PS(t, t, acc[3])
	VANDPS(t, absMask, t)
	VMAXPS(t, m[1], m[1])

	Label("i16Norm_reduce")
	VMAXPS(m[1], m[0], m[0])
	h := XMM()
	VEXTRACTF128(U8(1), m[0], h)
	l := XMM()
	VMAXPS(h, m[0].AsX(), l)
	h2 := XMM()
	VMOVHLPS(l, l, h2)
	VMAXPS(h2, l, l)
	h1 := XMM()
	VMOVSHDUP(l, h1)
	VMAXSS(h1, l, l)
	Store(l, Return("m"))
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	sh := XMM()
	VEXTRACTF128(U8(1), acc[0], sh)
	sl := XMM()
	VADDPS(sh, acc[0].AsX(), sl)
	s2 := XMM()
	VMOVHLPS(sl, sl, s2)
	VADDPS(s2, sl, sl)
	s1 := XMM()
	VMOVSHDUP(sl, s1)
	VADDSS(s1, sl, sl)
	Store(sl, Return("s"))
	VZEROUPPER()
	RET()
}

// i16Quant generates i16Quant(x []float32, inv float32, out []int16, n int) int: out[t] =
// round(x[t]*inv) to nearest even for t < n (a multiple of 16), and returns Σ|out[t]|.
func i16Quant() {
	TEXT("i16Quant", NOSPLIT, "func(x []float32, inv float32, out []int16, n int) int")
	Doc("i16Quant sets out[t] = round(x[t]*inv) (to nearest, ties to even) for t < n, n a multiple",
		"of 16, and returns Σ|out[t]|. |x[t]*inv| must be below 32767.5; the caller guarantees that x",
		"and out hold n elements.")
	xp := Load(Param("x").Base(), GP64())
	op := Load(Param("out").Base(), GP64())
	n := Load(Param("n"), GP64())
	invx := Load(Param("inv"), XMM())
	inv := YMM()
	VBROADCASTSS(invx, inv)
	one := GP32()
	MOVL(U32(0x00010001), one)
	ox := XMM()
	MOVD(one, ox)
	ones := YMM()
	VPBROADCASTD(ox, ones)
	acc := YMM()
	VPXOR(acc, acc, acc)
	SHRQ(U8(4), n)
	JZ(LabelRef("i16Quant_done"))
	Label("i16Quant_loop")
	a, b := YMM(), YMM()
	VMULPS(Mem{Base: xp}, inv, a)
	VMULPS(Mem{Base: xp, Disp: 32}, inv, b)
	VCVTPS2DQ(a, a)
	VCVTPS2DQ(b, b)
	p := YMM()
	VPACKSSDW(b, a, p)     // [a0-3, b0-3, a4-7, b4-7]
	VPERMQ(U8(0xD8), p, p) // [a0-3, a4-7, b0-3, b4-7]
	VMOVDQU(p, Mem{Base: op})
	VPABSW(p, p)
	VPMADDWD(ones, p, p)
	VPADDD(p, acc, acc)
	ADDQ(U8(64), xp)
	ADDQ(U8(32), op)
	DECQ(n)
	JNZ(LabelRef("i16Quant_loop"))
	Label("i16Quant_done")
	h := XMM()
	VEXTRACTI128(U8(1), acc, h)
	l := XMM()
	VPADDD(h, acc.AsX(), l)
	h2 := XMM()
	VPSHUFD(U8(0x4E), l, h2)
	VPADDD(h2, l, l)
	VPSHUFD(U8(0xB1), l, h2)
	VPADDD(h2, l, l)
	r := GP32()
	MOVD(l, r)
	VZEROUPPER()
	r64 := GP64()
	MOVLQSX(r, r64)
	Store(r64, ReturnIndex(0))
	RET()
}

// i16Prefetch generates i16Prefetch(x []float32, lines int): PREFETCHT1 of lines cache lines
// from x's first element on, so that the next block of rows streams into L2 while the int16
// tiles compute on the current one.
func i16Prefetch() {
	TEXT("i16Prefetch", NOSPLIT, "func(x []float32, lines int)")
	Doc("i16Prefetch asks for lines cache lines from &x[0] on to be brought into L2 (a hint: it",
		"never faults). The caller guarantees that lines >= 1.")
	xp := Load(Param("x").Base(), GP64())
	n := Load(Param("lines"), GP64())
	Label("i16Prefetch_loop")
	PREFETCHT1(Mem{Base: xp})
	ADDQ(U8(64), xp)
	DECQ(n)
	JNZ(LabelRef("i16Prefetch_loop"))
	RET()
}

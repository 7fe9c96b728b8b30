package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The integer kernels of the graph's distances:
//
//	dotU8AVX2(q, c, n, pf, lines)   = Σ_{t<n} int32(q[t])·int32(c[t]), n a multiple of 16
//	dotU8AVX512(q, c, n, pf, lines) = the same for any n (the last n%32 through masked loads)
//
// (q int16, c bytes). VPMOVZXBW widens 16 (32) bytes to words, VPMADDWD multiplies them by
// the query's words and adds adjacent pairs into int32 lanes, VPADDD accumulates: the sums
// are exact as long as they fit in int32, which the caller guarantees by bounding |q[t]|.
// Before the sum, both prefetch `lines` cache lines from pf (the next code the caller will
// read; prefetches never fault).

// prefetch issues PREFETCHT0 on `lines` lines of 64 bytes from pf.
func prefetch(prefix string) {
	pf := Load(Param("pf"), GP64())
	lines := Load(Param("lines"), GP64())
	Label(prefix + "pf")
	TESTQ(lines, lines)
	JZ(LabelRef(prefix + "pfdone"))
	PREFETCHT0(Mem{Base: pf})
	ADDQ(U32(64), pf)
	DECQ(lines)
	JMP(LabelRef(prefix + "pf"))
	Label(prefix + "pfdone")
}

// hsumI32 adds the int32 lanes of the four ymm accumulators and stores the sum as the
// return value.
func hsumI32(acc []VecVirtual) {
	VPADDD(acc[1], acc[0], acc[0])
	VPADDD(acc[3], acc[2], acc[2])
	VPADDD(acc[2], acc[0], acc[0])
	hi := XMM()
	VEXTRACTI128(U8(1), acc[0], hi)
	x := XMM()
	VPADDD(hi, acc[0].AsX(), x)
	hsumX(x)
}

// hsumX adds the four int32 lanes of x and stores the sum as the return value.
func hsumX(x VecVirtual) {
	y := XMM()
	VPSHUFD(U8(0x4e), x, y)
	VPADDD(y, x, x)
	VPSHUFD(U8(0xb1), x, y)
	VPADDD(y, x, x)
	r := GP32()
	VMOVD(x, r)
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func dotU8AVX2() {
	TEXT("dotU8AVX2", NOSPLIT, "func(q []int16, c []byte, n int, pf *byte, lines int) int32")
	Doc("dotU8AVX2 returns Σ_{t<n} int32(q[t])·int32(c[t]), n a multiple of 16, after prefetching",
		"lines cache lines from pf. The caller guarantees n <= len(q), len(c) and no int32 overflow.")
	prefetch("a2")
	qp := Load(Param("q").Base(), GP64())
	cp := Load(Param("c").Base(), GP64())
	n := Load(Param("n"), GP64())
	acc := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for _, a := range acc {
		VPXOR(a, a, a)
	}
	step := func(u int, a VecVirtual) {
		t := YMM()
		VPMOVZXBW(Mem{Base: cp, Disp: 16 * u}, t)
		VPMADDWD(Mem{Base: qp, Disp: 32 * u}, t, t)
		VPADDD(t, a, a)
	}
	Label("a2loop64")
	CMPQ(n, U32(64))
	JL(LabelRef("a2loop16"))
	for u := 0; u < 4; u++ {
		step(u, acc[u])
	}
	ADDQ(U32(128), qp)
	ADDQ(U32(64), cp)
	SUBQ(U32(64), n)
	JMP(LabelRef("a2loop64"))
	Label("a2loop16")
	CMPQ(n, U32(16))
	JL(LabelRef("a2done"))
	step(0, acc[0])
	ADDQ(U32(32), qp)
	ADDQ(U32(16), cp)
	SUBQ(U32(16), n)
	JMP(LabelRef("a2loop16"))
	Label("a2done")
	hsumI32(acc)
}

func dotU8AVX512() {
	TEXT("dotU8AVX512", NOSPLIT, "func(q []int16, c []byte, n int, pf *byte, lines int) int32")
	Doc("dotU8AVX512 returns Σ_{t<n} int32(q[t])·int32(c[t]) for any n, after prefetching lines",
		"cache lines from pf. The caller guarantees n <= len(q), len(c) and no int32 overflow.")
	prefetch("a5")
	qp := Load(Param("q").Base(), GP64())
	cp := Load(Param("c").Base(), GP64())
	n := Load(Param("n"), GP64())
	acc := []VecVirtual{ZMM(), ZMM(), ZMM(), ZMM()}
	for _, a := range acc {
		VPXORD(a, a, a)
	}
	step := func(u int, a VecVirtual) {
		t := ZMM()
		VPMOVZXBW(Mem{Base: cp, Disp: 32 * u}, t)
		VPMADDWD(Mem{Base: qp, Disp: 64 * u}, t, t)
		VPADDD(t, a, a)
	}
	Label("a5loop128")
	CMPQ(n, U32(128))
	JL(LabelRef("a5loop32"))
	for u := 0; u < 4; u++ {
		step(u, acc[u])
	}
	ADDQ(U32(256), qp)
	ADDQ(U32(128), cp)
	SUBQ(U32(128), n)
	JMP(LabelRef("a5loop128"))
	Label("a5loop32")
	CMPQ(n, U32(32))
	JL(LabelRef("a5tail"))
	step(0, acc[0])
	ADDQ(U32(64), qp)
	ADDQ(U32(32), cp)
	SUBQ(U32(32), n)
	JMP(LabelRef("a5loop32"))
	Label("a5tail")
	// The last n < 32 elements: zero-masked loads read nothing past the end.
	TESTQ(n, n)
	JZ(LabelRef("a5done"))
	ones := GP64()
	MOVQ(I32(-1), ones)
	m := GP64()
	BZHIQ(n, ones, m)
	k := K()
	KMOVD(m.As32(), k)
	t, w := ZMM(), ZMM()
	VPMOVZXBW_Z(Mem{Base: cp}, k, t)
	VMOVDQU16_Z(Mem{Base: qp}, k, w)
	VPMADDWD(w, t, t)
	VPADDD(t, acc[1], acc[1])
	Label("a5done")
	VPADDD(acc[1], acc[0], acc[0])
	VPADDD(acc[3], acc[2], acc[2])
	VPADDD(acc[2], acc[0], acc[0])
	hi := YMM()
	VEXTRACTI64X4(U8(1), acc[0], hi)
	y := YMM()
	VPADDD(hi, acc[0].AsY(), y)
	h2 := XMM()
	VEXTRACTI128(U8(1), y, h2)
	x := XMM()
	VPADDD(h2, y.AsX(), x)
	hsumX(x)
}

// l2SQ8PairAVX512 is l2SQ8PairAVX2 on 16 lanes, for any n (the last n%16 through zero-masked
// loads): Σ_{t<n} w[t]·(float32(a[t]) - float32(b[t]))².
func l2SQ8PairAVX512() {
	TEXT("l2SQ8PairAVX512", NOSPLIT, "func(a, b []byte, w []float32, n int) float32")
	Doc("l2SQ8PairAVX512 returns Σ_{t<n} w[t]·(float32(a[t]) - float32(b[t]))² for any n.",
		"The caller guarantees n <= len(a), len(b), len(w).")
	ap := Load(Param("a").Base(), GP64())
	bp := Load(Param("b").Base(), GP64())
	wp := Load(Param("w").Base(), GP64())
	n := Load(Param("n"), GP64())
	acc := []VecVirtual{ZMM(), ZMM(), ZMM(), ZMM()}
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	step := func(u int, a VecVirtual) {
		x, y, t := ZMM(), ZMM(), ZMM()
		VPMOVZXBD(Mem{Base: ap, Disp: 16 * u}, x)
		VPMOVZXBD(Mem{Base: bp, Disp: 16 * u}, y)
		VPSUBD(y, x, x) // exact in int32
		VCVTDQ2PS(x, x)
		VMULPS(Mem{Base: wp, Disp: 64 * u}, x, t)
		VFMADD231PS(x, t, a)
	}
	Label("p5loop64")
	CMPQ(n, U32(64))
	JL(LabelRef("p5loop16"))
	for u := 0; u < 4; u++ {
		step(u, acc[u])
	}
	ADDQ(U32(64), ap)
	ADDQ(U32(64), bp)
	ADDQ(U32(256), wp)
	SUBQ(U32(64), n)
	JMP(LabelRef("p5loop64"))
	Label("p5loop16")
	CMPQ(n, U32(16))
	JL(LabelRef("p5tail"))
	step(0, acc[0])
	ADDQ(U32(16), ap)
	ADDQ(U32(16), bp)
	ADDQ(U32(64), wp)
	SUBQ(U32(16), n)
	JMP(LabelRef("p5loop16"))
	Label("p5tail")
	TESTQ(n, n)
	JZ(LabelRef("p5done"))
	ones := GP64()
	MOVQ(I32(-1), ones)
	m := GP64()
	BZHIQ(n, ones, m)
	k := K()
	KMOVW(m.As32(), k)
	x, y, t := ZMM(), ZMM(), ZMM()
	VPMOVZXBD_Z(Mem{Base: ap}, k, x)
	VPMOVZXBD_Z(Mem{Base: bp}, k, y)
	VPSUBD(y, x, x)
	VCVTDQ2PS(x, x)
	VMULPS_Z(Mem{Base: wp}, x, k, t)
	VFMADD231PS(x, t, acc[1])
	Label("p5done")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	hi := YMM()
	VEXTRACTF64X4(U8(1), acc[0], hi)
	s := YMM()
	VADDPS(hi, acc[0].AsY(), s)
	h2 := XMM()
	VEXTRACTF128(U8(1), s, h2)
	lo := XMM()
	VADDPS(h2, s.AsX(), lo)
	VHADDPS(lo, lo, lo)
	VHADDPS(lo, lo, lo)
	VZEROUPPER()
	Store(lo, ReturnIndex(0))
	RET()
}

// Command sq8 generates the AVX2+FMA and AVX-512BW code-distance kernels of package
// pinrec/internal/sq8 (the integer dotU8 kernels and l2SQ8PairAVX512 are in dot.go, the
// integer pair kernels l2PairW16 in pair.go)
// (../../sq8/kernel_amd64.s and ../../sq8/kernel_amd64_stubs.go). Run it through `go generate`
// in internal/sq8; the directive is in internal/sq8/kernel_amd64.go.
//
// Each kernel handles the first n elements, n a multiple of 8 (the Go wrapper adds the tail):
//
//	l2SQ8AVX2(q, w, c, n)  = Σ_{t<n} w[t]·(q[t] - float32(c[t]))²   (c bytes, q and w float32)
//	l2SQ8PairAVX2(a, b, w, n) = Σ_{t<n} w[t]·(float32(a[t]) - float32(b[t]))²   (two codes)
//	l2F32AVX2(x, y, n)     = Σ_{t<n} (x[t] - y[t])²
//	dotF32AVX2(x, y, n)    = Σ_{t<n} x[t]·y[t]
//
// Four 8-lane accumulators take 32 elements per step, then one takes 8 per step; the lanes are
// summed as ((a0+a1)+(a2+a3)), then the upper and lower 128 bits, then pairwise.
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("amd64,!purego")
	sq8()
	sq8Pair()
	f32(false)
	f32(true)
	dotU8AVX2()
	dotU8AVX512()
	l2SQ8PairAVX512()
	l2PairW16AVX2()
	l2PairW16AVX512()
	Generate()
}

// hsum sums the four accumulators into one float32 and stores it as the return value.
func hsum(acc []VecVirtual) {
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	hi := XMM()
	VEXTRACTF128(U8(1), acc[0], hi)
	lo := XMM()
	VADDPS(hi, acc[0].AsX(), lo)
	VHADDPS(lo, lo, lo)
	VHADDPS(lo, lo, lo)
	VZEROUPPER()
	Store(lo, ReturnIndex(0))
	RET()
}

func sq8() {
	TEXT("l2SQ8AVX2", NOSPLIT, "func(q, w []float32, c []byte, n int) float32")
	Doc("l2SQ8AVX2 returns Σ_{t<n} w[t]·(q[t] - float32(c[t]))², n a multiple of 8.",
		"The caller guarantees n <= len(c), len(q), len(w).")
	qp := Load(Param("q").Base(), GP64())
	wp := Load(Param("w").Base(), GP64())
	cp := Load(Param("c").Base(), GP64())
	n := Load(Param("n"), GP64())
	acc := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	step := func(u int, a VecVirtual) {
		t, d := YMM(), YMM()
		VPMOVZXBD(Mem{Base: cp, Disp: 8 * u}, t)
		VCVTDQ2PS(t, t)
		VMOVUPS(Mem{Base: qp, Disp: 32 * u}, d)
		VSUBPS(t, d, d)                           // d = q - c
		VMULPS(Mem{Base: wp, Disp: 32 * u}, d, t) // t = w*d
		VFMADD231PS(d, t, a)                      // a += w*d*d
	}
	Label("sq8loop32")
	CMPQ(n, U32(32))
	JL(LabelRef("sq8loop8"))
	for u := 0; u < 4; u++ {
		step(u, acc[u])
	}
	ADDQ(U32(128), qp)
	ADDQ(U32(128), wp)
	ADDQ(U32(32), cp)
	SUBQ(U32(32), n)
	JMP(LabelRef("sq8loop32"))
	Label("sq8loop8")
	CMPQ(n, U32(8))
	JL(LabelRef("sq8done"))
	step(0, acc[0])
	ADDQ(U32(32), qp)
	ADDQ(U32(32), wp)
	ADDQ(U32(8), cp)
	SUBQ(U32(8), n)
	JMP(LabelRef("sq8loop8"))
	Label("sq8done")
	hsum(acc)
}

func sq8Pair() {
	TEXT("l2SQ8PairAVX2", NOSPLIT, "func(a, b []byte, w []float32, n int) float32")
	Doc("l2SQ8PairAVX2 returns Σ_{t<n} w[t]·(float32(a[t]) - float32(b[t]))², n a multiple of 8.",
		"The caller guarantees n <= len(a), len(b), len(w).")
	ap := Load(Param("a").Base(), GP64())
	bp := Load(Param("b").Base(), GP64())
	wp := Load(Param("w").Base(), GP64())
	n := Load(Param("n"), GP64())
	acc := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	step := func(u int, a VecVirtual) {
		x, y, t := YMM(), YMM(), YMM()
		VPMOVZXBD(Mem{Base: ap, Disp: 8 * u}, x)
		VPMOVZXBD(Mem{Base: bp, Disp: 8 * u}, y)
		VPSUBD(y, x, x) // exact in int32
		VCVTDQ2PS(x, x)
		VMULPS(Mem{Base: wp, Disp: 32 * u}, x, t)
		VFMADD231PS(x, t, a)
	}
	Label("pairloop32")
	CMPQ(n, U32(32))
	JL(LabelRef("pairloop8"))
	for u := 0; u < 4; u++ {
		step(u, acc[u])
	}
	ADDQ(U32(32), ap)
	ADDQ(U32(32), bp)
	ADDQ(U32(128), wp)
	SUBQ(U32(32), n)
	JMP(LabelRef("pairloop32"))
	Label("pairloop8")
	CMPQ(n, U32(8))
	JL(LabelRef("pairdone"))
	step(0, acc[0])
	ADDQ(U32(8), ap)
	ADDQ(U32(8), bp)
	ADDQ(U32(32), wp)
	SUBQ(U32(8), n)
	JMP(LabelRef("pairloop8"))
	Label("pairdone")
	hsum(acc)
}

func f32(dot bool) {
	name, formula, p := "l2F32AVX2", "(x[t] - y[t])²", "l2"
	if dot {
		name, formula, p = "dotF32AVX2", "x[t]·y[t]", "dot"
	}
	TEXT(name, NOSPLIT, "func(x, y []float32, n int) float32")
	Doc(name+" returns Σ_{t<n} "+formula+", n a multiple of 8.",
		"The caller guarantees n <= len(x), len(y).")
	xp := Load(Param("x").Base(), GP64())
	yp := Load(Param("y").Base(), GP64())
	n := Load(Param("n"), GP64())
	acc := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	step := func(u int, a VecVirtual) {
		d := YMM()
		VMOVUPS(Mem{Base: xp, Disp: 32 * u}, d)
		if dot {
			VFMADD231PS(Mem{Base: yp, Disp: 32 * u}, d, a)
			return
		}
		VSUBPS(Mem{Base: yp, Disp: 32 * u}, d, d)
		VFMADD231PS(d, d, a)
	}
	Label(p + "loop32")
	CMPQ(n, U32(32))
	JL(LabelRef(p + "loop8"))
	for u := 0; u < 4; u++ {
		step(u, acc[u])
	}
	ADDQ(U32(128), xp)
	ADDQ(U32(128), yp)
	SUBQ(U32(32), n)
	JMP(LabelRef(p + "loop32"))
	Label(p + "loop8")
	CMPQ(n, U32(8))
	JL(LabelRef(p + "done"))
	step(0, acc[0])
	ADDQ(U32(32), xp)
	ADDQ(U32(32), yp)
	SUBQ(U32(8), n)
	JMP(LabelRef(p + "loop8"))
	Label(p + "done")
	hsum(acc)
}

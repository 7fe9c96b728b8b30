package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The integer pair kernels of neighbour selection (two codes, int16 weights):
//
//	l2PairW16AVX2(a, b, w, n)   = Σ_{t<n} int64(w[t])·(a[t] - b[t])², n a multiple of 16
//	l2PairW16AVX512(a, b, w, n) = the same for any n (the last n%32 through masked loads)
//
// VPMOVZXBW widens both codes' bytes to words, VPSUBW takes the difference (|d| <= 255),
// VPMULLW multiplies it by the weight (|w·d| <= 32767 for w <= 128), VPMADDWD multiplies that
// by the difference again and adds adjacent pairs into int32 lanes, VPADDD accumulates. The
// lanes are exact as long as each fits in int32, which the caller guarantees by bounding w
// (each of 8 lanes, or 16, takes n/8, or n/16, products of at most 255²·w); the lanes are
// summed in int64.

// hsumQ sums the int64 lanes of the ymm x and stores the sum as the return value.
func hsumQ(y VecVirtual) {
	h := XMM()
	VEXTRACTI128(U8(1), y, h)
	x := XMM()
	VPADDQ(h, y.AsX(), x)
	t := XMM()
	VPSHUFD(U8(0x4e), x, t)
	VPADDQ(t, x, x)
	r := GP64()
	VMOVQ(x, r)
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

func l2PairW16AVX2() {
	TEXT("l2PairW16AVX2", NOSPLIT, "func(a, b []byte, w []int16, n int) int64")
	Doc("l2PairW16AVX2 returns Σ_{t<n} int64(w[t])·(a[t] - b[t])², n a multiple of 16. The caller",
		"guarantees n <= len(a), len(b), len(w), 0 <= w[t] <= 128 and no int32 overflow in a lane.")
	ap := Load(Param("a").Base(), GP64())
	bp := Load(Param("b").Base(), GP64())
	wp := Load(Param("w").Base(), GP64())
	n := Load(Param("n"), GP64())
	acc := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for _, a := range acc {
		VPXOR(a, a, a)
	}
	step := func(u int, a VecVirtual) {
		x, y, t := YMM(), YMM(), YMM()
		VPMOVZXBW(Mem{Base: ap, Disp: 16 * u}, x)
		VPMOVZXBW(Mem{Base: bp, Disp: 16 * u}, y)
		VPSUBW(y, x, x)
		VPMULLW(Mem{Base: wp, Disp: 32 * u}, x, t)
		VPMADDWD(x, t, t)
		VPADDD(t, a, a)
	}
	Label("w2loop64")
	CMPQ(n, U32(64))
	JL(LabelRef("w2loop16"))
	for u := 0; u < 4; u++ {
		step(u, acc[u])
	}
	ADDQ(U32(64), ap)
	ADDQ(U32(64), bp)
	ADDQ(U32(128), wp)
	SUBQ(U32(64), n)
	JMP(LabelRef("w2loop64"))
	Label("w2loop16")
	CMPQ(n, U32(16))
	JL(LabelRef("w2done"))
	step(0, acc[0])
	ADDQ(U32(16), ap)
	ADDQ(U32(16), bp)
	ADDQ(U32(32), wp)
	SUBQ(U32(16), n)
	JMP(LabelRef("w2loop16"))
	Label("w2done")
	VPADDD(acc[1], acc[0], acc[0])
	VPADDD(acc[3], acc[2], acc[2])
	VPADDD(acc[2], acc[0], acc[0])
	hi := XMM()
	VEXTRACTI128(U8(1), acc[0], hi)
	q0, q1 := YMM(), YMM()
	VPMOVSXDQ(acc[0].AsX(), q0)
	VPMOVSXDQ(hi, q1)
	VPADDQ(q1, q0, q0)
	hsumQ(q0)
}

func l2PairW16AVX512() {
	TEXT("l2PairW16AVX512", NOSPLIT, "func(a, b []byte, w []int16, n int) int64")
	Doc("l2PairW16AVX512 returns Σ_{t<n} int64(w[t])·(a[t] - b[t])² for any n. The caller",
		"guarantees n <= len(a), len(b), len(w), 0 <= w[t] <= 128 and no int32 overflow in a lane.")
	ap := Load(Param("a").Base(), GP64())
	bp := Load(Param("b").Base(), GP64())
	wp := Load(Param("w").Base(), GP64())
	n := Load(Param("n"), GP64())
	acc := []VecVirtual{ZMM(), ZMM(), ZMM(), ZMM()}
	for _, a := range acc {
		VPXORD(a, a, a)
	}
	step := func(u int, a VecVirtual) {
		x, y, t := ZMM(), ZMM(), ZMM()
		VPMOVZXBW(Mem{Base: ap, Disp: 32 * u}, x)
		VPMOVZXBW(Mem{Base: bp, Disp: 32 * u}, y)
		VPSUBW(y, x, x)
		VPMULLW(Mem{Base: wp, Disp: 64 * u}, x, t)
		VPMADDWD(x, t, t)
		VPADDD(t, a, a)
	}
	Label("w5loop128")
	CMPQ(n, U32(128))
	JL(LabelRef("w5loop32"))
	for u := 0; u < 4; u++ {
		step(u, acc[u])
	}
	ADDQ(U32(128), ap)
	ADDQ(U32(128), bp)
	ADDQ(U32(256), wp)
	SUBQ(U32(128), n)
	JMP(LabelRef("w5loop128"))
	Label("w5loop32")
	CMPQ(n, U32(32))
	JL(LabelRef("w5tail"))
	step(0, acc[0])
	ADDQ(U32(32), ap)
	ADDQ(U32(32), bp)
	ADDQ(U32(64), wp)
	SUBQ(U32(32), n)
	JMP(LabelRef("w5loop32"))
	Label("w5tail")
	// The last n < 32 elements: zero-masked loads read nothing past the end.
	TESTQ(n, n)
	JZ(LabelRef("w5done"))
	ones := GP64()
	MOVQ(I32(-1), ones)
	m := GP64()
	BZHIQ(n, ones, m)
	k := K()
	KMOVD(m.As32(), k)
	x, y, wv, t := ZMM(), ZMM(), ZMM(), ZMM()
	VPMOVZXBW_Z(Mem{Base: ap}, k, x)
	VPMOVZXBW_Z(Mem{Base: bp}, k, y)
	VMOVDQU16_Z(Mem{Base: wp}, k, wv)
	VPSUBW(y, x, x)
	VPMULLW(wv, x, t)
	VPMADDWD(x, t, t)
	VPADDD(t, acc[1], acc[1])
	Label("w5done")
	VPADDD(acc[1], acc[0], acc[0])
	VPADDD(acc[3], acc[2], acc[2])
	VPADDD(acc[2], acc[0], acc[0])
	hi := YMM()
	VEXTRACTI64X4(U8(1), acc[0], hi)
	q0, q1 := ZMM(), ZMM()
	VPMOVSXDQ(acc[0].AsY(), q0)
	VPMOVSXDQ(hi, q1)
	VPADDQ(q1, q0, q0)
	h := YMM()
	VEXTRACTI64X4(U8(1), q0, h)
	s := YMM()
	VPADDQ(h, q0.AsY(), s)
	hsumQ(s)
}

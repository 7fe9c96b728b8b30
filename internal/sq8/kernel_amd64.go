//go:build amd64 && !purego

package sq8

import "golang.org/x/sys/cpu"

//go:generate sh -c "cd ../avo && GOWORK=off go run ./sq8 -out ../sq8/kernel_amd64.s -stubs ../sq8/kernel_amd64_stubs.go -pkg sq8"

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		l2SQ8 = l2SQ8Fast
		l2SQ8Pair = l2SQ8PairFast
		l2F32 = l2F32Fast
		dotF32 = dotF32Fast
		kernelName = "avx2+fma"
	}
}

// The fast kernels: the generated code takes the whole groups of eight, the portable loop
// the rest.

func l2SQ8Fast(q, w []float32, c []byte) float32 {
	n := len(c) &^ 7
	s := l2SQ8AVX2(q, w, c, n)
	if n < len(c) {
		s += l2SQ8Go(q[n:], w[n:], c[n:])
	}
	return s
}

func l2SQ8PairFast(a, b []byte, w []float32) float32 {
	n := len(a) &^ 7
	s := l2SQ8PairAVX2(a, b, w, n)
	if n < len(a) {
		s += l2SQ8PairGo(a[n:], b[n:], w[n:])
	}
	return s
}

func l2F32Fast(x, y []float32) float32 {
	n := len(x) &^ 7
	s := l2F32AVX2(x, y, n)
	if n < len(x) {
		s += l2F32Go(x[n:], y[n:])
	}
	return s
}

func dotF32Fast(x, y []float32) float32 {
	n := len(x) &^ 7
	s := dotF32AVX2(x, y, n)
	if n < len(x) {
		s += dotF32Go(x[n:], y[n:])
	}
	return s
}

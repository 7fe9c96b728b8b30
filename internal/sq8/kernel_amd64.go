//go:build amd64 && !purego

package sq8

import (
	"os"
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate sh -c "cd ../avo && GOWORK=off go run ./sq8 -out ../sq8/kernel_amd64.s -stubs ../sq8/kernel_amd64_stubs.go -pkg sq8"

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		l2SQ8 = l2SQ8Fast
		l2SQ8Pair = l2SQ8PairFast
		l2F32 = l2F32Fast
		dotF32 = dotF32Fast
		dotU8 = dotU8Fast
		l2PairW16 = l2PairW16Fast
		kernelName = "avx2+fma"
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasBMI2 && cpu.X86.HasAVX2 && cpu.X86.HasFMA &&
		os.Getenv("PINREC_SQ8_AVX2") == "" {
		dotU8 = dotU8Fast512
		l2SQ8Pair = l2SQ8PairFast512
		l2PairW16 = l2PairW16Fast512
		kernelName = "avx2+fma+avx512bw"
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

// prefetchArgs returns pf's first byte and its number of 64-byte lines (nil, 0 for an empty pf).
func prefetchArgs(pf []byte) (*byte, int) {
	if len(pf) == 0 {
		return nil, 0
	}
	return unsafe.SliceData(pf), (len(pf) + 63) / 64
}

func dotU8Fast(q []int16, c []byte, pf []byte) int32 {
	n := len(c) &^ 15
	p, lines := prefetchArgs(pf)
	s := dotU8AVX2(q, c, n, p, lines)
	if n < len(c) {
		s += dotU8Go(q[n:], c[n:], nil)
	}
	return s
}

func l2SQ8PairFast512(a, b []byte, w []float32) float32 {
	return l2SQ8PairAVX512(a, b, w, len(a))
}

func dotU8Fast512(q []int16, c []byte, pf []byte) int32 {
	p, lines := prefetchArgs(pf)
	return dotU8AVX512(q, c, len(c), p, lines)
}

func l2PairW16Fast(a, b []byte, w []int16) int64 {
	n := len(a) &^ 15
	s := l2PairW16AVX2(a, b, w, n)
	if n < len(a) {
		s += l2PairW16Go(a[n:], b[n:], w[n:])
	}
	return s
}

func l2PairW16Fast512(a, b []byte, w []int16) int64 {
	return l2PairW16AVX512(a, b, w, len(a))
}

// l2PairW16Sets lists the L2PairW16 kernels this CPU can run, for the tests.
func l2PairW16Sets() map[string]func(a, b []byte, w []int16) int64 {
	s := map[string]func(a, b []byte, w []int16) int64{"go": l2PairW16Go}
	if cpu.X86.HasAVX2 {
		s["avx2"] = l2PairW16Fast
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasBMI2 {
		s["avx512bw"] = l2PairW16Fast512
	}
	return s
}

// dotU8Sets lists the DotU8 kernels this CPU can run, for the tests.
func dotU8Sets() map[string]func(q []int16, c []byte, pf []byte) int32 {
	s := map[string]func(q []int16, c []byte, pf []byte) int32{"go": dotU8Go}
	if cpu.X86.HasAVX2 {
		s["avx2"] = dotU8Fast
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasBMI2 {
		s["avx512bw"] = dotU8Fast512
	}
	return s
}

// l2PairSets lists the L2Pair kernels this CPU can run, for the tests.
func l2PairSets() map[string]func(a, b []byte, w []float32) float32 {
	s := map[string]func(a, b []byte, w []float32) float32{"go": l2SQ8PairGo}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		s["avx2"] = l2SQ8PairFast
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasBMI2 {
		s["avx512"] = l2SQ8PairFast512
	}
	return s
}

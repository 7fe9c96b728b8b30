//go:build unix

package kernel

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkDotI16Batch runs every int16 tile set on the shape SearchBatch gives them: a block
// of 64 rows against 100 queries of 2048 codes, with the strides SearchBatch uses. It reports
// multiply-adds of code pairs per second, per second of wall time (GMAC/s) and per second of
// the thread's CPU time (cpu-GMAC/s, which other programs on a shared machine hardly move).
func BenchmarkDotI16Batch(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	const nr, nq, dim, stride = 64, 100, 2048, 2048 + 32
	x := make([]int16, nr*stride)
	q := make([]int16, nq*stride)
	for i := range x {
		x[i] = int16(rng.IntN(2*I16Max+1) - I16Max)
	}
	for i := range q {
		q[i] = int16(rng.IntN(2*I16Max+1) - I16Max)
	}
	out := make([]float64, nr*nq)
	for _, set := range availableI16() {
		b.Run(set.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.SetBytes(2 * nr * dim)
			c0 := threadCPU(b)
			for b.Loop() {
				set.dot(x, nr, stride, q, nq, stride, dim, out, nr, nil)
			}
			cpu := threadCPU(b) - c0
			macs := float64(nr*nq*dim) * float64(b.N)
			b.ReportMetric(macs/b.Elapsed().Seconds()/1e9, "GMAC/s")
			b.ReportMetric(macs/cpu/1e9, "cpu-GMAC/s")
		})
	}
}

// threadCPU returns the CPU time of the calling thread, in seconds.
func threadCPU(b *testing.B) float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return float64(ts.Nano()) / 1e9
}

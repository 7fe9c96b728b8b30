package pinrec

import "fmt"

// The squared-L2 kernels. Every distance in the package comes from l2sqTile, which is the
// portable l2sqTileGo below unless an init function in a platform file (kernel_amd64.go)
// installs a faster twin after checking the CPU's features. The purego build tag keeps the
// portable kernel everywhere.
//
// All kernels sum a pair the same way: element t goes to lane t%8 of eight partial sums
// (the tail's lanes too), and the lanes are added as ((s0+s4)+(s2+s6)) + ((s1+s5)+(s3+s7)).
// The fast kernels fuse the multiply-add, so they may differ from the portable one in the
// last bits, never in the order of accumulation.

// l2sqTile computes out[j*os+i] = Σ_{t<n} (x[i*xs+t] - q[j*qs+t])² for i < nr, j < nq:
// the squared Euclidean distances between nr rows and nq queries of length n.
// It panics if a slice is too short (a bug in this package, never a caller's input).
var l2sqTile = l2sqTileGo

// dotTile computes out[j*os+i] = Σ_{t<n} x[i*xs+t] * q[j*qs+t] for i < nr, j < nq, with the
// same shapes and checks as l2sqTile. SearchBatch uses it to bound distances cheaply.
var dotTile = dotTileGo

// kernelName names the kernels that l2sqTile and dotTile run ("go" or "avx2+fma").
var kernelName = "go"

// checkTile panics unless the slices cover every element l2sqTile touches.
func checkTile(x []float32, nr, xs int, q []float32, nq, qs, n int, out []float32, os int) {
	if nr <= 0 || nq <= 0 {
		return
	}
	if n < 0 || xs < n || qs < n || os < nr ||
		len(x) < (nr-1)*xs+n || len(q) < (nq-1)*qs+n || len(out) < (nq-1)*os+nr {
		panic(fmt.Sprintf("pinrec: l2sqTile out of bounds: len(x)=%d nr=%d xs=%d len(q)=%d nq=%d qs=%d n=%d len(out)=%d os=%d",
			len(x), nr, xs, len(q), nq, qs, n, len(out), os))
	}
}

// l2sqTileGo is the portable l2sqTile.
func l2sqTileGo(x []float32, nr, xs int, q []float32, nq, qs, n int, out []float32, os int) {
	checkTile(x, nr, xs, q, nq, qs, n, out, os)
	for j := 0; j < nq; j++ {
		qj := q[j*qs : j*qs+n]
		o := out[j*os : j*os+nr]
		for i := range o {
			o[i] = l2sqGo(x[i*xs:i*xs+n], qj)
		}
	}
}

// l2sqGo returns Σ_{t<len(x)} (x[t] - y[t])²; y must be at least as long as x.
// Eight partial sums, unrolled by eight, in the lane order of the fast kernels.
func l2sqGo(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	for len(x) >= 8 {
		xx := x[:8:8]
		yy := y[:8:8]
		d0 := xx[0] - yy[0]
		d1 := xx[1] - yy[1]
		d2 := xx[2] - yy[2]
		d3 := xx[3] - yy[3]
		d4 := xx[4] - yy[4]
		d5 := xx[5] - yy[5]
		d6 := xx[6] - yy[6]
		d7 := xx[7] - yy[7]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
		s4 += d4 * d4
		s5 += d5 * d5
		s6 += d6 * d6
		s7 += d7 * d7
		x = x[8:]
		y = y[8:]
	}
	// The tail feeds the first lanes, as the masked loads of the fast kernels do.
	var t [8]float32
	for i := range x {
		d := x[i] - y[i]
		t[i] = d * d
	}
	s0 += t[0]
	s1 += t[1]
	s2 += t[2]
	s3 += t[3]
	s4 += t[4]
	s5 += t[5]
	s6 += t[6]
	s7 += t[7]
	return ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))
}

// dotTileGo is the portable dotTile.
func dotTileGo(x []float32, nr, xs int, q []float32, nq, qs, n int, out []float32, os int) {
	checkTile(x, nr, xs, q, nq, qs, n, out, os)
	for j := 0; j < nq; j++ {
		qj := q[j*qs : j*qs+n]
		o := out[j*os : j*os+nr]
		for i := range o {
			o[i] = dotGo(x[i*xs:i*xs+n], qj)
		}
	}
}

// dotGo returns Σ_{t<len(x)} x[t]*y[t]; y must be at least as long as x. Eight partial
// sums, in the lane order of the fast kernels.
func dotGo(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	for len(x) >= 8 {
		xx := x[:8:8]
		yy := y[:8:8]
		s0 += xx[0] * yy[0]
		s1 += xx[1] * yy[1]
		s2 += xx[2] * yy[2]
		s3 += xx[3] * yy[3]
		s4 += xx[4] * yy[4]
		s5 += xx[5] * yy[5]
		s6 += xx[6] * yy[6]
		s7 += xx[7] * yy[7]
		x = x[8:]
		y = y[8:]
	}
	var t [8]float32
	for i := range x {
		t[i] = x[i] * y[i]
	}
	s0 += t[0]
	s1 += t[1]
	s2 += t[2]
	s3 += t[3]
	s4 += t[4]
	s5 += t[5]
	s6 += t[6]
	s7 += t[7]
	return ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))
}

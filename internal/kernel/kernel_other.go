//go:build !amd64 || purego

package kernel

// On platforms without a fast kernel, or with the purego build tag, L2sqTile stays the
// portable l2sqTileGo of kernel.go.

// available returns the kernel sets this platform runs: the portable one.
func available() []kernelSet {
	return []kernelSet{{"go", l2sqTileGo, dotTileGo}}
}

// choose keeps the portable kernels: there is nothing to choose from.
func choose(string) {}

// i16Set is one choice of the int16 kernels, for tests.
type i16Set struct {
	name    string
	dot     func(x []int16, nr, xs int, q []int16, nq, qs, n int, out []float64, os int, next []float32)
	normMax func([]float32) (float32, float32)
	quant   func([]float32, float32, []int16) int
}

// availableI16 returns the int16 kernel sets this platform runs: the portable one.
func availableI16() []i16Set {
	return []i16Set{{"go", dotI16TileGo, normMaxGo, quantGo}}
}

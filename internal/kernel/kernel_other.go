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

//go:build !amd64 || purego

package kernel

// testSets adds nothing here: only the portable kernels exist.
func testSets() []kernelSet { return nil }

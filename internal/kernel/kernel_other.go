//go:build !amd64 || purego

package kernel

// On platforms without a fast kernel, or with the purego build tag, L2sqTile stays the
// portable l2sqTileGo of kernel.go.

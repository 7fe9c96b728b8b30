//go:build !amd64 || purego

package pinrec

// On platforms without a fast kernel, or with the purego build tag, l2sqTile stays the
// portable l2sqTileGo of kernel.go.

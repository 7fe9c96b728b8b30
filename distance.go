package pinrec

import "pinrec/internal/kernel"

// l2sqTile computes squared Euclidean distances between a tile of rows and queries: see
// kernel.L2sqTile, which every distance in the package comes from.
func l2sqTile(x []float32, nr, xs int, q []float32, nq, qs, n int, out []float32, os int) {
	kernel.L2sqTile(x, nr, xs, q, nq, qs, n, out, os)
}

// dotTile computes dot products between a tile of rows and queries: see kernel.DotTile.
func dotTile(x []float32, nr, xs int, q []float32, nq, qs, n int, out []float32, os int) {
	kernel.DotTile(x, nr, xs, q, nq, qs, n, out, os)
}

//go:build !amd64 || purego

package sq8

// The portable kernels are the only ones here; these keep the fast wrappers' tests building.

func l2SQ8Fast(q, w []float32, c []byte) float32        { return l2SQ8Go(q, w, c) }
func l2SQ8PairFast(a, b []byte, w []float32) float32    { return l2SQ8PairGo(a, b, w) }
func l2F32Fast(x, y []float32) float32                  { return l2F32Go(x, y) }
func dotF32Fast(x, y []float32) float32                 { return dotF32Go(x, y) }
func dotU8Fast(q []int16, c []byte, pf []byte) int32    { return dotU8Go(q, c, pf) }
func dotU8Fast512(q []int16, c []byte, pf []byte) int32 { return dotU8Go(q, c, pf) }

// l2PairW16Sets lists the L2PairW16 kernels this build can run, for the tests.
func l2PairW16Sets() map[string]func(a, b []byte, w []int16) int64 {
	return map[string]func(a, b []byte, w []int16) int64{"go": l2PairW16Go}
}

// dotU8Sets lists the DotU8 kernels this build can run, for the tests.
func dotU8Sets() map[string]func(q []int16, c []byte, pf []byte) int32 {
	return map[string]func(q []int16, c []byte, pf []byte) int32{"go": dotU8Go}
}

func l2SQ8PairFast512(a, b []byte, w []float32) float32 { return l2SQ8PairGo(a, b, w) }

// l2PairSets lists the L2Pair kernels this build can run, for the tests.
func l2PairSets() map[string]func(a, b []byte, w []float32) float32 {
	return map[string]func(a, b []byte, w []float32) float32{"go": l2SQ8PairGo}
}

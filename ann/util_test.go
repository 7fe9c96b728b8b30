package ann

import "math"

func nanValue() float64 { return math.NaN() }

// level0 returns a copy of node x's level-0 neighbours, from the wide or the narrow lists.
func level0(g *graph, x uint32) []uint32 {
	s := int(x) * (g.m0 + 1)
	if g.narrow != nil {
		ln := g.narrow[s : s+g.m0+1]
		out := make([]uint32, ln[0])
		for j := range out {
			out[j] = uint32(ln[1+j])
		}
		return out
	}
	ln := g.links0[s : s+g.m0+1]
	return append([]uint32(nil), ln[1:1+ln[0]]...)
}

// Package fidelity measures how far one set of embeddings moves from another of the same images,
// in the terms a user of the index feels: whether the nearest neighbours change. The Embedder's
// fast mode (bfloat16) is compared with float32 this way by its test and by make bench-embed.
package fidelity

import (
	"cmp"
	"math"
	"slices"
)

// Report compares a candidate set of vectors (Fast) with a reference set (Ref), row i being the
// same image in both.
type Report struct {
	// Images is the number of rows compared; Groups the number of distinct pictures among them.
	Images, Groups int
	// K is the neighbour-list length of the overlaps (10, or fewer when there are fewer
	// distinct pictures).
	K int
	// TopKOverlap is the mean, over images, of the share of the reference top-K that the
	// candidate top-K keeps, both searched among the other distinct pictures: the candidate
	// index answering candidate queries.
	TopKOverlap float64
	// MixedTopKOverlap is the same with reference queries against the candidate index (vectors
	// made one way searched in an index made the other way).
	MixedTopKOverlap float64
	// Top1Agreement is the share of images whose nearest other picture is the same in both.
	Top1Agreement float64
	// WorstCosine is the least cosine similarity between an image's two vectors.
	WorstCosine float64
	// DiscriminativeRatio is the largest, over images i, of ||cand_i - ref_i|| over the distance
	// from ref_i to the nearest reference vector of another picture: how far the candidate moves
	// a vector compared with the gap that tells distinct pictures apart. Below 0.5 no nearest
	// neighbour can swap.
	DiscriminativeRatio float64
	// MaxAbsDiff is the largest difference of one component (0: the sets are identical).
	MaxAbsDiff float64
}

// Compare measures cand against ref. groups[i] names the picture row i shows: rows of one group
// are encodings of one picture (a PNG and a JPEG of it, say), never counted as each other's
// neighbours; nil means every row is its own picture. k is the overlap's list length.
// It panics if the slices' lengths differ.
func Compare(ref, cand [][]float32, groups []int, k int) Report {
	n := len(ref)
	if len(cand) != n || (groups != nil && len(groups) != n) {
		panic("fidelity: ref, cand and groups differ in length")
	}
	if groups == nil {
		groups = make([]int, n)
		for i := range groups {
			groups[i] = i
		}
	}
	distinct := map[int]bool{}
	for _, g := range groups {
		distinct[g] = true
	}
	r := Report{Images: n, Groups: len(distinct), WorstCosine: 1, K: min(k, len(distinct)-1)}
	if n == 0 {
		return r
	}
	var overlap, mixed, top1 float64
	counted := 0
	for i := range n {
		r.WorstCosine = min(r.WorstCosine, cosine(ref[i], cand[i]))
		r.MaxAbsDiff = max(r.MaxAbsDiff, maxAbs(ref[i], cand[i]))
		if r.K < 1 {
			continue
		}
		refTop := nearest(ref[i], ref, groups, i, r.K)
		candTop := nearest(cand[i], cand, groups, i, r.K)
		mixTop := nearest(ref[i], cand, groups, i, r.K)
		overlap += shared(refTop, candTop) / float64(r.K)
		mixed += shared(refTop, mixTop) / float64(r.K)
		if refTop[0].j == candTop[0].j {
			top1++
		}
		r.DiscriminativeRatio = max(r.DiscriminativeRatio, l2(ref[i], cand[i])/refTop[0].d)
		counted++
	}
	if counted > 0 {
		r.TopKOverlap = overlap / float64(counted)
		r.MixedTopKOverlap = mixed / float64(counted)
		r.Top1Agreement = top1 / float64(counted)
	}
	return r
}

type hit struct {
	j int
	d float64
}

// nearest is the exact top-k of q among rows of other groups than row i's, in float64.
func nearest(q []float32, rows [][]float32, groups []int, i, k int) []hit {
	hits := make([]hit, 0, len(rows))
	for j, v := range rows {
		if groups[j] != groups[i] {
			hits = append(hits, hit{j, l2(q, v)})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int { return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.j, b.j)) })
	return hits[:min(k, len(hits))]
}

func shared(a, b []hit) float64 {
	var s float64
	for _, x := range a {
		if slices.ContainsFunc(b, func(y hit) bool { return y.j == x.j }) {
			s++
		}
	}
	return s
}

func l2(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 || bb == 0 {
		if aa == bb {
			return 1
		}
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

func maxAbs(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

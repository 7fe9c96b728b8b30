package dupes

import (
	"context"
	"fmt"
	"math"
	"sync"

	"pinrec"
	"pinrec/internal/sq8"
)

// VectorSource hands out items' vectors; every [pinrec.Store] is one.
type VectorSource interface {
	Get(id string) (pinrec.Item, error)
}

// Shown is a result that stays in a collapsed list, with the near-duplicates of it that were
// hidden.
type Shown struct {
	pinrec.Result
	// Hidden are the later results within the threshold of this one, in rank order; each
	// keeps its distance to the query.
	Hidden []pinrec.Result
}

// Collapsed is a result list with near-duplicates hidden.
type Collapsed struct {
	// Shown are the results kept, in rank order.
	Shown []Shown
	// OfQuery are the results within the threshold of the query itself ([WithQuery]): copies
	// of the picture being looked at, in rank order.
	OfQuery []pinrec.Result
	// Threshold is the distance used.
	Threshold float32
}

// HiddenCount is the number of results hidden ("N similar hidden").
func (c Collapsed) HiddenCount() int {
	n := len(c.OfQuery)
	for _, s := range c.Shown {
		n += len(s.Hidden)
	}
	return n
}

// Results returns the shown results, at most k of them (all when k < 1).
func (c Collapsed) Results(k int) []pinrec.Result {
	out := make([]pinrec.Result, 0, len(c.Shown))
	for _, s := range c.Shown {
		if k > 0 && len(out) == k {
			break
		}
		out = append(out, s.Result)
	}
	return out
}

// Truncate keeps the first k shown results (and what they hide); k < 1 keeps all.
func (c Collapsed) Truncate(k int) Collapsed {
	if k > 0 && len(c.Shown) > k {
		c.Shown = c.Shown[:k]
	}
	return c
}

// Collapse hides near-duplicates in results (nearest first): walking down the list, a result
// within threshold of a result already shown is hidden under the first such one; with
// [WithQuery], a result within threshold of the query is hidden as a copy of the query
// ([Collapsed.OfQuery]). Results are compared by their items' vectors, read from src (a
// region hit is compared by its pin's vector, which has the result's ID). It costs one Get
// per result (or, from a source with an AppendVector method as [pinrec.Index] has, one copy
// of each vector into one buffer) and at most len(results) * shown distance computations.
//
// The error names a result whose vector cannot be read, or wraps [ErrBadOption] for a
// negative or non-finite threshold.
func Collapse(src VectorSource, results []pinrec.Result, threshold float32, opts ...Option) (Collapsed, error) {
	cfg, err := newConfig(append(opts, WithThreshold(threshold)))
	if err != nil {
		return Collapsed{}, err
	}
	out := Collapsed{Shown: make([]Shown, 0, len(results)), Threshold: threshold}
	shownVecs := make([][]float32, 0, len(results))
	va, _ := src.(vectorAppender)
	var buf []float32 // with va: the shown results' vectors, one after another
	if d, ok := src.(interface{ Dim() int }); ok && va != nil {
		p := vecBufs.Get().(*[]float32)
		defer vecBufs.Put(p) // nothing returned refers to it
		if n := max(d.Dim(), 0) * len(results); cap(*p) < n {
			*p = make([]float32, 0, n)
		}
		buf = (*p)[:0]
	}
	for _, r := range results {
		var vec []float32
		if va != nil {
			start := len(buf)
			next, err := va.AppendVector(buf, r.ID)
			if err != nil {
				return Collapsed{}, fmt.Errorf("dupes: collapse: %w", err)
			}
			vec = next[start:len(next):len(next)]
			buf = next[:start] // vec's place is taken below only when it is shown
		} else {
			it, err := src.Get(r.ID)
			if err != nil {
				return Collapsed{}, fmt.Errorf("dupes: collapse: %w", err)
			}
			vec = it.Vector
		}
		if cfg.query != nil && len(cfg.query) == len(vec) && within(cfg.query, vec, threshold) {
			out.OfQuery = append(out.OfQuery, r)
			continue
		}
		hidden := false
		for j, v := range shownVecs {
			if len(v) == len(vec) && within(v, vec, threshold) {
				out.Shown[j].Hidden = append(out.Shown[j].Hidden, r)
				hidden = true
				break
			}
		}
		if !hidden {
			out.Shown = append(out.Shown, Shown{Result: r})
			shownVecs = append(shownVecs, vec)
			if va != nil {
				buf = buf[:len(buf)+len(vec)]
			}
		}
	}
	return out, nil
}

// vecBufs are Collapse's vector buffers, reused: a page of 48 results at 2048-d is 384 KiB.
var vecBufs = sync.Pool{New: func() any { return new([]float32) }}

// vectorAppender is a VectorSource that copies a vector into a caller's buffer
// ([pinrec.Index.AppendVector]): Collapse then reads all results' vectors into one.
type vectorAppender interface {
	AppendVector(dst []float32, id string) ([]float32, error)
}

// within reports whether distance(a, b) <= t, the same answer as that float64 loop, at the
// cost of a float32 kernel for all but the pairs near t: the kernel's squared distance over n
// values is within a relative (2n+8)·2⁻²⁴ of the exact sum (float32 rounding of each term and
// of each addition), so outside a margin above that it decides alone, and inside it distance
// decides. The kernel runs withinChunk values at a time and stops as soon as the sum so far
// (a lower bound of the whole, up to the same margin) is beyond t: pictures that are not
// near-duplicates, nearly every pair, are told apart in the first chunk or two. A collapse of
// 48 results at 2048 dimensions makes up to 1,128 comparisons.
func within(a, b []float32, t float32) bool {
	t2 := float64(t) * float64(t)
	m := 4 * float64(2*len(a)+8) / (1 << 24)
	d2 := 0.0
	for lo := 0; lo < len(a); lo += withinChunk {
		hi := min(lo+withinChunk, len(a))
		d2 += float64(sq8.L2F32(a[lo:hi], b[lo:hi:hi]))
		if math.IsInf(d2, 0) || math.IsNaN(d2) {
			return distance(a, b) <= t
		}
		if d2 > t2*(1+m) {
			return false
		}
	}
	if d2 < t2*(1-m) {
		return true
	}
	return distance(a, b) <= t
}

// withinChunk is how many values within sums before it looks at the sum so far.
const withinChunk = 256

// Collapser returns a function that hides near-duplicates in result lists (nearest first) at
// the given threshold, reading vectors from src: it keeps what [Collapse] shows, in order, and
// counts what it hides. It has the signature of pinrec/web's Collapser, so a server takes it
// as web.WithNearDuplicates(dupes.Collapser(store, t)), t from [Calibrate]. The function is
// safe for concurrent use when src is.
func Collapser(src VectorSource, threshold float32) func(ctx context.Context, results []pinrec.Result) ([]pinrec.Result, int, error) {
	return func(ctx context.Context, results []pinrec.Result) ([]pinrec.Result, int, error) {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		c, err := Collapse(src, results, threshold)
		if err != nil {
			return nil, 0, err
		}
		return c.Results(0), c.HiddenCount(), nil
	}
}

package main

import (
	"fmt"
	"slices"
	"strings"

	"pinrec"
)

// describeDistances prints, per kind of edit, the distances from copies to their originals
// (min, median, max) and the nearest-neighbour distances of the distinct pictures without
// copies: where a threshold can separate them.
func describeDistances(pics []pic, vecs [][]float32, ix *pinrec.Index) {
	byID := map[string]int{}
	for i, p := range pics {
		byID[p.id] = i
	}
	orig := map[int]int{}
	hasCopy := map[int]bool{}
	for i, p := range pics {
		if p.edit == "" {
			orig[p.group] = i
		} else {
			hasCopy[p.group] = true
		}
	}
	per := map[string][]float64{}
	for i, p := range pics {
		if p.edit != "" {
			per[p.edit] = append(per[p.edit], dist(vecs[i], vecs[orig[p.group]]))
		}
	}
	var alone []float64
	for i, p := range pics {
		if p.edit == "" && !hasCopy[p.group] {
			best := -1.0
			for j := range pics {
				if j != i {
					if d := dist(vecs[i], vecs[j]); best < 0 || d < best {
						best = d
					}
				}
			}
			alone = append(alone, best)
		}
	}
	q := func(v []float64) string {
		slices.Sort(v)
		if len(v) == 0 {
			return "-"
		}
		at := func(f float64) float64 { return v[int(f*float64(len(v)-1))] }
		return fmt.Sprintf("min %.3g  p10 %.3g  median %.3g  p90 %.3g  max %.3g", v[0], at(0.1), at(0.5), at(0.9), v[len(v)-1])
	}
	var b strings.Builder
	for _, e := range edits {
		fmt.Fprintf(&b, "    copy to original, %-16s %s\n", e.name+":", q(per[e.name]))
	}
	fmt.Fprintf(&b, "    nearest neighbour of distinct pictures without copies: %s\n", q(alone))
	fmt.Print(b.String())
}

func dist(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return sqrt(s)
}

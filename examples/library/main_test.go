package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sort"
	"testing"
)

// The program's answer equals a brute-force ranking of the items by Euclidean distance.
func TestRun(t *testing.T) {
	query := []float32{0.9, 0.1, 0}
	type hit struct {
		id string
		d  float64
	}
	var hits []hit
	for _, p := range pins {
		var s float64
		for i, v := range p.Vector {
			s += float64(v-query[i]) * float64(v-query[i])
		}
		hits = append(hits, hit{p.ID, math.Sqrt(s)})
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].d < hits[j].d })
	var want bytes.Buffer
	fmt.Fprintf(&want, "nearest to %v among %d items:\n", query, len(pins))
	for _, h := range hits[:3] {
		fmt.Fprintf(&want, "%-10s %.4f\n", h.id, h.d)
	}
	fmt.Fprintf(&want, "dress most like red-dress: %s\n", "blue-dress") // the only other dress

	var got bytes.Buffer
	if err := run(context.Background(), &got); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("got\n%s\nwant\n%s", got.String(), want.String())
	}
}

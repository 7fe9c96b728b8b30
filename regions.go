package pinrec

import (
	"cmp"
	"errors"
	"fmt"
	"image"
	"math"
	"slices"
)

// FeatureMap is the output of the network's last convolutional block for one image, before
// the average pooling that makes the image's embedding: H x W cells of C channels (7x7x2048 for
// ResNet50 at 224x224). Cell (x, y) channel c is Data[(y*W+x)*C+c]. The mean of all cells is
// the image's embedding, and the mean over a block of cells is a region vector in the same
// space, so one index holds image and region vectors together.
//
// The network sees the whole image squashed to its square input, so cell column x covers the
// source columns [x*SourceW/W, (x+1)*SourceW/W) and likewise for rows: SourceW and SourceH are
// the size in pixels of the image the map was computed from.
type FeatureMap struct {
	H, W, C          int
	Data             []float32
	SourceW, SourceH int
}

// ErrBadFeatureMap is returned (wrapped) for a FeatureMap whose sizes do not fit its data.
var ErrBadFeatureMap = errors.New("pinrec: bad feature map")

func (f FeatureMap) check() error {
	if f.H < 1 || f.W < 1 || f.C < 1 || len(f.Data) != f.H*f.W*f.C || f.SourceW < 1 || f.SourceH < 1 {
		return fmt.Errorf("%w: %dx%dx%d cells, %d values, source %dx%d", ErrBadFeatureMap, f.H, f.W, f.C, len(f.Data), f.SourceW, f.SourceH)
	}
	return nil
}

// Pool returns the mean of the cells in cells (a rectangle of cell coordinates, clipped to the
// map), C floats. An empty rectangle gives nil.
func (f FeatureMap) Pool(cells image.Rectangle) []float32 {
	cells = cells.Intersect(image.Rect(0, 0, f.W, f.H))
	if cells.Empty() {
		return nil
	}
	sum := make([]float64, f.C)
	for y := cells.Min.Y; y < cells.Max.Y; y++ {
		for x := cells.Min.X; x < cells.Max.X; x++ {
			cell := f.Data[(y*f.W+x)*f.C : (y*f.W+x+1)*f.C]
			for c, v := range cell {
				sum[c] += float64(v)
			}
		}
	}
	n := float64(cells.Dx() * cells.Dy())
	out := make([]float32, f.C)
	for c, s := range sum {
		out[c] = float32(s / n)
	}
	return out
}

// Box returns the source pixels that a rectangle of cells covers.
func (f FeatureMap) Box(cells image.Rectangle) Rect {
	x0 := cells.Min.X * f.SourceW / f.W
	x1 := cells.Max.X * f.SourceW / f.W
	y0 := cells.Min.Y * f.SourceH / f.H
	y1 := cells.Max.Y * f.SourceH / f.H
	return Rect{X: x0, Y: y0, W: x1 - x0, H: y1 - y0}
}

// Cells returns the cells a box of source pixels stands for: those whose centre lies in the box,
// or, for a box smaller than a cell, the cell holding the box's centre. The box is clipped to
// the source image; a box wholly outside it gives an empty rectangle.
func (f FeatureMap) Cells(box Rect) image.Rectangle {
	src := image.Rect(0, 0, f.SourceW, f.SourceH)
	b := image.Rect(box.X, box.Y, box.X+box.W, box.Y+box.H).Intersect(src)
	if b.Empty() {
		return image.Rectangle{}
	}
	// Cell i's centre is at (i+0.5)*S/N; it lies in [a, b) when i >= a*N/S-0.5 and i < b*N/S-0.5.
	span := func(a, b, s, n int) (int, int) {
		lo := int(math.Ceil(float64(a)*float64(n)/float64(s) - 0.5))
		hi := int(math.Ceil(float64(b)*float64(n)/float64(s) - 0.5))
		lo, hi = max(lo, 0), min(hi, n)
		if hi <= lo {
			c := int(float64(a+b) / 2 * float64(n) / float64(s))
			c = min(max(c, 0), n-1)
			lo, hi = c, c+1
		}
		return lo, hi
	}
	x0, x1 := span(b.Min.X, b.Max.X, f.SourceW, f.W)
	y0, y1 := span(b.Min.Y, b.Max.Y, f.SourceH, f.H)
	return image.Rect(x0, y0, x1, y1)
}

// Region is one part of an image: its box in source pixels and its vector (the feature map
// pooled over the box's cells, in the space of image embeddings).
type Region struct {
	Box    Rect
	Vector []float32
}

// RegionProposer proposes the parts of an image worth indexing as region items. img is the
// decoded, upright image; fm is its feature map (SourceW x SourceH is img's size). Propose
// returns boxes in img's pixels (origin at its top-left corner), best first; [Regions] keeps
// the first ones, drops those that stand for the same feature-map cells as an earlier box or
// as the whole image, and pools each kept box's cells into its vector.
//
// A detector a user brings (a SavedModel run through its own session, or any function
// returning boxes) plugs in here, wrapped in a [ProposerFunc]; the built-in proposals
// ([DefaultProposer]) are the default. Proposers may be called from several goroutines at
// once and must be safe for concurrent use.
type RegionProposer interface {
	Propose(img image.Image, fm FeatureMap) ([]Rect, error)
}

// ProposerFunc adapts a function to a [RegionProposer].
type ProposerFunc func(img image.Image, fm FeatureMap) ([]Rect, error)

// Propose calls p.
func (p ProposerFunc) Propose(img image.Image, fm FeatureMap) ([]Rect, error) { return p(img, fm) }

// DefaultProposer returns the built-in proposals, which need nothing but the feature map: the
// SCDA main-object box ([SCDAProposer]) first, then R-MAC regions ([RMACProposer]) in order of
// their activation mass.
func DefaultProposer() RegionProposer { return defaultProposer{} }

type defaultProposer struct{}

func (defaultProposer) Propose(img image.Image, fm FeatureMap) ([]Rect, error) {
	a, err := SCDAProposer{}.Propose(img, fm)
	if err != nil {
		return nil, err
	}
	b, err := RMACProposer{}.Propose(img, fm)
	if err != nil {
		return nil, err
	}
	return append(a, b...), nil
}

// RMACProposer proposes the regions of R-MAC (Tolias et al., "Particular object retrieval with
// integral max-pooling of CNN activations", 2016) on the feature map's grid: at level l = 2..
// Levels+1, square regions of side about 2*min(H, W)/(l+1) cells, l per side, spread evenly
// with overlap (level 1, the whole map, is the image itself and is left out). Regions come in
// order of their activation mass per cell (the sum of the map over the region's cells and
// channels, divided by its cells), highest first. The zero value uses Levels 3 (4+9+16
// regions on a 7x7 map before duplicates).
type RMACProposer struct {
	Levels int
}

// Propose implements [RegionProposer].
func (p RMACProposer) Propose(_ image.Image, fm FeatureMap) ([]Rect, error) {
	if err := fm.check(); err != nil {
		return nil, err
	}
	levels := p.Levels
	if levels <= 0 {
		levels = 3
	}
	mass := fm.mass()
	type cand struct {
		cells image.Rectangle
		score float64
	}
	var cands []cand
	side := min(fm.H, fm.W)
	for l := 2; l <= levels+1; l++ {
		s := max(int(math.Round(2*float64(side)/float64(l+1))), 1)
		xs := spread(fm.W, s, l)
		ys := spread(fm.H, s, l)
		for _, y := range ys {
			for _, x := range xs {
				c := image.Rect(x, y, x+s, y+s)
				cands = append(cands, cand{c, mass.mean(c)})
			}
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(b.score, a.score) })
	out := make([]Rect, len(cands))
	for i, c := range cands {
		out[i] = fm.Box(c.cells)
	}
	return out, nil
}

// spread returns n starts of windows of side s evenly over [0, length) (at least one, and all
// distinct).
func spread(length, s, n int) []int {
	if s >= length || n <= 1 {
		return []int{max((length-s)/2, 0)}
	}
	var out []int
	for i := range n {
		x := int(math.Round(float64(i) * float64(length-s) / float64(n-1)))
		if len(out) == 0 || out[len(out)-1] != x {
			out = append(out, x)
		}
	}
	return out
}

// SCDAProposer proposes the main-object box of SCDA (Wei et al., "Selective Convolutional
// Descriptor Aggregation for Fine-Grained Image Retrieval", 2017): the cells whose activation
// mass (sum over channels) is above the mean of all cells, the largest 4-connected component
// of them, and its bounding box. It proposes nothing when that box is the whole map.
type SCDAProposer struct{}

// Propose implements [RegionProposer].
func (SCDAProposer) Propose(_ image.Image, fm FeatureMap) ([]Rect, error) {
	if err := fm.check(); err != nil {
		return nil, err
	}
	box, ok := fm.mass().mainObject()
	if !ok || box == image.Rect(0, 0, fm.W, fm.H) {
		return nil, nil
	}
	return []Rect{fm.Box(box)}, nil
}

// massMap is the sum over channels of each cell.
type massMap struct {
	w, h int
	v    []float64
}

func (f FeatureMap) mass() massMap {
	m := massMap{w: f.W, h: f.H, v: make([]float64, f.W*f.H)}
	for i := range m.v {
		var s float64
		for _, x := range f.Data[i*f.C : (i+1)*f.C] {
			s += float64(x)
		}
		m.v[i] = s
	}
	return m
}

func (m massMap) mean(c image.Rectangle) float64 {
	var s float64
	for y := c.Min.Y; y < c.Max.Y; y++ {
		for x := c.Min.X; x < c.Max.X; x++ {
			s += m.v[y*m.w+x]
		}
	}
	return s / float64(c.Dx()*c.Dy())
}

// mainObject returns the bounding box of the largest 4-connected component of the cells above
// the mean (ties: the first found in row order).
func (m massMap) mainObject() (image.Rectangle, bool) {
	var mean float64
	for _, v := range m.v {
		mean += v
	}
	mean /= float64(len(m.v))
	label := make([]int, len(m.v))
	var best image.Rectangle
	bestN, next := 0, 0
	stack := []int{}
	for i, v := range m.v {
		if v <= mean || label[i] != 0 {
			continue
		}
		next++
		label[i] = next
		stack = append(stack[:0], i)
		n := 0
		box := image.Rect(i%m.w, i/m.w, i%m.w+1, i/m.w+1)
		for len(stack) > 0 {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			n++
			x, y := j%m.w, j/m.w
			box = box.Union(image.Rect(x, y, x+1, y+1))
			for _, d := range [4][2]int{{-1, 0}, {1, 0}, {0, -1}, {0, 1}} {
				nx, ny := x+d[0], y+d[1]
				if nx < 0 || ny < 0 || nx >= m.w || ny >= m.h {
					continue
				}
				k := ny*m.w + nx
				if label[k] == 0 && m.v[k] > mean {
					label[k] = next
					stack = append(stack, k)
				}
			}
		}
		if n > bestN {
			best, bestN = box, n
		}
	}
	return best, bestN > 0
}

// Regions turns proposed boxes into up to n regions of an image: each box is clipped to the
// image, mapped to the feature-map cells it stands for ([FeatureMap.Cells]) and pooled over them.
// Boxes outside the image, and boxes whose cells are those of an earlier box or of the whole
// map (the image's own vector), are dropped. With prop nil it uses [DefaultProposer]. A box
// kept from prop is recorded as given (clipped to the image), not rounded to the cells.
func Regions(img image.Image, fm FeatureMap, n int, prop RegionProposer) ([]Region, error) {
	if err := fm.check(); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	if prop == nil {
		prop = DefaultProposer()
	}
	boxes, err := prop.Propose(img, fm)
	if err != nil {
		return nil, fmt.Errorf("propose regions: %w", err)
	}
	whole := image.Rect(0, 0, fm.W, fm.H)
	src := image.Rect(0, 0, fm.SourceW, fm.SourceH)
	seen := map[image.Rectangle]bool{whole: true}
	var out []Rect
	var cells []image.Rectangle
	for _, b := range boxes {
		if len(out) == n {
			break
		}
		clipped := image.Rect(b.X, b.Y, b.X+b.W, b.Y+b.H).Intersect(src)
		if b.W < 1 || b.H < 1 || clipped.Empty() {
			continue
		}
		box := Rect{X: clipped.Min.X, Y: clipped.Min.Y, W: clipped.Dx(), H: clipped.Dy()}
		c := fm.Cells(box)
		if c.Empty() || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, box)
		cells = append(cells, c)
	}
	regions := make([]Region, len(out))
	for i, box := range out {
		regions[i] = Region{Box: box, Vector: fm.Pool(cells[i])}
	}
	return regions, nil
}

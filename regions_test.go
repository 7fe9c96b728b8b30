package pinrec

import (
	"cmp"
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegionRectParseAndIn(t *testing.T) {
	good, err := ParseRect(" 3, 4,5 ,6")
	require.NoError(t, err)
	assert.Equal(t, Rect{X: 3, Y: 4, W: 5, H: 6}, good)
	assert.Equal(t, "3,4,5,6", good.String())
	for _, tc := range []struct{ name, in string }{
		{"three numbers", "1,2,3"},
		{"five numbers", "1,2,3,4,5"},
		{"not a number", "1,2,x,4"},
		{"empty width", "1,2,0,4"},
		{"negative height", "1,2,3,-4"},
		{"negative corner", "-1,2,3,4"},
		{"empty string", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRect(tc.in)
			assert.ErrorIs(t, err, ErrBadRect)
		})
	}
	for _, tc := range []struct {
		name string
		r    Rect
		ok   bool
	}{
		{"whole", Rect{0, 0, 10, 8}, true},
		{"inside", Rect{2, 3, 4, 5}, true},
		{"one pixel at the far corner", Rect{9, 7, 1, 1}, true},
		{"past the right edge", Rect{5, 0, 6, 8}, false},
		{"past the bottom edge", Rect{0, 1, 10, 8}, false},
		{"wholly outside", Rect{20, 20, 2, 2}, false},
		{"empty", Rect{1, 1, 0, 3}, false},
		{"negative size", Rect{1, 1, 3, -3}, false},
		{"negative corner", Rect{-1, 0, 3, 3}, false},
		{"overflowing", Rect{math.MaxInt - 1, 0, math.MaxInt, 3}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.In(10, 8)
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrBadRect)
			}
		})
	}
}

// testRGBA returns a deterministic w x h image.
func testRGBA(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 3))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	return img
}

// decodedRGB is the whole image as the package converts it to RGB (every row through
// rowReader), as an RGBA image: what a lossless file of the decoded image holds.
func decodedRGB(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	row := make([]uint8, 3*b.Dx())
	read := rowReader(img, b)
	for y := range b.Dy() {
		read(row, y)
		for x := range b.Dx() {
			out.SetRGBA(x, y, color.RGBA{row[3*x], row[3*x+1], row[3*x+2], 255})
		}
	}
	return out
}

// copyRect copies the part r of img into a new image with origin (0, 0).
func copyRect(img *image.RGBA, r Rect) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, r.W, r.H))
	for y := range r.H {
		for x := range r.W {
			out.SetRGBA(x, y, img.RGBAAt(img.Rect.Min.X+r.X+x, img.Rect.Min.Y+r.Y+y))
		}
	}
	return out
}

// TestRegionCropPreprocess: preprocessing a Crop view equals preprocessing a copy of the crop's
// pixels from the whole decoded image (for Y'CbCr, with the chroma around the crop used as a
// decoder of the whole image uses it), for several image types and rectangles at odd offsets.
func TestRegionCropPreprocess(t *testing.T) {
	rgba := testRGBA(101, 77, 1)
	ycc := image.NewYCbCr(image.Rect(0, 0, 101, 77), image.YCbCrSubsampleRatio420)
	r := rand.New(rand.NewPCG(5, 5))
	for _, p := range [][]uint8{ycc.Y, ycc.Cb, ycc.Cr} {
		for i := range p {
			p[i] = uint8(r.IntN(256))
		}
	}
	gray := image.NewGray(image.Rect(0, 0, 101, 77))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
	}
	offset := testRGBA(60, 50, 2)
	offset.Rect = image.Rect(10, 20, 70, 70) // bounds not at the origin
	offset.Pix = offset.Pix[:len(offset.Pix)]
	imgs := []struct {
		name string
		img  image.Image
	}{{"rgba", rgba}, {"ycbcr420", ycc}, {"gray", gray}, {"offset", offset}}
	rects := []Rect{{0, 0, 30, 20}, {13, 7, 33, 41}, {1, 1, 1, 1}, {31, 17, 29, 33}}
	for _, im := range imgs {
		full := decodedRGB(im.img)
		for _, rc := range rects {
			t.Run(fmt.Sprintf("%s/%v", im.name, rc), func(t *testing.T) {
				c, err := Crop(im.img, rc)
				require.NoError(t, err)
				assert.Equal(t, rc.W, c.Bounds().Dx())
				assert.Equal(t, rc.H, c.Bounds().Dy())
				got := Preprocess(c, 32, ModeCaffe)
				want := Preprocess(copyRect(full, rc), 32, ModeCaffe)
				assert.Equal(t, want, got)
			})
		}
	}
	_, err := Crop(rgba, Rect{90, 0, 20, 5})
	assert.ErrorIs(t, err, ErrBadRect)
	_, err = Crop(rgba, Rect{0, 0, 0, 5})
	assert.ErrorIs(t, err, ErrBadRect)
}

// testFeatureMap returns an h x w x c map of values from a fixed seed for a source image of
// sw x sh pixels.
func testFeatureMap(h, w, c, sw, sh int, seed uint64) FeatureMap {
	r := rand.New(rand.NewPCG(seed, 9))
	d := make([]float32, h*w*c)
	for i := range d {
		d[i] = float32(r.Float64())
	}
	return FeatureMap{H: h, W: w, C: c, Data: d, SourceW: sw, SourceH: sh}
}

func TestRegionFeatureMapCells(t *testing.T) {
	fm := testFeatureMap(7, 7, 3, 700, 350, 1)
	// Box and Cells are inverse on cell rectangles.
	for y0 := range 7 {
		for y1 := y0 + 1; y1 <= 7; y1++ {
			for x0 := range 7 {
				for x1 := x0 + 1; x1 <= 7; x1++ {
					c := image.Rect(x0, y0, x1, y1)
					require.Equal(t, c, fm.Cells(fm.Box(c)), "cells %v box %v", c, fm.Box(c))
				}
			}
		}
	}
	assert.Equal(t, Rect{100, 50, 200, 100}, fm.Box(image.Rect(1, 1, 3, 3)))
	// A box smaller than a cell stands for the cell holding its centre.
	assert.Equal(t, image.Rect(3, 2, 4, 3), fm.Cells(Rect{X: 340, Y: 120, W: 10, H: 5}))
	// Clipped to the image; outside is empty.
	assert.Equal(t, image.Rect(5, 5, 7, 7), fm.Cells(Rect{X: 500, Y: 250, W: 900, H: 900}))
	assert.True(t, fm.Cells(Rect{X: 800, Y: 0, W: 10, H: 10}).Empty())

	// Pool is the mean of the cells, computed here cell by cell.
	c := image.Rect(2, 1, 5, 4)
	got := fm.Pool(c)
	for ch := range 3 {
		var s float64
		for y := 1; y < 4; y++ {
			for x := 2; x < 5; x++ {
				s += float64(fm.Data[(y*7+x)*3+ch])
			}
		}
		assert.InDelta(t, s/9, got[ch], 1e-6)
	}
	assert.Nil(t, fm.Pool(image.Rect(7, 7, 9, 9)))
}

func TestRegionProposers(t *testing.T) {
	// A map whose mass is high on a 3x2 blob at cells x 1..3, y 4..5, and on one lone cell.
	fm := FeatureMap{H: 7, W: 7, C: 2, Data: make([]float32, 7*7*2), SourceW: 70, SourceH: 70}
	set := func(x, y int, v float32) { fm.Data[(y*7+x)*2], fm.Data[(y*7+x)*2+1] = v, v }
	for y := 4; y < 6; y++ {
		for x := 1; x < 4; x++ {
			set(x, y, 5)
		}
	}
	set(6, 0, 9)
	boxes, err := SCDAProposer{}.Propose(nil, fm)
	require.NoError(t, err)
	assert.Equal(t, []Rect{{10, 40, 30, 20}}, boxes)

	// R-MAC on 7x7, 3 levels: sides 5, 4 and 3 cells, 2x2 + 3x3 + 4x4 windows, some at the same
	// place; ranked by mass per cell.
	rm, err := RMACProposer{}.Propose(nil, fm)
	require.NoError(t, err)
	assert.Len(t, rm, 4+9+16)
	m := fm.mass()
	for i := 1; i < len(rm); i++ {
		assert.GreaterOrEqual(t, m.mean(fm.Cells(rm[i-1])), m.mean(fm.Cells(rm[i])), "order at %d", i)
	}
	for _, b := range rm {
		c := fm.Cells(b)
		assert.Contains(t, []int{5, 4, 3}, c.Dx(), "%v", b)
		assert.Equal(t, c.Dx(), c.Dy())
	}

	// Regions: SCDA first, duplicates and the whole image dropped, at most n.
	regs, err := Regions(nil, fm, 100, nil)
	require.NoError(t, err)
	assert.Equal(t, Rect{10, 40, 30, 20}, regs[0].Box)
	seen := map[image.Rectangle]bool{}
	for _, r := range regs {
		c := fm.Cells(r.Box)
		assert.False(t, seen[c], "duplicate %v", c)
		assert.NotEqual(t, image.Rect(0, 0, 7, 7), c)
		seen[c] = true
		assert.Equal(t, fm.Pool(c), r.Vector)
	}
	few, err := Regions(nil, fm, 3, nil)
	require.NoError(t, err)
	assert.Equal(t, regs[:3], few)
	none, err := Regions(nil, fm, 0, nil)
	require.NoError(t, err)
	assert.Empty(t, none)

	_, err = Regions(nil, FeatureMap{H: 7, W: 7, C: 2}, 3, nil)
	assert.ErrorIs(t, err, ErrBadFeatureMap)
	boom := fmt.Errorf("detector down")
	_, err = Regions(nil, fm, 3, ProposerFunc(func(image.Image, FeatureMap) ([]Rect, error) { return nil, boom }))
	assert.ErrorIs(t, err, boom)
}

// pinIndex builds an index of n pins with random vectors, each with 0..maxRegions region items
// made through PutPin.
func pinIndex(t *testing.T, n, maxRegions, dim int, seed uint64) (*Index, map[string][]Region) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	vec := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	ix, err := NewIndex(dim)
	require.NoError(t, err)
	regions := map[string][]Region{}
	for i := range n {
		id := fmt.Sprintf("pin%03d.jpg", i)
		regs := make([]Region, r.IntN(maxRegions+1))
		for j := range regs {
			regs[j] = Region{Box: Rect{j, 2 * j, 10 + j, 20 + i}, Vector: vec()}
		}
		regions[id] = regs
		meta := map[string]string{"path": "/pins/" + id, "group": strconv.Itoa(i % 3)}
		require.NoError(t, PutPin(ix, Item{ID: id, Vector: vec(), Meta: meta}, regs))
	}
	return ix, regions
}

func TestRegionBookkeeping(t *testing.T) {
	ix, regions := pinIndex(t, 30, 4, 8, 1)
	total := 0
	for _, r := range regions {
		total += 1 + len(r)
	}
	require.Equal(t, total, ix.Len())

	check := func(t *testing.T, ix *Index, regions map[string][]Region) {
		t.Helper()
		n := 0
		for id, regs := range regions {
			require.True(t, ix.Has(id), id)
			n += 1 + len(regs)
			ids := RegionIDs(ix, id)
			require.Len(t, ids, len(regs), id)
			for j, reg := range regs {
				it, err := ix.Get(RegionID(id, j))
				require.NoError(t, err)
				assert.Equal(t, reg.Vector, it.Vector)
				assert.Equal(t, KindRegion, it.Meta[MetaKind])
				assert.Equal(t, id, it.Meta[MetaParent])
				assert.Equal(t, reg.Box.String(), it.Meta[MetaBox])
				assert.Equal(t, "/pins/"+id, it.Meta["path"], "the parent's metadata is copied")
			}
		}
		assert.Equal(t, n, ix.Len())
	}
	check(t, ix, regions)

	// Re-indexing a pin with fewer regions, and with none, leaves none of the old ones.
	var withMany, withSome string
	for id, regs := range regions {
		if len(regs) == 4 && withMany == "" {
			withMany = id
		} else if len(regs) >= 2 && withSome == "" {
			withSome = id
		}
	}
	require.NotEmpty(t, withMany)
	require.NotEmpty(t, withSome)
	regions[withMany] = regions[withMany][:1]
	require.NoError(t, PutPin(ix, Item{ID: withMany, Vector: make([]float32, 8), Meta: map[string]string{"path": "/pins/" + withMany}}, regions[withMany]))
	regions[withSome] = nil
	require.NoError(t, PutPin(ix, Item{ID: withSome, Vector: make([]float32, 8), Meta: map[string]string{"path": "/pins/" + withSome}}, nil))
	check(t, ix, regions)

	// Removing pins removes their regions; unknown IDs are passed over.
	var gone []string
	for id := range regions {
		if len(gone) < 5 {
			gone = append(gone, id)
		}
	}
	require.NoError(t, RemovePins(ix, append(gone, "no-such-pin")...))
	for _, id := range gone {
		assert.False(t, ix.Has(id))
		assert.False(t, ix.Has(RegionID(id, 0)))
		delete(regions, id)
	}
	check(t, ix, regions)

	// Save and Load keep region items as they are.
	path := filepath.Join(t.TempDir(), "pins.idx")
	require.NoError(t, ix.Save(path))
	loaded, err := Load(path)
	require.NoError(t, err)
	check(t, loaded, regions)
	assert.ElementsMatch(t, RegionIDs(ix), RegionIDs(loaded))

	// A pin whose own ID has a region item's form is not taken for one.
	require.NoError(t, loaded.Add(Item{ID: "odd#r7", Vector: make([]float32, 8)}, Item{ID: "odd", Vector: make([]float32, 8)}))
	assert.Empty(t, RegionIDs(loaded, "odd"))
	require.NoError(t, RemovePins(loaded, "odd"))
	assert.True(t, loaded.Has("odd#r7"))
}

// collapseOracle computes, by brute force, every pin's least distance over its vector and its
// regions' (those passing keep), and returns the k nearest pins with the box of their best hit.
func collapseOracle(ix *Index, q []float32, k int, skip string, keep func(meta map[string]string) bool) []Result {
	type best struct {
		d     float64
		order int
		box   *Rect
	}
	pins := map[string]*best{}
	for order, id := range ix.IDs() {
		it, _ := ix.Get(id)
		if keep != nil && !keep(it.Meta) {
			continue
		}
		var s float64
		for i, v := range it.Vector {
			d := float64(v) - float64(q[i])
			s += d * d
		}
		pin, box := id, (*Rect)(nil)
		if p, ok := IsRegion(it.Meta); ok {
			b, _ := ParseRect(it.Meta[MetaBox])
			pin, box = p, &b
		}
		if pin == skip {
			continue
		}
		if cur := pins[pin]; cur == nil || s < cur.d {
			pins[pin] = &best{s, order, box}
		}
	}
	var out []Result
	for id, b := range pins {
		out = append(out, Result{ID: id, Distance: float32(math.Sqrt(b.d)), Region: b.box})
	}
	slices.SortFunc(out, func(a, b Result) int { return cmp.Compare(pins[a.ID].d, pins[b.ID].d) })
	return out[:min(k, len(out))]
}

func TestRegionCollapseMatchesOracle(t *testing.T) {
	ix, regions := pinIndex(t, 60, 6, 16, 2)
	// SimilarPins searches unfiltered for a pin without regions: both kinds are asked.
	withRegions, without := 0, 0
	for qi := range 25 {
		if len(regions[fmt.Sprintf("pin%03d.jpg", (qi*7)%60)]) > 0 {
			withRegions++
		} else {
			without++
		}
	}
	require.Positive(t, withRegions)
	require.Positive(t, without)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 3))
	keepGroup := func(meta map[string]string) bool { return meta["group"] != "1" }
	for qi := range 25 {
		q := make([]float32, 16)
		for i := range q {
			q[i] = float32(r.NormFloat64())
		}
		for _, k := range []int{1, 3, 10, 45, 100} {
			t.Run(fmt.Sprintf("q%d/k%d", qi, k), func(t *testing.T) {
				check := func(got, want []Result) {
					require.Len(t, got, len(want))
					for i := range want {
						assert.Equal(t, want[i].ID, got[i].ID, "rank %d", i)
						assert.InDelta(t, want[i].Distance, got[i].Distance, 1e-4)
						assert.Equal(t, want[i].Region, got[i].Region, "rank %d", i)
						assert.NotContains(t, got[i].Meta, MetaKind)
						assert.NotContains(t, got[i].Meta, MetaParent)
						assert.Equal(t, "/pins/"+got[i].ID, got[i].Meta["path"])
					}
				}
				got, err := SearchPins(ctx, ix, q, k)
				require.NoError(t, err)
				check(got, collapseOracle(ix, q, k, "", nil))

				got, err = SearchPins(ctx, ix, q, k, WithMeta("group", "0", "2"))
				require.NoError(t, err)
				check(got, collapseOracle(ix, q, k, "", keepGroup))

				sim := fmt.Sprintf("pin%03d.jpg", (qi*7)%60)
				it, err := ix.Get(sim)
				require.NoError(t, err)
				got, err = SimilarPins(ctx, ix, sim, k)
				require.NoError(t, err)
				check(got, collapseOracle(ix, it.Vector, k, sim, nil))
			})
		}
	}
	_, err := SearchPins(ctx, ix, make([]float32, 16), 0)
	assert.ErrorIs(t, err, ErrBadK)
}

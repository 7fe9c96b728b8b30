package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

// regionsOf returns, per pin of the index file, its region items' boxes and vectors.
func regionsOf(t *testing.T, indexPath string) (pins map[string][]float32, regions map[string][]pinrec.Region) {
	t.Helper()
	ix, err := pinrec.Load(indexPath)
	require.NoError(t, err)
	defer ix.Close()
	pins, regions = map[string][]float32{}, map[string][]pinrec.Region{}
	for _, id := range ix.IDs() {
		it, err := ix.Get(id)
		require.NoError(t, err)
		if p, ok := pinrec.IsRegion(it.Meta); ok {
			box, err := pinrec.ParseRect(it.Meta[pinrec.MetaBox])
			require.NoError(t, err)
			require.Equal(t, pinrec.RegionID(p, len(regions[p])), id, "region items are numbered in order")
			regions[p] = append(regions[p], pinrec.Region{Box: box, Vector: it.Vector})
			continue
		}
		pins[id] = it.Vector
	}
	for p := range regions {
		require.Contains(t, pins, p, "region items of a pin that is not there")
	}
	return pins, regions
}

func TestCLIRegionsIndexSync(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pins")
	indexPath := filepath.Join(t.TempDir(), "regions.pinrec")
	for i := range 4 {
		writeSynthetic(t, filepath.Join(dir, fmt.Sprintf("%d.png", i)), classColors["blue"], uint64(300+i))
	}
	r := cli(t, "", "index", "-model", modelDir, "-index", indexPath, "-regions", "3", dir)
	require.Equal(t, 0, r.code, r.stderr)
	indexed, unchanged, removed, skipped := summary(t, r.stdout)
	require.Equal(t, []int{4, 0, 0, 0}, []int{indexed, unchanged, removed, skipped})
	pins, regions := regionsOf(t, indexPath)
	require.Len(t, pins, 4)
	for id := range pins {
		require.NotEmpty(t, regions[id], id)
		assert.LessOrEqual(t, len(regions[id]), 3)
		for _, reg := range regions[id] {
			assert.NoError(t, reg.Box.In(48, 48), "%s box %v inside the 48x48 image", id, reg.Box)
		}
	}

	// Change one (new content and time), delete one: the changed pin's regions are replaced, the
	// deleted pin's are gone, the others' stay as they were.
	changed := filepath.Join(dir, "1.png")
	writeSynthetic(t, changed, classColors["red"], 399)
	later := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(changed, later, later))
	require.NoError(t, os.Remove(filepath.Join(dir, "3.png")))
	r = cli(t, "", "index", "-model", modelDir, "-index", indexPath, "-regions", "3", dir)
	require.Equal(t, 0, r.code, r.stderr)
	indexed, unchanged, removed, skipped = summary(t, r.stdout)
	assert.Equal(t, []int{1, 2, 1, 0}, []int{indexed, unchanged, removed, skipped})
	pins2, regions2 := regionsOf(t, indexPath)
	assert.ElementsMatch(t, []string{"0.png", "1.png", "2.png"}, keys(pins2))
	assert.NotContains(t, regions2, "3.png")
	for _, id := range []string{"0.png", "2.png"} {
		assert.Equal(t, regions[id], regions2[id], id)
	}
	require.NotEmpty(t, regions2["1.png"])
	assert.NotEqual(t, regions["1.png"][0].Vector, regions2["1.png"][0].Vector)

	// Another -regions re-embeds everything; -regions 0 leaves no region items.
	r = cli(t, "", "index", "-model", modelDir, "-index", indexPath, dir)
	require.Equal(t, 0, r.code, r.stderr)
	indexed, unchanged, removed, skipped = summary(t, r.stdout)
	assert.Equal(t, []int{3, 0, 0, 0}, []int{indexed, unchanged, removed, skipped})
	pins3, regions3 := regionsOf(t, indexPath)
	assert.Len(t, pins3, 3)
	assert.Empty(t, regions3)

	r = cli(t, "", "index", "-embedding", "pixels", "-index", filepath.Join(t.TempDir(), "px.pinrec"), "-regions", "2", dir)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "-regions needs -embedding model")
}

// jsonAnswer is query/similar -json as a client reads it.
type jsonAnswer struct {
	Query   string       `json:"query"`
	Crop    *pinrec.Rect `json:"crop"`
	Results []struct {
		Rank     int          `json:"rank"`
		ID       string       `json:"id"`
		Distance float32      `json:"distance"`
		Region   *pinrec.Rect `json:"region"`
	} `json:"results"`
}

func TestCLIRegionsQuery(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pins")
	indexPath := filepath.Join(t.TempDir(), "regions.pinrec")
	for i := range 6 {
		writeSynthetic(t, filepath.Join(dir, fmt.Sprintf("%d.png", i)), classColors[[]string{"red", "green", "blue"}[i%3]], uint64(500+i))
	}
	r := cli(t, "", "index", "-model", modelDir, "-index", indexPath, "-regions", "4", dir)
	require.Equal(t, 0, r.code, r.stderr)
	pins, regions := regionsOf(t, indexPath)

	// similar -json against a brute-force oracle: each pin once, at its nearest vector (its own
	// or a region's), the query pin and its regions left out, the best region's box reported.
	r = cli(t, "", "similar", "-index", indexPath, "-k", "4", "-json", "0.png")
	require.Equal(t, 0, r.code, r.stderr)
	var ans jsonAnswer
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ans), r.stdout)
	type hit struct {
		id  string
		d   float64
		box *pinrec.Rect
	}
	var want []hit
	q := pins["0.png"]
	for id, v := range pins {
		if id == "0.png" {
			continue
		}
		h := hit{id, dist(q, v), nil}
		for _, reg := range regions[id] {
			if d := dist(q, reg.Vector); d < h.d {
				h.d, h.box = d, &reg.Box
			}
		}
		want = append(want, h)
	}
	slices.SortFunc(want, func(a, b hit) int { return cmp.Compare(a.d, b.d) })
	require.Len(t, ans.Results, 4)
	for i, res := range ans.Results {
		assert.Equal(t, want[i].id, res.ID, "rank %d", i+1)
		assert.InDelta(t, want[i].d, res.Distance, 1e-3*(1+want[i].d))
		assert.Equal(t, want[i].box, res.Region, "rank %d", i+1)
		assert.False(t, strings.Contains(res.ID, "#r"), "results are pins")
	}
	assert.Contains(t, r.stdout, `"region"`, "some result matched best at a region (random weights, 6 pins)")

	// query -crop: the same results as querying the crop saved as a lossless file.
	img, err := pinrec.DecodeFile(filepath.Join(dir, "2.png"))
	require.NoError(t, err)
	crop := pinrec.Rect{X: 5, Y: 9, W: 30, H: 27}
	cropped := image.NewRGBA(image.Rect(0, 0, crop.W, crop.H))
	draw.Draw(cropped, cropped.Bounds(), img, image.Pt(crop.X, crop.Y), draw.Src)
	cropFile := filepath.Join(t.TempDir(), "crop.png")
	f, err := os.Create(cropFile)
	require.NoError(t, err)
	require.NoError(t, png.Encode(f, cropped))
	require.NoError(t, f.Close())
	grid := filepath.Join(t.TempDir(), "grid.png")
	r = cli(t, "", "query", "-index", indexPath, "-k", "3", "-json", "-grid", grid, "-crop", crop.String(), filepath.Join(dir, "2.png"))
	require.Equal(t, 0, r.code, r.stderr)
	var got jsonAnswer
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), r.stdout)
	assert.Equal(t, &crop, got.Crop)
	r = cli(t, "", "query", "-index", indexPath, "-k", "3", "-json", cropFile)
	require.Equal(t, 0, r.code, r.stderr)
	var ref jsonAnswer
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ref), r.stdout)
	require.Len(t, got.Results, 3)
	for i := range ref.Results {
		assert.Equal(t, ref.Results[i].ID, got.Results[i].ID)
		assert.InDelta(t, ref.Results[i].Distance, got.Results[i].Distance, 1e-3)
		assert.Equal(t, ref.Results[i].Region, got.Results[i].Region)
	}
	gf, err := os.Open(grid)
	require.NoError(t, err)
	_, err = png.Decode(gf)
	gf.Close()
	require.NoError(t, err)

	// Bad rectangles: a usage error for the form, a clear error for one outside the image.
	for _, tc := range []struct{ crop, msg string }{
		{"1,2,3", "want x,y,w,h"},
		{"0,0,0,5", "empty"},
		{"-1,0,5,5", "negative"},
		{"40,40,20,20", "outside the 48x48 image"},
	} {
		r = cli(t, "", "query", "-index", indexPath, "-crop", tc.crop, filepath.Join(dir, "2.png"))
		assert.NotEqual(t, 0, r.code, tc.crop)
		assert.Contains(t, r.stderr, tc.msg, tc.crop)
		assert.Contains(t, r.stderr, "bad rectangle", tc.crop)
	}
}

func dist(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
	"pinrec/dupes"
)

// dupesFolder writes 30 distinct synthetic pictures and, of the first, a byte-for-byte copy, a
// copy re-encoded with other PNG settings (same pixels, other bytes) and a slightly brighter
// copy (a near-duplicate), and indexes them with the raw-pixel baseline (deterministic, fast).
func dupesFolder(t *testing.T) (dir, index string) {
	t.Helper()
	base := t.TempDir()
	dir = filepath.Join(base, "pins")
	classes := []string{"red", "green", "blue"}
	for i := range 30 {
		// A colour of its own for each picture: distinct pictures, not variations of three.
		base := color.RGBA{uint8(40 + 67*i%200), uint8(30 + 113*i%200), uint8(20 + 151*i%200), 255}
		writeSynthetic(t, filepath.Join(dir, classes[i%3], "p"+itoa(i)+".png"), base, uint64(100+i))
	}
	orig := filepath.Join(dir, "red", "p00.png")
	b, err := os.ReadFile(orig)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "copies"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "copies", "same-bytes.png"), b, 0o644))
	img := decodePNG(t, orig)
	writePNG(t, filepath.Join(dir, "copies", "same-pixels.png"), img, png.BestCompression)
	bright := image.NewRGBA(img.Bounds())
	for y := range img.Bounds().Dy() {
		for x := range img.Bounds().Dx() {
			r, g, bl, _ := img.At(x, y).RGBA()
			up := func(v uint32) uint8 { return uint8(min(255, v>>8+6)) }
			bright.Pix[bright.PixOffset(x, y)+0] = up(r)
			bright.Pix[bright.PixOffset(x, y)+1] = up(g)
			bright.Pix[bright.PixOffset(x, y)+2] = up(bl)
			bright.Pix[bright.PixOffset(x, y)+3] = 255
		}
	}
	writePNG(t, filepath.Join(dir, "copies", "brighter.png"), bright, png.DefaultCompression)
	index = filepath.Join(base, "pins.idx")
	r := cli(t, "", "index", "-embedding", "pixels", "-index", index, dir)
	require.Equal(t, 0, r.code, r.stderr)
	return dir, index
}

func itoa(i int) string { return fmt.Sprintf("%02d", i) }

func decodePNG(t *testing.T, p string) image.Image {
	t.Helper()
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	return img
}

func writePNG(t *testing.T, p string, img image.Image, level png.CompressionLevel) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, (&png.Encoder{CompressionLevel: level}).Encode(f, img))
	require.NoError(t, f.Close())
}

// bruteGroups is the oracle: every pair of vectors within t, then connected components, as
// sorted ID lists in sorted order.
func bruteGroups(vecs map[string][]float32, t float32) [][]string {
	ids := keys(vecs)
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			r := find(p)
			parent[x] = r
			return r
		}
		return x
	}
	for a := range ids {
		for b := a + 1; b < len(ids); b++ {
			s := 0.0
			for i, x := range vecs[ids[a]] {
				d := float64(x) - float64(vecs[ids[b]][i])
				s += d * d
			}
			if float32(math.Sqrt(s)) <= t {
				parent[find(ids[b])] = find(ids[a])
			}
		}
	}
	byRoot := map[string][]string{}
	for _, id := range ids {
		byRoot[find(id)] = append(byRoot[find(id)], id)
	}
	var out [][]string
	for _, g := range byRoot {
		if len(g) > 1 {
			sort.Strings(g)
			out = append(out, g)
		}
	}
	sort.Slice(out, func(a, b int) bool { return strings.Join(out[a], ",") < strings.Join(out[b], ",") })
	return out
}

// reportGroups is the partition a dupes -json answer describes: near groups, and exact groups
// outside them.
func reportGroups(rep dupes.Report) [][]string {
	var out [][]string
	in := map[string]bool{}
	for _, g := range rep.Near {
		ids := g.IDs()
		for _, id := range ids {
			in[id] = true
		}
		sort.Strings(ids)
		out = append(out, ids)
	}
	for _, g := range rep.Exact {
		if !in[g.Representative] {
			ids := g.IDs()
			sort.Strings(ids)
			out = append(out, ids)
		}
	}
	sort.Slice(out, func(a, b int) bool { return strings.Join(out[a], ",") < strings.Join(out[b], ",") })
	return out
}

func TestCLIDupes(t *testing.T) {
	_, index := dupesFolder(t)
	vecs := loadVectors(t, index)
	require.Len(t, vecs, 33)

	// Given thresholds: the groups are the brute-force components.
	for _, th := range []string{"0", "0.5", "3", "6"} {
		r := cli(t, "", "dupes", "-index", index, "-threshold", th, "-json")
		require.Equal(t, 0, r.code, r.stderr)
		var rep dupes.Report
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), r.stdout)
		f, _ := parseFloat32(th)
		assert.Equal(t, bruteGroups(vecs, f), reportGroups(rep), "threshold %s", th)
		assert.Equal(t, dupes.RuleGiven, rep.Calibration.Rule)
		assert.Equal(t, 33, rep.Items)
	}

	// Through the approximate index (efSearch above the item count: every node visited), the
	// same groups.
	annIndex := filepath.Join(t.TempDir(), "pins.hnsw")
	r := cli(t, "", "build-ann", "-index", index, "-out", annIndex)
	require.Equal(t, 0, r.code, r.stderr)
	r = cli(t, "", "dupes", "-index", annIndex, "-threshold", "3", "-ef", "100", "-json")
	require.Equal(t, 0, r.code, r.stderr)
	var annRep dupes.Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &annRep), r.stdout)
	assert.Equal(t, bruteGroups(vecs, 3), reportGroups(annRep))

	// Calibrated: the brighter copy joins its original; the copies are exact duplicates, the
	// byte-for-byte one as the same bytes; no two distinct pictures share a group.
	r = cli(t, "", "dupes", "-index", index, "-json")
	require.Equal(t, 0, r.code, r.stderr)
	var rep dupes.Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), r.stdout)
	assert.NotEqual(t, dupes.RuleGiven, rep.Calibration.Rule)
	// index recorded the same calibration, which similar and query read.
	ix, err := pinrec.Load(index)
	require.NoError(t, err)
	recorded, err := strconv.ParseFloat(ix.Info()[infoDupesCalibrated], 32)
	require.NoError(t, err)
	assert.Equal(t, rep.Calibration.Threshold, float32(recorded))
	require.Len(t, rep.Near, 1, "%+v", rep)
	assert.ElementsMatch(t, []string{"red/p00.png", "copies/same-bytes.png", "copies/same-pixels.png", "copies/brighter.png"}, rep.Near[0].IDs())
	require.Len(t, rep.Exact, 1)
	reasons := map[string]string{}
	for _, m := range rep.Exact[0].Members {
		reasons[m.ID] = m.Exact
	}
	// The earliest item (index order is lexical) represents an exact group.
	assert.Equal(t, "copies/same-bytes.png", rep.Exact[0].Representative)
	assert.Equal(t, map[string]string{"copies/same-bytes.png": "", "red/p00.png": dupes.SameBytes, "copies/same-pixels.png": dupes.SameVector}, reasons)

	// Text and grid.
	grid := filepath.Join(t.TempDir(), "dupes.png")
	r = cli(t, "", "dupes", "-index", index, "-grid", grid)
	require.Equal(t, 0, r.code, r.stderr)
	out := lines(r.stdout)
	assert.Regexp(t, `^threshold [0-9.e+-]+ \((tail|gap)\): `, out[0])
	assert.Equal(t, "33 items: 1 near-duplicate groups (4 items), 1 exact-duplicate groups (3 items)", out[1])
	assert.Contains(t, r.stdout, "red/p00.png  (same bytes)")
	img := decodePNG(t, grid)
	assert.Equal(t, 2*(thumb+captionH+pad)+pad+footerH, img.Bounds().Dy(), "one row per group")
}

func parseFloat32(s string) (float32, error) {
	f, err := strconv.ParseFloat(s, 32)
	return float32(f), err
}

func TestCLISimilarHidesNearDuplicates(t *testing.T) {
	dir, index := dupesFolder(t)
	// The original's copies are near-duplicates of the query: hidden by default.
	r := cli(t, "", "similar", "-index", index, "-k", "3", "red/p00.png")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "copies/")
	assert.Len(t, lines(r.stdout), 2+3+1)
	assert.Regexp(t, `3 similar hidden \(near-duplicates within [0-9.e+-]+, 3 of them copies of the query\); -dupes show lists them`, r.stdout)

	r = cli(t, "", "similar", "-index", index, "-k", "3", "-json", "red/p00.png")
	require.Equal(t, 0, r.code, r.stderr)
	var ans answer
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ans))
	assert.Equal(t, 3, ans.Hidden)
	checkRanked(t, ans, 3)

	// -dupes show: every result, the copies marked.
	r = cli(t, "", "similar", "-index", index, "-k", "3", "-dupes", "show", "red/p00.png")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "copies/same-bytes.png  (near-duplicate of the query)")
	assert.Contains(t, r.stdout, "copies/brighter.png  (near-duplicate of the query)")

	// A copy as the query image: query hides the indexed copies too.
	r = cli(t, "", "query", "-index", index, "-k", "2", filepath.Join(dir, "copies", "brighter.png"))
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "4 similar hidden")

	r = cli(t, "", "similar", "-index", index, "-dupes", "maybe", "red/p00.png")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, `-dupes "maybe": want hide or show`)

	// index -report-dupes: a new file's duplicates.
	b, err := os.ReadFile(filepath.Join(dir, "green", "p01.png"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "new.png"), b, 0o644))
	r = cli(t, "", "index", "-embedding", "pixels", "-index", index, "-report-dupes", dir)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "exact duplicate (same bytes): new.png = green/p01.png")
	assert.Regexp(t, `duplicates of new files: 1 \(threshold `, r.stdout)
}

func TestCLIDupesBadInput(t *testing.T) {
	_, index := dupesFolder(t)
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"negative threshold", []string{"-index", index, "-threshold", "-1"}, 2, `-threshold "-1": want auto or a distance of 0 or more`},
		{"word threshold", []string{"-index", index, "-threshold", "loose"}, 2, `-threshold "loose"`},
		{"no index", nil, 2, "-index FILE is required"},
		{"k 0", []string{"-index", index, "-k", "0"}, 2, "-k 0: want at least 1"},
		{"missing file", []string{"-index", index + ".nope"}, 1, "nope"},
		{"argument", []string{"-index", index, "extra"}, 2, `unexpected argument "extra"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, "", append([]string{"dupes"}, tc.args...)...)
			assert.Equal(t, tc.code, r.code, r.stderr)
			assert.Contains(t, r.stderr, tc.msg)
		})
	}
}

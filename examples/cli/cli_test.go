package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

// These tests build the pinrec binary once and run it as a user would, with the real model
// (models/resnet50, exported by `make setup`) and TensorFlow. Each test keeps the number of
// embedded images to a few dozen.

var (
	binPath  string // the built binary
	modelDir string // absolute path of the repository's model
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "pinrec-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	binPath = filepath.Join(tmp, "pinrec")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the pinrec binary:", err)
		return 1
	}
	modelDir, err = filepath.Abs(filepath.Join("..", "..", "models", "resnet50"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := os.Stat(filepath.Join(modelDir, "pinrec.json")); err != nil {
		fmt.Fprintln(os.Stderr, "the model is missing (make setup exports it):", err)
		return 1
	}
	return m.Run()
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the binary with args in dir (the test's working directory if "").
func cli(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return runBin(t, dir, append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2"), args...)
}

// runBin runs the binary with args in dir (the test's working directory if "") and exactly the
// environment env plus PINREC_MODEL.
func runBin(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir = dir
	cmd.Env = append(env, "PINREC_MODEL="+modelDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "running %v", args)
		code = ee.ExitCode()
	}
	return result{stdout.String(), stderr.String(), code}
}

// lines splits output into non-empty lines, leaving out TensorFlow's own log lines: the
// TensorFlow library logs a line or two (oneDNN, absl) when it is loaded, before the program
// starts, whatever TF_CPP_MIN_LOG_LEVEL says.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" && !tfLog.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// tfLog matches TensorFlow's (absl's) log lines.
var tfLog = regexp.MustCompile(`^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR|[IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\] )`)

// summary parses index's summary line into its four counts.
func summary(t *testing.T, stdout string) (indexed, unchanged, removed, skipped int) {
	t.Helper()
	for _, l := range lines(stdout) {
		if strings.HasPrefix(l, "indexed ") {
			_, err := fmt.Sscanf(l, "indexed %d, unchanged %d, removed %d, skipped %d:", &indexed, &unchanged, &removed, &skipped)
			require.NoError(t, err, l)
			return
		}
	}
	t.Fatalf("no summary line in %q", stdout)
	return
}

// copyDir copies the files of src (recursively) into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	}))
}

// classColors are the base colours of the synthetic labelled images.
var classColors = map[string]color.RGBA{
	"red":   {200, 40, 40, 255},
	"green": {40, 170, 60, 255},
	"blue":  {40, 60, 200, 255},
}

// writeSynthetic writes a 48x48 PNG: a base colour with a seeded pattern of noise and a
// square, so that every image differs and images of one class look alike.
func writeSynthetic(t *testing.T, p string, base color.RGBA, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	img := image.NewRGBA(image.Rect(0, 0, 48, 48))
	sx, sy := r.IntN(28), r.IntN(28)
	for y := range 48 {
		for x := range 48 {
			c := base
			if x >= sx && x < sx+20 && y >= sy && y < sy+20 {
				c = color.RGBA{255 - base.R/2, 255 - base.G/2, 255 - base.B/2, 255}
			}
			n := func(v uint8) uint8 { return uint8(max(0, min(255, int(v)+r.IntN(61)-30))) }
			img.Set(x, y, color.RGBA{n(c.R), n(c.G), n(c.B), 255})
		}
	}
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, png.Encode(f, img))
	require.NoError(t, f.Close())
}

// labelled is a folder of 3 classes x 4 synthetic images, indexed once with the model and once
// with the pixel baseline, shared by the tests that only read it.
var labelled struct {
	once                sync.Once
	dir, model, pixels  string
	modelRun, pixelsRun result
	query               string // an image of class "blue" that is not in the index
}

func labelledIndex(t *testing.T) (dir, modelIndex, pixelIndex string) {
	t.Helper()
	labelled.once.Do(func() {
		base, err := os.MkdirTemp("", "pinrec-cli-labelled-")
		require.NoError(t, err)
		labelled.dir = filepath.Join(base, "images")
		seed := uint64(1)
		for _, class := range []string{"red", "green", "blue"} {
			for i := range 4 {
				writeSynthetic(t, filepath.Join(labelled.dir, class, fmt.Sprintf("%s-%d.png", class, i)), classColors[class], seed)
				seed++
			}
		}
		labelled.query = filepath.Join(base, "query-blue.png")
		writeSynthetic(t, labelled.query, classColors["blue"], 99)
		labelled.model = filepath.Join(base, "model.pinrec")
		labelled.pixels = filepath.Join(base, "pixels.pinrec")
		labelled.modelRun = cli(t, "", "index", "-model", modelDir, "-index", labelled.model, labelled.dir)
		labelled.pixelsRun = cli(t, "", "index", "-embedding", "pixels", "-index", labelled.pixels, labelled.dir)
	})
	require.Equal(t, 0, labelled.modelRun.code, labelled.modelRun.stderr)
	require.Equal(t, 0, labelled.pixelsRun.code, labelled.pixelsRun.stderr)
	return labelled.dir, labelled.model, labelled.pixels
}

func TestCLIIndexLabelled(t *testing.T) {
	_, modelIndex, pixelIndex := labelledIndex(t)
	for _, run := range []result{labelled.modelRun, labelled.pixelsRun} {
		indexed, unchanged, removed, skipped := summary(t, run.stdout)
		assert.Equal(t, []int{12, 0, 0, 0}, []int{indexed, unchanged, removed, skipped})
	}
	for _, ix := range []string{modelIndex, pixelIndex} {
		r := cli(t, "", "ls", "-index", ix)
		require.Equal(t, 0, r.code, r.stderr)
		var want []string
		for _, class := range []string{"blue", "green", "red"} {
			for i := range 4 {
				want = append(want, fmt.Sprintf("%s/%s-%d.png", class, class, i))
			}
		}
		assert.Equal(t, want, lines(r.stdout), "ls lists IDs relative to the folder, in walk order")
	}
}

// TestCLIIndexBadInput indexes testdata/images: the files under bad/ cannot be used and must
// be reported and skipped; every other one (ok/ and the edge cases of edge/) is indexed.
func TestCLIIndexBadInput(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "images")
	dir := filepath.Join(t.TempDir(), "images")
	copyDir(t, src, dir)
	// Not images to pinrec: passed over without a report.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".hidden.png"), []byte("x"), 0o644))
	var good, bad []string
	require.NoError(t, filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(src, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir() || !slices.Contains(imageExts, strings.ToLower(path.Ext(p))):
		case strings.HasPrefix(rel, "bad/"):
			bad = append(bad, rel)
		default:
			good = append(good, rel)
		}
		return nil
	}))
	// The cases the CLI must survive are all there.
	for _, name := range []string{
		"bad/empty.jpg", "bad/truncated.jpg", "bad/not-an-image.png", "bad/huge-40000x40000.png",
		"bad/huge-40000x40000.jpg", "edge/cmyk.jpg", "edge/rgb16.png", "edge/animated.gif",
		"edge/one-pixel.png", "edge/robe d'été ÿ.jpg",
	} {
		require.Contains(t, append(good, bad...), name)
	}

	indexPath := filepath.Join(t.TempDir(), "bad.pinrec")
	r := cli(t, "", "index", "-model", modelDir, "-index", indexPath, dir)
	require.Equal(t, 0, r.code, "exit status 0 when the index was written, even with skipped files: %s", r.stderr)
	indexed, unchanged, removed, skipped := summary(t, r.stdout)
	assert.Equal(t, []int{len(good), 0, 0, len(bad)}, []int{indexed, unchanged, removed, skipped})

	reports := map[string]string{}
	for _, l := range lines(r.stderr) {
		if rest, ok := strings.CutPrefix(l, "skip "); ok {
			id, why, found := strings.Cut(rest, ": ")
			require.True(t, found, l)
			reports[id] = why
		}
	}
	assert.ElementsMatch(t, bad, keys(reports), "each unusable file is reported once, by its ID")
	for id, want := range map[string]string{
		"bad/empty.jpg":            "pinrec: corrupt image",
		"bad/truncated.jpg":        "pinrec: corrupt image",
		"bad/truncated.png":        "pinrec: corrupt image",
		"bad/not-an-image.png":     "pinrec: unsupported image format",
		"bad/huge-40000x40000.png": "pinrec: image too large",
		"bad/huge-40000x40000.jpg": "pinrec: image too large",
	} {
		assert.Contains(t, reports[id], want, id)
	}

	r = cli(t, "", "ls", "-index", indexPath)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, good, lines(r.stdout), "ls: the usable files, by ID, in walk order")

	// Running it again has nothing to embed and reports the bad files again.
	r = cli(t, "", "index", "-model", modelDir, "-index", indexPath, dir)
	require.Equal(t, 0, r.code, r.stderr)
	indexed, unchanged, removed, skipped = summary(t, r.stdout)
	assert.Equal(t, []int{0, len(good), 0, len(bad)}, []int{indexed, unchanged, removed, skipped})
}

func TestCLIIndexSync(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pins")
	indexPath := filepath.Join(t.TempDir(), "sync.pinrec")
	for i := range 5 {
		writeSynthetic(t, filepath.Join(dir, "a", fmt.Sprintf("%d.png", i)), classColors["red"], uint64(100+i))
	}
	r := cli(t, "", "index", "-model", modelDir, "-index", indexPath, dir)
	require.Equal(t, 0, r.code, r.stderr)
	indexed, unchanged, removed, skipped := summary(t, r.stdout)
	require.Equal(t, []int{5, 0, 0, 0}, []int{indexed, unchanged, removed, skipped})
	before := loadVectors(t, indexPath)

	// Nothing changed: nothing is embedded.
	r = cli(t, "", "index", "-model", modelDir, "-index", indexPath, dir)
	require.Equal(t, 0, r.code, r.stderr)
	indexed, unchanged, removed, skipped = summary(t, r.stdout)
	assert.Equal(t, []int{0, 5, 0, 0}, []int{indexed, unchanged, removed, skipped})

	// Add one, change one, delete one.
	writeSynthetic(t, filepath.Join(dir, "b", "new one.png"), classColors["blue"], 200)
	changed := filepath.Join(dir, "a", "1.png")
	writeSynthetic(t, changed, classColors["green"], 201)
	later := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(changed, later, later))
	require.NoError(t, os.Remove(filepath.Join(dir, "a", "3.png")))
	r = cli(t, "", "index", "-model", modelDir, "-index", indexPath, dir)
	require.Equal(t, 0, r.code, r.stderr)
	indexed, unchanged, removed, skipped = summary(t, r.stdout)
	assert.Equal(t, []int{2, 3, 1, 0}, []int{indexed, unchanged, removed, skipped})
	assert.Contains(t, r.stderr, "2/2 images", "only the new and the changed file went through the model")

	after := loadVectors(t, indexPath)
	assert.ElementsMatch(t, []string{"a/0.png", "a/1.png", "a/2.png", "a/4.png", "b/new one.png"}, keys(after))
	for _, id := range []string{"a/0.png", "a/2.png", "a/4.png"} {
		assert.Equal(t, before[id], after[id], "unchanged %s keeps its vector", id)
	}
	assert.NotEqual(t, before["a/1.png"], after["a/1.png"], "the changed file was embedded again")
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// loadVectors reads an index file with the library: ID -> vector.
func loadVectors(t *testing.T, indexPath string) map[string][]float32 {
	t.Helper()
	ix, err := pinrec.Load(indexPath)
	require.NoError(t, err)
	defer ix.Close()
	out := map[string][]float32{}
	for _, id := range ix.IDs() {
		it, err := ix.Get(id)
		require.NoError(t, err)
		out[id] = it.Vector
	}
	return out
}

func TestCLIIndexInterrupt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pins")
	indexPath := filepath.Join(t.TempDir(), "int.pinrec")
	for i := range 12 {
		writeSynthetic(t, filepath.Join(dir, fmt.Sprintf("%02d.png", i)), classColors["green"], uint64(300+i))
	}
	cmd := exec.Command(binPath, "index", "-model", modelDir, "-index", indexPath, "-batch", "1", dir)
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stderr)
	var errLines []string
	sent := false
	for sc.Scan() {
		errLines = append(errLines, sc.Text())
		if !sent && strings.Contains(sc.Text(), "images to embed") {
			require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
			sent = true
		}
	}
	err = cmd.Wait()
	require.True(t, sent, "no start line in %q", errLines)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 130, ee.ExitCode(), "an interrupted run exits non-zero: %q", errLines)
	assert.Contains(t, errLines[len(errLines)-1], "interrupted")
	indexed, _, _, _ := summary(t, stdout.String())
	saved := loadVectors(t, indexPath)
	assert.Len(t, saved, indexed, "the index holds what was embedded before the interrupt")

	r := cli(t, "", "index", "-model", modelDir, "-index", indexPath, dir)
	require.Equal(t, 0, r.code, r.stderr)
	again, unchanged, _, _ := summary(t, r.stdout)
	assert.Equal(t, []int{12 - indexed, indexed}, []int{again, unchanged}, "running again finishes the job")
}

func TestCLIQuery(t *testing.T) {
	_, modelIndex, pixelIndex := labelledIndex(t)
	for _, tc := range []struct {
		name  string
		index string
	}{
		{"model", modelIndex},
		{"pixels", pixelIndex},
	} {
		t.Run(tc.name, func(t *testing.T) {
			grid := filepath.Join(t.TempDir(), "grid.png")
			r := cli(t, "", "query", "-index", tc.index, "-k", "7", "-json", "-grid", grid, labelled.query)
			require.Equal(t, 0, r.code, r.stderr)
			var ans answer
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &ans), r.stdout)
			assert.Equal(t, labelled.query, ans.Query)
			checkRanked(t, ans, 7)
			if tc.name == "pixels" {
				assert.Equal(t, "blue", path.Dir(ans.Results[0].ID), "the nearest raw-pixel neighbour of a blue image is blue")
			}
			checkGrid(t, grid, 7)

			r = cli(t, "", "query", "-index", tc.index, labelled.query)
			require.Equal(t, 0, r.code, r.stderr)
			out := lines(r.stdout)
			require.Len(t, out, 2+5, "query line, header, 5 results by default")
			assert.Equal(t, "query: "+labelled.query, out[0])
			assert.Equal(t, []string{"rank", "distance", "id"}, strings.Fields(out[1]))
			assert.Equal(t, "1", strings.Fields(out[2])[0])
			assert.Equal(t, ans.Results[0].ID, strings.Fields(out[2])[2])
		})
	}
}

func TestCLISimilar(t *testing.T) {
	_, modelIndex, _ := labelledIndex(t)
	const id = "green/green-2.png"
	grid := filepath.Join(t.TempDir(), "similar.png")
	r := cli(t, "", "similar", "-index", modelIndex, "-k", "11", "-json", "-grid", grid, id)
	require.Equal(t, 0, r.code, r.stderr)
	var ans answer
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ans), r.stdout)
	assert.Equal(t, id, ans.Query)
	checkRanked(t, ans, 11)
	for _, res := range ans.Results {
		assert.NotEqual(t, id, res.ID, "similar leaves the item out")
	}
	checkGrid(t, grid, 11)

	r = cli(t, "", "similar", "-index", modelIndex, "-k", "50", id)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Len(t, lines(r.stdout), 2+11, "k larger than the index gives every other item")
}

// checkRanked checks ranks 1..n, distinct IDs and ascending distances.
func checkRanked(t *testing.T, ans answer, n int) {
	t.Helper()
	require.Len(t, ans.Results, n)
	seen := map[string]bool{}
	for i, r := range ans.Results {
		assert.Equal(t, i+1, r.Rank)
		assert.False(t, seen[r.ID], "duplicate %s", r.ID)
		seen[r.ID] = true
		assert.GreaterOrEqual(t, r.Distance, float32(0))
		if i > 0 {
			assert.GreaterOrEqual(t, r.Distance, ans.Results[i-1].Distance, "distances ascend")
		}
	}
}

// checkGrid decodes the grid PNG and checks its size for n results.
func checkGrid(t *testing.T, file string, n int) {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	w, h := gridSize(n)
	assert.Equal(t, image.Pt(w, h), img.Bounds().Size())
	// 5 results to a row beside the query.
	assert.Equal(t, pad+thumb+gap+5*(thumb+pad), w)
	assert.Equal(t, pad+((n+4)/5)*(thumb+captionH+pad)+footerH, h)
}

func TestCLIStats(t *testing.T) {
	dir, modelIndex, pixelIndex := labelledIndex(t)
	r := cli(t, "", "stats", "-index", modelIndex, "-json")
	require.Equal(t, 0, r.code, r.stderr)
	var s indexStats
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &s), r.stdout)
	emb, err := os.ReadFile(filepath.Join(modelDir, "pinrec.json"))
	require.NoError(t, err)
	var meta struct {
		Weights string `json:"weights"`
		Dim     int    `json:"dim"`
	}
	require.NoError(t, json.Unmarshal(emb, &meta))
	assert.Equal(t, 12, s.Items)
	assert.Equal(t, "flat", s.Kind, "the exact index's kind")
	assert.Equal(t, meta.Dim, s.Dim)
	assert.Equal(t, meta.Weights, s.Info["weights"])
	assert.Equal(t, modelDir, s.Info["model"])
	absDir, _ := filepath.Abs(dir)
	assert.Equal(t, absDir, s.Info["root"])

	r = cli(t, "", "stats", "-index", modelIndex)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "items:      12\n")
	assert.Contains(t, r.stdout, "kind:       flat\n")
	assert.Contains(t, r.stdout, "weights:    "+meta.Weights+"\n")

	r = cli(t, "", "stats", "-index", pixelIndex)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "dimension:  768\n")
	assert.Contains(t, r.stdout, "raw pixels")
}

func TestCLIEval(t *testing.T) {
	_, modelIndex, pixelIndex := labelledIndex(t)
	for _, ix := range []string{modelIndex, pixelIndex} {
		for _, tc := range []struct {
			name string
			args []string
			ks   []int
			n    int // queries
		}{
			{"all", nil, []int{1, 5, 10}, 12},
			{"k", []string{"-k", "3,1"}, []int{1, 3}, 12},
			{"sample", []string{"-sample", "5", "-seed", "3", "-k", "2"}, []int{2}, 5},
		} {
			t.Run(filepath.Base(ix)+"/"+tc.name, func(t *testing.T) {
				r := cli(t, "", append([]string{"eval", "-index", ix, "-json"}, tc.args...)...)
				require.Equal(t, 0, r.code, r.stderr)
				var rep evalReport
				require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), r.stdout)
				assert.Equal(t, tc.n, rep.Queries)
				assert.Equal(t, 3, rep.Labels)
				require.Len(t, rep.Rows, len(tc.ks))
				vecs := loadVectors(t, ix)
				queries := keys(vecs)
				if tc.n < len(vecs) {
					queries = sampledIDs(t, ix, tc.n, 3)
				}
				for i, k := range tc.ks {
					p, m := referenceEval(vecs, queries, k)
					assert.Equal(t, k, rep.Rows[i].K)
					assert.InDelta(t, p, rep.Rows[i].Precision, 1e-9, "precision@%d", k)
					assert.InDelta(t, m, rep.Rows[i].MAP, 1e-9, "mAP@%d", k)
				}
			})
		}
	}
	r := cli(t, "", "eval", "-index", pixelIndex)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "precision@K")
	assert.Len(t, lines(r.stdout), 2+3)
}

// sampledIDs are the IDs eval samples: the same seeded permutation over the index order.
func sampledIDs(t *testing.T, indexPath string, n int, seed uint64) []string {
	ix, err := pinrec.Load(indexPath)
	require.NoError(t, err)
	defer ix.Close()
	ids := ix.IDs()
	perm := rand.New(rand.NewPCG(seed, 0x70696e726563)).Perm(len(ids))[:n]
	out := make([]string, n)
	for i, p := range perm {
		out[i] = ids[p]
	}
	return out
}

// referenceEval computes mean precision@k and mAP@k of leave-one-out queries by brute force
// in float64, independently of the CLI's code: rank every other item by distance, then
// AP@k = sum over relevant ranks i <= k of (relevant in top i)/i, over min(k, relevant).
func referenceEval(vecs map[string][]float32, queries []string, k int) (precision, mAP float64) {
	ids := keys(vecs)
	for _, q := range queries {
		type cand struct {
			id string
			d  float64
		}
		var cs []cand
		rel := 0
		for _, id := range ids {
			if id == q {
				continue
			}
			var s float64
			for j, x := range vecs[q] {
				d := float64(x) - float64(vecs[id][j])
				s += d * d
			}
			cs = append(cs, cand{id, math.Sqrt(s)})
			if path.Dir(id) == path.Dir(q) {
				rel++
			}
		}
		slices.SortStableFunc(cs, func(a, b cand) int {
			if a.d < b.d {
				return -1
			}
			if a.d > b.d {
				return 1
			}
			return 0
		})
		hits, ap := 0, 0.0
		for i := 0; i < k && i < len(cs); i++ {
			if path.Dir(cs[i].id) == path.Dir(q) {
				hits++
				ap += float64(hits) / float64(i+1)
			}
		}
		precision += float64(hits) / float64(k)
		mAP += ap / float64(min(k, rel))
	}
	return precision / float64(len(queries)), mAP / float64(len(queries))
}

func TestCLIErrors(t *testing.T) {
	dir, modelIndex, pixelIndex := labelledIndex(t)
	tmp := t.TempDir()
	notDir := filepath.Join(tmp, "file")
	require.NoError(t, os.WriteFile(notDir, []byte("x"), 0o644))
	garbage := filepath.Join(tmp, "garbage.pinrec")
	require.NoError(t, os.WriteFile(garbage, []byte("not an index"), 0o644))
	pixelCopy := filepath.Join(tmp, "pixels-copy.pinrec")
	b, err := os.ReadFile(pixelIndex)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(pixelCopy, b, 0o644))
	newIndex := filepath.Join(tmp, "new.pinrec")
	// An index that says it was built with other weights.
	otherWeights := filepath.Join(tmp, "other-weights.pinrec")
	other, err := pinrec.Load(modelIndex)
	require.NoError(t, err)
	other.SetInfo("weights", "imagenet")
	require.NoError(t, other.Save(otherWeights))
	require.NoError(t, other.Close())
	// An index built in fast mode (index -fast): float32 runs must not add to it, and -fast runs
	// must not add to a float32 index.
	fastIndex := filepath.Join(tmp, "fast.pinrec")
	fast, err := pinrec.Load(modelIndex)
	require.NoError(t, err)
	require.Equal(t, pinrec.PrecisionFloat32, fast.Info()["precision"], "index records its precision")
	fast.SetInfo("precision", pinrec.PrecisionFast)
	require.NoError(t, fast.Save(fastIndex))
	require.NoError(t, fast.Close())

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in the one line on stderr
	}{
		{"no command", nil, 2, ""},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"unknown flag", []string{"index", "-bogus", "-index", newIndex, dir}, 2, "-bogus"},
		{"bad flag value", []string{"query", "-index", modelIndex, "-k", "many", labelled.query}, 2, "-k"},
		{"k zero", []string{"similar", "-index", modelIndex, "-k", "0", "red/red-0.png"}, 2, "-k"},
		{"missing index flag", []string{"ls"}, 2, "-index"},
		{"missing folder", []string{"index", "-index", newIndex}, 2, "DIR"},
		{"extra argument", []string{"index", "-index", newIndex, dir, dir}, 2, "unexpected argument"},
		{"bad eval k", []string{"eval", "-index", modelIndex, "-k", "1,x"}, 2, "-k"},
		{"bad embedding", []string{"index", "-embedding", "colour", "-index", newIndex, dir}, 2, "-embedding"},
		{"missing model", []string{"index", "-model", filepath.Join(tmp, "no-model"), "-index", newIndex, dir}, 1, "no-model"},
		{"missing model for query", []string{"query", "-model", filepath.Join(tmp, "no-model"), "-index", modelIndex, labelled.query}, 1, "no-model"},
		{"unwritable index", []string{"index", "-index", filepath.Join(notDir, "x.pinrec"), dir}, 1, "cannot be written"},
		{"index is a folder", []string{"index", "-index", tmp, dir}, 1, "is a folder"},
		{"folder missing", []string{"index", "-index", newIndex, filepath.Join(tmp, "nope")}, 1, "nope"},
		{"not an index", []string{"index", "-index", garbage, dir}, 1, "existing index"},
		{"index of another model", []string{"index", "-index", pixelCopy, dir}, 1, "was built with"},
		{"index of other weights", []string{"index", "-index", otherWeights, dir}, 1, `was built with weights "imagenet"`},
		{"query with other weights", []string{"query", "-index", otherWeights, labelled.query}, 1, `was built with weights "imagenet"`},
		{"float32 run on a fast index", []string{"index", "-index", fastIndex, dir}, 1, `was built with precision "bfloat16-mixed", not "float32"`},
		{"fast run on a float32 index", []string{"index", "-fast", "-index", modelIndex, dir}, 1, `was built with precision "float32", not "bfloat16-mixed"`},
		{"missing index file", []string{"ls", "-index", filepath.Join(tmp, "none.pinrec")}, 1, "none.pinrec"},
		{"corrupt index file", []string{"stats", "-index", garbage}, 1, "garbage.pinrec"},
		{"unknown id", []string{"similar", "-index", modelIndex, "purple/0.png"}, 1, "purple/0.png"},
		{"query image missing", []string{"query", "-index", modelIndex, filepath.Join(tmp, "no.png")}, 1, "no.png"},
		{"query image not an image", []string{"query", "-index", modelIndex, notDir}, 1, "file"},
		{"grid unwritable", []string{"similar", "-index", modelIndex, "-grid", filepath.Join(notDir, "g.png"), "red/red-0.png"}, 1, "g.png"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, "", tc.args...)
			assert.Equal(t, tc.code, r.code, "stderr: %s", r.stderr)
			if tc.args == nil {
				assert.Contains(t, r.stderr, "usage:")
				return
			}
			errLines := lines(r.stderr)
			require.Len(t, errLines, 1, "one line on stderr, got %q", r.stderr)
			assert.True(t, strings.HasPrefix(errLines[0], "pinrec"), errLines[0])
			assert.Contains(t, errLines[0], tc.want)
			assert.Empty(t, r.stdout)
		})
	}
	_, err = os.Stat(newIndex)
	assert.True(t, errors.Is(err, os.ErrNotExist), "no failed run left an index behind")
	after, err := os.ReadFile(pixelCopy)
	require.NoError(t, err)
	assert.Equal(t, b, after, "an index of another model is left as it was")
}

func TestCLIHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}, {"index", "-h"}, {"query", "-h"}, {"eval", "-h"}} {
		r := cli(t, "", args...)
		assert.Equal(t, 0, r.code, "%v", args)
		assert.Contains(t, r.stdout, "usage", "%v", args)
	}
}

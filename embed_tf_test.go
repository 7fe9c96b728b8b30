//go:build cgo && !notensorflow

package pinrec

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testModelDir is the model `make setup` exports (tools/setup.sh), relative to the package, or
// $PINREC_MODEL.
func testModelDir(t testing.TB) string {
	t.Helper()
	dir := cmp.Or(os.Getenv("PINREC_MODEL"), "models/resnet50")
	_, err := os.Stat(filepath.Join(dir, ModelInfoFile))
	require.NoError(t, err, "no model at %s: run `make setup` (tools/setup.sh) first", dir)
	return dir
}

var shared struct {
	once sync.Once
	e    *Embedder
	err  error
}

// sharedEmbedder is one Embedder for the tests that only read from it (loading takes seconds).
func sharedEmbedder(t testing.TB) *Embedder {
	t.Helper()
	dir := testModelDir(t)
	shared.once.Do(func() { shared.e, shared.err = NewEmbedder(dir, WithBatchSize(4)) })
	require.NoError(t, shared.err)
	return shared.e
}

// syntheticInputs returns n preprocessed-looking tensors (caffe range) from a fixed seed.
func syntheticInputs(n, size int, seed uint64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, size*size*3)
		for j := range v {
			v[j] = float32(r.Float64()*255 - 123.68)
		}
		out[i] = v
	}
	return out
}

func TestEmbedderInfo(t *testing.T) {
	e := sharedEmbedder(t)
	info := e.Info()
	assert.Equal(t, 2048, e.Dim())
	assert.Equal(t, 224, info.InputSize)
	assert.Equal(t, ModeCaffe, info.Mode)
	assert.Equal(t, "serving_default", info.SignatureKey)
	assert.NotEmpty(t, info.InputTensor)
	assert.NotEmpty(t, info.OutputTensor)
	assert.NotEmpty(t, info.Weights)
	if !info.Pretrained {
		assert.Contains(t, info.Weights, "NOT pretrained")
	}
	t.Logf("model %s: weights %q, TF %s, Keras %s, %s -> %s", info.Dir, info.Weights, info.TensorFlowVersion, info.KerasVersion, info.InputTensor, info.OutputTensor)
}

// badModelDir makes a model directory from the real one (SavedModel linked in) with its
// pinrec.json edited by edit (nil: no pinrec.json at all).
func badModelDir(t *testing.T, edit func(m map[string]any), withSavedModel bool) string {
	t.Helper()
	src := testModelDir(t)
	dir := t.TempDir()
	if withSavedModel {
		for _, name := range []string{"saved_model.pb", "variables", "assets", "fingerprint.pb"} {
			abs, err := filepath.Abs(filepath.Join(src, name))
			require.NoError(t, err)
			if _, err := os.Stat(abs); err == nil {
				require.NoError(t, os.Symlink(abs, filepath.Join(dir, name)))
			}
		}
	}
	if edit != nil {
		raw, err := os.ReadFile(filepath.Join(src, ModelInfoFile))
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		edit(m)
		raw, err = json.Marshal(m)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, ModelInfoFile), raw, 0o644))
	}
	return dir
}

func TestEmbedderOpenErrors(t *testing.T) {
	cases := []struct {
		name    string
		dir     func(t *testing.T) string
		wantMsg string
	}{
		{"missing dir", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, "pinrec.json"},
		{"no pinrec.json", func(t *testing.T) string { return badModelDir(t, nil, true) }, "pinrec.json"},
		{"no SavedModel", func(t *testing.T) string { return badModelDir(t, func(map[string]any) {}, false) }, "SavedModel"},
		{"garbage SavedModel", func(t *testing.T) string {
			dir := badModelDir(t, func(map[string]any) {}, false)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "saved_model.pb"), []byte("garbage"), 0o644))
			return dir
		}, "bad model"},
		{"bad json", func(t *testing.T) string {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, ModelInfoFile), []byte("{"), 0o644))
			return dir
		}, "pinrec.json"},
		{"unknown mode", func(t *testing.T) string {
			return badModelDir(t, func(m map[string]any) { m["preprocess"] = "sepia" }, true)
		}, "sepia"},
		{"wrong signature", func(t *testing.T) string {
			return badModelDir(t, func(m map[string]any) { m["signature_key"] = "nope" }, true)
		}, `signature "nope": not found`},
		{"wrong input name", func(t *testing.T) string {
			return badModelDir(t, func(m map[string]any) { m["signature_input"] = "pixels" }, true)
		}, `no tensor "pixels"`},
		{"wrong dim", func(t *testing.T) string {
			return badModelDir(t, func(m map[string]any) { m["dim"] = 1000 }, true)
		}, "output shape"},
		{"wrong size", func(t *testing.T) string {
			return badModelDir(t, func(m map[string]any) { m["input_size"] = 299 }, true)
		}, "input shape"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			e, err := NewEmbedder(dir)
			require.Error(t, err)
			assert.Nil(t, e)
			assert.ErrorIs(t, err, ErrBadModel)
			assert.Contains(t, err.Error(), dir)
			assert.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}

func TestEmbedClose(t *testing.T) {
	e, err := NewEmbedder(testModelDir(t), WithTensorFlowThreads(1, 1), WithBatchSize(2))
	require.NoError(t, err)
	in := syntheticInputs(1, 224, 7)
	_, err = e.EmbedInputs(context.Background(), in)
	require.NoError(t, err)
	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "closing twice")
	_, err = e.EmbedInputs(context.Background(), in)
	assert.ErrorIs(t, err, ErrClosed)
	_, err = e.Embed(context.Background(), image.NewRGBA(image.Rect(0, 0, 8, 8)))
	assert.ErrorIs(t, err, ErrClosed)
	_, err = e.EmbedFile(context.Background(), "whatever.png")
	assert.ErrorIs(t, err, ErrClosed)
	_, err = e.EmbedFiles(context.Background(), []string{"whatever.png"})
	assert.ErrorIs(t, err, ErrClosed)
	assert.Equal(t, 2048, e.Dim(), "Info and Dim still answer")
}

func TestEmbedInputsErrors(t *testing.T) {
	e := sharedEmbedder(t)
	_, err := e.EmbedInputs(context.Background(), [][]float32{make([]float32, 10)})
	assert.ErrorIs(t, err, ErrBadInput)
	out, err := e.EmbedInputs(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, out)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.EmbedInputs(ctx, syntheticInputs(1, 224, 1))
	assert.ErrorIs(t, err, context.Canceled)
}

// maxRelDiff returns max |a-b| over all entries divided by max |b|.
func maxRelDiff(a, b [][]float32) (diff, scale float64) {
	for i := range a {
		for j := range a[i] {
			diff = max(diff, math.Abs(float64(a[i][j])-float64(b[i][j])))
			scale = max(scale, math.Abs(float64(b[i][j])))
		}
	}
	return diff / scale, scale
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// Batch size and concurrency do not change the results (beyond float round-off).
func TestEmbedBatchesAndConcurrency(t *testing.T) {
	ins := syntheticInputs(5, 224, 3)
	one, err := NewEmbedder(testModelDir(t), WithBatchSize(1))
	require.NoError(t, err)
	defer one.Close()
	want, err := one.EmbedInputs(context.Background(), ins)
	require.NoError(t, err)
	require.Len(t, want, 5)

	e := sharedEmbedder(t) // batch 4: one batch of 4, one of 1
	var wg sync.WaitGroup
	got := make([][][]float32, 3)
	errs := make([]error, 3)
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[g], errs[g] = e.EmbedInputs(context.Background(), ins)
		}()
	}
	wg.Wait()
	for g := range got {
		require.NoError(t, errs[g])
		rel, _ := maxRelDiff(got[g], want)
		assert.LessOrEqual(t, rel, 1e-4, "goroutine %d", g)
	}
}

// Embed and EmbedFiles (the pipelined paths) give what Preprocess + EmbedInputs give, and
// EmbedFiles reports bad files without dropping the good ones.
func TestEmbedPipelines(t *testing.T) {
	e := sharedEmbedder(t)
	paths := writeTestImages(t, t.TempDir(), 6)
	bad := filepath.Join(t.TempDir(), "bad.jpg")
	require.NoError(t, os.WriteFile(bad, []byte("not a jpeg"), 0o644))
	withBad := slices.Insert(slices.Clone(paths), 2, bad)

	var imgs []image.Image
	var ins [][]float32
	for _, p := range paths {
		img, err := DecodeFile(p)
		require.NoError(t, err)
		imgs = append(imgs, img)
		ins = append(ins, e.Preprocess(img))
	}
	want, err := e.EmbedInputs(context.Background(), ins)
	require.NoError(t, err)

	got, err := e.Embed(context.Background(), imgs...)
	require.NoError(t, err)
	rel, _ := maxRelDiff(got, want)
	assert.LessOrEqual(t, rel, 1e-4, "Embed")

	gotFiles, err := e.EmbedFiles(context.Background(), withBad)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrUnsupportedFormat)
	assert.Contains(t, err.Error(), bad)
	require.Len(t, gotFiles, len(withBad))
	assert.Nil(t, gotFiles[2])
	gotFiles = slices.Delete(gotFiles, 2, 3)
	rel, _ = maxRelDiff(gotFiles, want)
	assert.LessOrEqual(t, rel, 1e-4, "EmbedFiles")

	v, err := e.EmbedFile(context.Background(), paths[0])
	require.NoError(t, err)
	rel, _ = maxRelDiff([][]float32{v}, want[:1])
	assert.LessOrEqual(t, rel, 1e-4, "EmbedFile")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.EmbedFiles(ctx, paths)
	assert.ErrorIs(t, err, context.Canceled)
}

// writeTestImages writes n deterministic RGB images (JPEG and PNG, sizes around and away from
// 224, so the resize both shrinks and enlarges) and returns their paths.
func writeTestImages(t testing.TB, dir string, n int) []string {
	t.Helper()
	sizes := [][2]int{{320, 240}, {224, 224}, {150, 200}, {641, 479}, {97, 311}, {500, 500}}
	r := rand.New(rand.NewPCG(42, 42))
	var paths []string
	for i := range n {
		w, h := sizes[i%len(sizes)][0], sizes[i%len(sizes)][1]
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		cx, cy := r.Float64()*float64(w), r.Float64()*float64(h)
		for y := range h {
			for x := range w {
				d := math.Hypot(float64(x)-cx, float64(y)-cy)
				img.Set(x, y, color.RGBA{
					R: uint8(127 + 127*math.Sin(d/(7+float64(i)))),
					G: uint8(x * 255 / w),
					B: uint8((x*y/(i+3) + i*40) % 256),
					A: 255,
				})
			}
		}
		var buf bytes.Buffer
		name := fmt.Sprintf("img%02d", i)
		if i%2 == 0 {
			require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}))
			name += ".jpg"
		} else {
			require.NoError(t, png.Encode(&buf, img))
			name += ".png"
		}
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o644))
		paths = append(paths, p)
	}
	return paths
}

// agreementImages: the RGB test images of testdata/images/ok (no alpha, no EXIF: Keras'
// load_img ignores both) and a few generated ones.
func agreementImages(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "images", "ok", "*"))
	require.NoError(t, err)
	paths = append(paths, writeTestImages(t, t.TempDir(), 4)...)
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		require.NoError(t, err)
		paths[i] = abs
	}
	return paths
}

func python(t *testing.T) string {
	if p := os.Getenv("PINREC_PYTHON"); p != "" {
		return p
	}
	p, err := filepath.Abs(filepath.Join(".venv", "bin", "python"))
	require.NoError(t, err)
	return p
}

// runPython runs a script of tools/ with the test's Python, failing the test with its output.
func runPython(t *testing.T, script string, args ...string) {
	t.Helper()
	cmd := exec.Command(python(t), append([]string{filepath.Join("tools", script)}, args...)...)
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", script, strings.Join(args, " "), out)
}

// TestEmbedAgreesWithKeras checks pinrec against TensorFlow and Keras run from Python on the same
// SavedModel, computing the references now (into t.TempDir, nothing cached):
//
//	inputs: the same input tensors (synthetic ones and Go-preprocessed images) through Go's
//	session, the SavedModel's signature in Python, and Keras' own ResNet50 layers loaded with the
//	SavedModel's weights: max |difference| <= 1e-4 of the largest |value|;
//	files: from the image files, Go's DecodeFile + Preprocess + EmbedInputs against Keras'
//	load_img(interpolation="bilinear") + preprocess_input + the SavedModel: cosine >= 0.999.
func TestEmbedAgreesWithKeras(t *testing.T) {
	e := sharedEmbedder(t)
	ctx := context.Background()
	dir := t.TempDir()
	paths := agreementImages(t)
	t.Logf("%d images (%d from testdata/images/ok), model weights: %s", len(paths), len(paths)-4, e.Info().Weights)

	// Go's side.
	ins := syntheticInputs(3, e.Info().InputSize, 11)
	for _, p := range paths {
		img, err := DecodeFile(p)
		require.NoError(t, err, p)
		ins = append(ins, e.Preprocess(img))
	}
	goVecs, err := e.EmbedInputs(ctx, ins)
	require.NoError(t, err)
	s := e.Info().InputSize
	writeNpy(t, filepath.Join(dir, "inputs.npy"), ins, []int{len(ins), s, s, 3})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "images.txt"), []byte(strings.Join(paths, "\n")+"\n"), 0o644))

	// Python's side, in one run.
	runPython(t, "keras_reference.py", "--model", e.Info().Dir,
		"--inputs", filepath.Join(dir, "inputs.npy"),
		"--out-savedmodel", filepath.Join(dir, "savedmodel.npy"),
		"--out-keras", filepath.Join(dir, "keras.npy"),
		"--images", filepath.Join(dir, "images.txt"),
		"--out-files", filepath.Join(dir, "files.npy"),
		"--out-files-inputs", filepath.Join(dir, "files_inputs.npy"))

	t.Run("inputs", func(t *testing.T) {
		for _, ref := range []string{"savedmodel", "keras"} {
			want := readNpy(t, filepath.Join(dir, ref+".npy"), []int{len(ins), e.Dim()})
			rel, scale := maxRelDiff(goVecs, want)
			t.Logf("agreement (a) same inputs, Go vs Python %s: max abs diff / max abs = %.3g (max abs %.4g, %d tensors)", ref, rel, scale, len(ins))
			assert.LessOrEqual(t, rel, 1e-4, ref)
		}
	})

	t.Run("files", func(t *testing.T) {
		want := readNpy(t, filepath.Join(dir, "files.npy"), []int{len(paths), e.Dim()})
		kIns := readNpy(t, filepath.Join(dir, "files_inputs.npy"), []int{len(paths), s * s * 3})
		gIns := ins[3:]
		got := goVecs[3:]
		worst, worstAt := 2.0, ""
		var maxIn, sumIn float64
		for i, p := range paths {
			c := cosine(got[i], want[i])
			if c < worst {
				worst, worstAt = c, filepath.Base(p)
			}
			assert.GreaterOrEqual(t, c, 0.999, p)
			var imgMax float64
			for j := range gIns[i] {
				d := math.Abs(float64(gIns[i][j]) - float64(kIns[i][j]))
				imgMax = max(imgMax, d)
				sumIn += d
			}
			maxIn = max(maxIn, imgMax)
			t.Logf("  %-24s cosine %.6f, input max abs diff %5.1f", filepath.Base(p), c, imgMax)
		}
		// How different two unrelated images look to this model: the figure above means
		// something only if it is well above this one (random weights make it high).
		between := 2.0
		for i := range want {
			for j := i + 1; j < len(want); j++ {
				between = min(between, cosine(want[i], want[j]))
			}
		}
		t.Logf("agreement (b) end to end from %d files, Go vs Keras: worst cosine %.6f (%s); input tensors: max abs diff %.3g, mean abs diff %.3g (0..255 scale); lowest cosine between two different images %.4f",
			len(paths), worst, worstAt, maxIn, sumIn/float64(len(gIns)*s*s*3), between)
	})
}

// writeNpy writes rows (each of the product of shape[1:] floats) as a float32 .npy file.
func writeNpy(t *testing.T, path string, rows [][]float32, shape []int) {
	t.Helper()
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s,), }", strings.Join(dims, ", "))
	pad := 64 - (10+len(header)+1)%64
	header += strings.Repeat(" ", pad%64) + "\n"
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	require.NoError(t, binary.Write(&buf, binary.LittleEndian, uint16(len(header))))
	buf.WriteString(header)
	for _, r := range rows {
		require.NoError(t, binary.Write(&buf, binary.LittleEndian, r))
	}
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

var npyShape = regexp.MustCompile(`'shape':\s*\(([0-9, ]*)\)`)

// readNpy reads a little-endian float32 .npy file of the given shape (rows x the rest).
func readNpy(t *testing.T, path string, shape []int) [][]float32 {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, len(raw) >= 10 && string(raw[:6]) == "\x93NUMPY", "%s: not a .npy file", path)
	var hl, off int
	switch raw[6] {
	case 1:
		hl, off = int(binary.LittleEndian.Uint16(raw[8:10])), 10
	default:
		hl, off = int(binary.LittleEndian.Uint32(raw[8:12])), 12
	}
	header := string(raw[off : off+hl])
	require.Contains(t, header, "'<f4'", path)
	require.Contains(t, header, "'fortran_order': False", path)
	m := npyShape.FindStringSubmatch(header)
	require.NotNil(t, m, header)
	total := 1
	for _, d := range strings.Split(m[1], ",") {
		if d = strings.TrimSpace(d); d != "" {
			n, err := strconv.Atoi(d)
			require.NoError(t, err)
			total *= n
		}
	}
	want := 1
	for _, d := range shape {
		want *= d
	}
	require.Equal(t, want, total, "%s: shape (%s), want %v", path, m[1], shape)
	data := raw[off+hl:]
	require.Len(t, data, 4*total, path)
	rows := make([][]float32, shape[0])
	per := total / max(shape[0], 1)
	for i := range rows {
		rows[i] = make([]float32, per)
		for j := range rows[i] {
			rows[i][j] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*(i*per+j):]))
		}
	}
	return rows
}

// BenchmarkEmbedFiles times the whole path (decode, resize, infer) per image through the
// pipelined EmbedFiles; bench/embed/run.sh compares it with Python Keras side by side.
func BenchmarkEmbedFiles(b *testing.B) {
	paths := writeTestImages(b, b.TempDir(), 8)
	for _, bs := range []int{1, 8} {
		b.Run(fmt.Sprintf("batch=%d", bs), func(b *testing.B) {
			e, err := NewEmbedder(testModelDir(b), WithBatchSize(bs))
			require.NoError(b, err)
			defer e.Close()
			ctx := context.Background()
			_, err = e.EmbedFiles(ctx, paths) // warm-up
			require.NoError(b, err)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := e.EmbedFiles(ctx, paths); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(paths))/b.Elapsed().Seconds(), "images/s")
		})
	}
}

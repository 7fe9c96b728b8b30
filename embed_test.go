package pinrec

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeRunner stands in for TensorFlow: the embedding of an input is (sum, first value, batch
// size). It records the batch sizes it saw and how many runs overlapped.
type fakeRunner struct {
	mu      sync.Mutex
	batches []int
	closes  int
	running atomic.Int32
	maxRun  atomic.Int32
	hook    func(n int) error // called in each run; a non-nil error fails it
}

func (f *fakeRunner) run(in []float32, n int) ([]float32, error) {
	r := f.running.Add(1)
	defer f.running.Add(-1)
	for {
		m := f.maxRun.Load()
		if r <= m || f.maxRun.CompareAndSwap(m, r) {
			break
		}
	}
	f.mu.Lock()
	f.batches = append(f.batches, n)
	f.mu.Unlock()
	if f.hook != nil {
		if err := f.hook(n); err != nil {
			return nil, err
		}
	}
	il := len(in) / n
	out := make([]float32, 0, 3*n)
	for i := range n {
		x := in[i*il : (i+1)*il]
		var s float32
		for _, v := range x {
			s += v
		}
		out = append(out, s, x[0], float32(n))
	}
	return out, nil
}

func (f *fakeRunner) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes++
	return nil
}

func fakeEmbedder(r *fakeRunner, opts ...EmbedderOption) *Embedder {
	cfg := defaultEmbedderConfig()
	for _, o := range opts {
		o(&cfg)
	}
	info := ModelInfo{Dir: "fake-model", InputSize: 2, Mode: ModeCaffe, Dim: 3, Weights: "fake"}
	return newEmbedder(info, cfg, r)
}

func fakeInputs(n int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		out[i] = make([]float32, 12)
		for j := range out[i] {
			out[i][j] = float32(i*100 + j)
		}
	}
	return out
}

func TestEmbedderBatching(t *testing.T) {
	cases := []struct {
		name  string
		batch int
		n     int
		want  []int
	}{
		{"batch 1", 1, 3, []int{1, 1, 1}},
		{"batch 3 of 7", 3, 7, []int{3, 3, 1}},
		{"batch 8 of 8", 8, 8, []int{8}},
		{"batch 8 of 2", 8, 2, []int{2}},
		{"empty", 4, 0, nil},
		{"batch 0 means 1", 0, 2, []int{1, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &fakeRunner{}
			e := fakeEmbedder(r, WithBatchSize(tc.batch))
			defer e.Close()
			in := fakeInputs(tc.n)
			out, err := e.EmbedInputs(context.Background(), in)
			require.NoError(t, err)
			require.Len(t, out, tc.n)
			assert.Equal(t, tc.want, r.batches)
			for i, v := range out {
				require.Len(t, v, 3)
				assert.Equal(t, in[i][0], v[1], "order of input %d", i)
				assert.Equal(t, 3, cap(v), "vectors do not share capacity")
			}
		})
	}
}

func TestEmbedderInputErrors(t *testing.T) {
	r := &fakeRunner{}
	e := fakeEmbedder(r)
	_, err := e.EmbedInputs(context.Background(), [][]float32{make([]float32, 12), make([]float32, 11)})
	require.ErrorIs(t, err, ErrBadInput)
	assert.Contains(t, err.Error(), "input 1")
	assert.Empty(t, r.batches, "nothing runs")

	boom := errors.New("boom")
	r.hook = func(int) error { return boom }
	_, err = e.EmbedInputs(context.Background(), fakeInputs(2))
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "fake-model")
	_, err = e.Embed(context.Background(), image.NewGray(image.Rect(0, 0, 4, 4)))
	require.ErrorIs(t, err, boom)
}

func TestEmbedderClosed(t *testing.T) {
	r := &fakeRunner{}
	e := fakeEmbedder(r)
	require.NoError(t, e.Close())
	require.NoError(t, e.Close())
	assert.Equal(t, 1, r.closes)
	_, err := e.EmbedInputs(context.Background(), fakeInputs(1))
	assert.ErrorIs(t, err, ErrClosed)
	_, err = e.Embed(context.Background(), image.NewGray(image.Rect(0, 0, 4, 4)))
	assert.ErrorIs(t, err, ErrClosed)
	_, err = e.EmbedFiles(context.Background(), []string{"x.png"})
	assert.ErrorIs(t, err, ErrClosed)
	_, err = e.EmbedFile(context.Background(), "x.png")
	assert.ErrorIs(t, err, ErrClosed)
}

// grayImages returns n uniform images of distinct grey levels and various sizes.
func grayImages(n int) []image.Image {
	imgs := make([]image.Image, n)
	for i := range imgs {
		g := image.NewGray(image.Rect(0, 0, 3+i%5, 2+i%3))
		for j := range g.Pix {
			g.Pix[j] = uint8(10 * i)
		}
		imgs[i] = g
	}
	return imgs
}

func TestEmbedderPipeline(t *testing.T) {
	for _, bs := range []int{1, 3, 16} {
		for _, workers := range []int{1, 4} {
			t.Run(fmt.Sprintf("batch %d workers %d", bs, workers), func(t *testing.T) {
				r := &fakeRunner{}
				e := fakeEmbedder(r, WithBatchSize(bs), WithDecodeWorkers(workers))
				imgs := grayImages(11)
				var ins [][]float32
				for _, img := range imgs {
					ins = append(ins, e.Preprocess(img))
				}
				want, err := e.EmbedInputs(context.Background(), ins)
				require.NoError(t, err)
				got, err := e.Embed(context.Background(), imgs...)
				require.NoError(t, err)
				require.Len(t, got, len(imgs))
				for i := range got {
					assert.Equal(t, want[i][:2], got[i][:2], "image %d", i)
				}
			})
		}
	}
}

func TestEmbedderFiles(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i, img := range grayImages(5) {
		p := filepath.Join(dir, fmt.Sprintf("%d.png", i))
		f, err := os.Create(p)
		require.NoError(t, err)
		require.NoError(t, png.Encode(f, img))
		require.NoError(t, f.Close())
		paths = append(paths, p)
	}
	bad := filepath.Join(dir, "bad.png")
	require.NoError(t, os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\nbroken"), 0o644))
	missing := filepath.Join(dir, "missing.jpg")
	all := []string{bad, paths[0], paths[1], missing, paths[2], paths[3], paths[4]}

	r := &fakeRunner{}
	e := fakeEmbedder(r, WithBatchSize(2))
	got, err := e.EmbedFiles(context.Background(), all)
	require.Error(t, err)
	assert.Contains(t, err.Error(), bad)
	assert.Contains(t, err.Error(), missing)
	assert.ErrorIs(t, err, os.ErrNotExist)
	require.Len(t, got, len(all))
	assert.Nil(t, got[0])
	assert.Nil(t, got[3])
	for _, i := range []int{1, 2, 4, 5, 6} {
		require.NotNil(t, got[i], "file %d", i)
		v, err := e.EmbedFile(context.Background(), all[i])
		require.NoError(t, err)
		assert.Equal(t, v[:2], got[i][:2], "file %d", i)
	}

	got, err = e.EmbedFiles(context.Background(), []string{bad, missing})
	require.Error(t, err)
	assert.Equal(t, [][]float32{nil, nil}, got)

	got, err = e.EmbedFiles(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestEmbedderCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &fakeRunner{hook: func(int) error { cancel(); return nil }}
	e := fakeEmbedder(r, WithBatchSize(1))
	_, err := e.Embed(ctx, grayImages(20)...)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, len(r.batches), 20, "stops early")

	_, err = e.EmbedInputs(ctx, fakeInputs(3))
	require.ErrorIs(t, err, context.Canceled)
}

// Concurrent callers all get their own results, and Close waits for their runs.
func TestEmbedderConcurrent(t *testing.T) {
	r := &fakeRunner{}
	e := fakeEmbedder(r, WithBatchSize(2), WithDecodeWorkers(2))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			imgs := grayImages(7)
			out, err := e.Embed(context.Background(), imgs...)
			if errors.Is(err, ErrClosed) {
				return
			}
			assert.NoError(t, err, "goroutine %d", g)
			for i := range out {
				assert.InDelta(t, float64(10*i)-103.939, float64(out[i][1]), 1e-3)
			}
		}()
	}
	wg.Wait()
	require.NoError(t, e.Close())
	assert.Equal(t, 1, r.closes)
}

func TestReadModelMeta(t *testing.T) {
	good := `{"input_size": 224, "channels": 3, "preprocess": "caffe", "dim": 2048, "weights": "imagenet", "pretrained": true}`
	cases := []struct {
		name, json, wantErr string
	}{
		{"good", good, ""},
		{"size", `{"input_size": 0, "preprocess": "caffe", "dim": 2048, "weights": "x"}`, "input_size"},
		{"dim", `{"input_size": 224, "preprocess": "caffe", "dim": -1, "weights": "x"}`, "dim"},
		{"channels", `{"input_size": 224, "channels": 1, "preprocess": "caffe", "dim": 2048, "weights": "x"}`, "channels"},
		{"mode", `{"input_size": 224, "preprocess": "", "dim": 2048, "weights": "x"}`, "preprocess"},
		{"weights", `{"input_size": 224, "preprocess": "tf", "dim": 2048}`, "weights"},
		{"syntax", `{"input_size": 224,`, "unexpected end"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, ModelInfoFile), []byte(tc.json), 0o644))
			meta, info, err := readModelMeta(dir)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrBadModel)
				assert.Contains(t, err.Error(), filepath.Join(dir, ModelInfoFile))
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, ModelInfo{Dir: dir, InputSize: 224, Mode: ModeCaffe, Dim: 2048, Weights: "imagenet", Pretrained: true, SignatureKey: "serving_default"}, info)
			assert.Equal(t, []string{"serve"}, meta.Tags)
			assert.Equal(t, 224*224*3, info.InputLen())
		})
	}
	_, _, err := readModelMeta(filepath.Join(t.TempDir(), "none"))
	require.ErrorIs(t, err, ErrBadModel)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

package pinrec

import (
	"context"
	"errors"
	"image"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// streamFiles writes n small PNGs of distinct colours and returns their paths.
func streamFiles(t *testing.T, dir string, n int) []string {
	t.Helper()
	var paths []string
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 5+i, 4))
		for p := 0; p < len(img.Pix); p += 4 {
			img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = uint8(20*i), uint8(255-20*i), uint8(7*i), 255
		}
		path := filepath.Join(dir, "good"+string(rune('a'+i))+".png")
		f, err := os.Create(path)
		require.NoError(t, err)
		require.NoError(t, png.Encode(f, img))
		require.NoError(t, f.Close())
		paths = append(paths, path)
	}
	return paths
}

// EmbedStream reports every file once, in order, good files with the vector EmbedFile gives
// and bad ones with a *FileError naming the file once and wrapping the cause.
func TestEmbedStream(t *testing.T) {
	dir := t.TempDir()
	good := streamFiles(t, dir, 5)
	corrupt := filepath.Join(dir, "corrupt.png")
	require.NoError(t, os.WriteFile(corrupt, []byte("\x89PNG\r\n\x1a\nbroken"), 0o644))
	text := filepath.Join(dir, "text.jpg")
	require.NoError(t, os.WriteFile(text, []byte("hello, not an image"), 0o644))
	missing := filepath.Join(dir, "missing.jpg")
	folder := filepath.Join(dir, "folder.png")
	require.NoError(t, os.Mkdir(folder, 0o755))
	paths := []string{corrupt, good[0], good[1], missing, good[2], text, good[3], folder, good[4]}
	wantErr := map[string]error{corrupt: ErrCorruptImage, text: ErrUnsupportedFormat, missing: fs.ErrNotExist, folder: nil}

	for _, tc := range []struct {
		name           string
		batch, workers int
	}{
		{"batch 1", 1, 1},
		{"batch 2", 2, 3},
		{"batch 4", 4, 2},
		{"batch larger than the input", 16, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &fakeRunner{}
			e := fakeEmbedder(r, WithBatchSize(tc.batch), WithDecodeWorkers(tc.workers))
			defer e.Close()
			var got []EmbedResult
			err := e.EmbedStream(context.Background(), paths, func(res EmbedResult) error {
				got = append(got, res)
				return nil
			})
			require.NoError(t, err)
			require.Len(t, got, len(paths))
			for i, res := range got {
				assert.Equal(t, i, res.Index)
				assert.Equal(t, paths[i], res.Path)
				cause, bad := wantErr[res.Path]
				if !bad {
					require.NoError(t, res.Err, res.Path)
					want, err := e.EmbedFile(context.Background(), res.Path)
					require.NoError(t, err)
					require.Len(t, res.Vector, 3)
					assert.Equal(t, want[:2], res.Vector[:2], res.Path) // the fake's third value is the batch size
					continue
				}
				assert.Nil(t, res.Vector, res.Path)
				var fe *FileError
				require.ErrorAs(t, res.Err, &fe, res.Path)
				assert.Equal(t, res.Path, fe.Path)
				if cause != nil {
					assert.ErrorIs(t, res.Err, cause, res.Path)
				}
				assert.Equal(t, 1, strings.Count(res.Err.Error(), res.Path), "the path once: %v", res.Err)
			}
			// Only good files reach the network, in batches of at most tc.batch.
			total := 0
			for _, n := range r.batches {
				assert.LessOrEqual(t, n, tc.batch)
				total += n
			}
			assert.Equal(t, len(good)+len(good), total, "each good file once here, once through EmbedFile")
		})
	}
}

func TestEmbedStreamStops(t *testing.T) {
	paths := streamFiles(t, t.TempDir(), 7)

	t.Run("callback error", func(t *testing.T) {
		e := fakeEmbedder(&fakeRunner{}, WithBatchSize(2))
		defer e.Close()
		stop := errors.New("stop here")
		calls := 0
		err := e.EmbedStream(context.Background(), paths, func(EmbedResult) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		assert.ErrorIs(t, err, stop)
		assert.Equal(t, 3, calls)
	})

	t.Run("cancelled", func(t *testing.T) {
		e := fakeEmbedder(&fakeRunner{}, WithBatchSize(2))
		defer e.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var seen []int
		err := e.EmbedStream(ctx, paths, func(r EmbedResult) error {
			seen = append(seen, r.Index)
			cancel()
			return nil
		})
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, []int{0, 1}, seen, "the batch that ran is reported, nothing after")
	})

	t.Run("model failure", func(t *testing.T) {
		boom := errors.New("boom")
		runs := 0
		e := fakeEmbedder(&fakeRunner{hook: func(int) error {
			runs++
			if runs == 2 {
				return boom
			}
			return nil
		}}, WithBatchSize(2))
		defer e.Close()
		calls := 0
		err := e.EmbedStream(context.Background(), paths, func(EmbedResult) error { calls++; return nil })
		assert.ErrorIs(t, err, boom)
		assert.Equal(t, 2, calls)
	})

	t.Run("closed", func(t *testing.T) {
		e := fakeEmbedder(&fakeRunner{})
		require.NoError(t, e.Close())
		err := e.EmbedStream(context.Background(), paths, func(EmbedResult) error {
			t.Error("no result after Close")
			return nil
		})
		assert.ErrorIs(t, err, ErrClosed)
	})

	t.Run("no files", func(t *testing.T) {
		e := fakeEmbedder(&fakeRunner{})
		defer e.Close()
		require.NoError(t, e.EmbedStream(context.Background(), nil, func(EmbedResult) error {
			t.Error("no result for no files")
			return nil
		}))
	})
}

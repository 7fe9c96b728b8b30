package pinrec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// faultIndex saves an index of n rows of dimension dim and returns its path and the offset
// of its vector block.
func faultIndex(t *testing.T, n, dim int) (string, int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.idx")
	require.NoError(t, persistIndex(t, n, dim, 7).Save(path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	h, err := parseHeader(b[:headerSize], int64(len(b)))
	require.NoError(t, err)
	return path, h.vecOff
}

// TestMmapTruncatedMethods truncates the file of a mapped index and calls each method that
// reads the vectors, on one goroutine and on several: each returns an error wrapping
// ErrFileChanged that names the file, instead of ending the process with SIGBUS.
func TestMmapTruncatedMethods(t *testing.T) {
	defer func(m int) { minWorkFloats = m }(minWorkFloats)
	minWorkFloats = 1 << 12 // several workers for 4096 rows of 64
	const n, dim = 4096, 64
	path, _ := faultIndex(t, n, dim)
	q := make([]float32, dim)
	qs := [][]float32{q, q, q, q, q}
	all := func(string, map[string]string) bool { return true }
	ctx := context.Background()
	tests := []struct {
		name string
		call func(ix *Index) error
	}{
		{"Search", func(ix *Index) error { _, err := ix.Search(ctx, q, 5, WithWorkers(4)); return err }},
		{"Search one worker", func(ix *Index) error { _, err := ix.Search(ctx, q, 5, WithWorkers(1)); return err }},
		{"Search with filter", func(ix *Index) error {
			_, err := ix.Search(ctx, q, 5, WithWorkers(4), WithFilter(all))
			return err
		}},
		{"SearchBatch", func(ix *Index) error { _, err := ix.SearchBatch(ctx, qs, 5, WithWorkers(4)); return err }},
		{"Similar", func(ix *Index) error { _, err := ix.Similar(ctx, "img/000003.jpg", 5, WithWorkers(4)); return err }},
		{"SearchAmong", func(ix *Index) error {
			_, err := ix.SearchAmong(ctx, q, []string{"img/000001.jpg", "img/004000.jpg"}, 2)
			return err
		}},
		{"SearchFiltered", func(ix *Index) error { _, err := ix.SearchFiltered(ctx, q, 5, WithFilter(all)); return err }},
		{"SearchFiltered meta", func(ix *Index) error {
			_, err := ix.SearchFiltered(ctx, q, 5, WithMeta("label", "4"))
			return err
		}},
		{"Get", func(ix *Index) error { _, err := ix.Get("img/004000.jpg"); return err }},
		{"WriteTo", func(ix *Index) error { _, err := ix.WriteTo(io.Discard); return err }},
		{"Save", func(ix *Index) error {
			out := filepath.Join(t.TempDir(), "copy.idx")
			err := ix.Save(out)
			if _, serr := os.Stat(out); err != nil && !errors.Is(serr, os.ErrNotExist) {
				return fmt.Errorf("a failed Save left %s: %v", out, serr)
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix, err := Load(path, WithMmap())
			require.NoError(t, err)
			defer ix.Close()
			require.NoError(t, tt.call(ix), "before the truncation")
			require.NoError(t, os.Truncate(path, 4096))
			defer func() { // the next case maps the whole file again
				require.NoError(t, persistIndex(t, n, dim, 7).Save(path))
			}()
			err = tt.call(ix)
			require.ErrorIs(t, err, ErrFileChanged)
			require.ErrorContains(t, err, path)
		})
	}
}

// TestMmapPanicsStillPanic checks that only faults become errors: a panic in a caller's
// filter still reaches the caller, on a mapped index and on one in memory, from the
// caller's goroutine and from the scan's workers.
func TestMmapPanicsStillPanic(t *testing.T) {
	defer func(m int) { minWorkFloats = m }(minWorkFloats)
	minWorkFloats = 1 << 12
	path, _ := faultIndex(t, 4096, 64)
	q := make([]float32, 64)
	boom := WithFilter(func(string, map[string]string) bool { panic("boom") })
	for _, mmap := range []bool{false, true} {
		for _, workers := range []int{1, 4} {
			var opts []LoadOption
			if mmap {
				opts = append(opts, WithMmap())
			}
			ix, err := Load(path, opts...)
			require.NoError(t, err)
			require.PanicsWithValue(t, "boom", func() { _, _ = ix.Search(context.Background(), q, 5, boom, WithWorkers(workers)) },
				"mmap=%v workers=%d", mmap, workers)
			require.PanicsWithValue(t, "boom", func() { _, _ = ix.SearchFiltered(context.Background(), q, 5, boom) },
				"mmap=%v", mmap)
			require.NoError(t, ix.Close())
		}
	}
}

// TestLoadMappedTruncated maps a file that was truncated after its size was read (as when
// another process truncates it while Load opens it), so that the checksum pass reads pages
// that are gone, serially and in parallel: Load's core returns an error wrapping
// ErrFileChanged. Without the checksum pass nothing is read while loading, and the first
// search reports the fault.
func TestLoadMappedTruncated(t *testing.T) {
	defer func(m int64, p int) { scanParallelMin = m; runtime.GOMAXPROCS(p) }(scanParallelMin, runtime.GOMAXPROCS(4))
	const n, dim = 16384, 64 // 4 MiB of vectors
	path, vecOff := faultIndex(t, n, dim)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	size := fi.Size()
	tests := []struct {
		name        string
		parallelMin int64
		truncTo     int64
		skipCRC     bool
	}{
		{"header gone", 32 << 20, 0, false},
		{"serial checksum", 32 << 20, vecOff + 1<<20 + 4096, false},
		{"parallel checksum", 1 << 20, vecOff + 1<<20 + 4096, false},
		{"parallel checksum, all vectors gone", 1 << 20, vecOff, false},
		{"tail gone", 32 << 20, vecOff + int64(n*dim*4), false},
		{"without checksum", 32 << 20, vecOff, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, persistIndex(t, n, dim, 7).Save(path))
			scanParallelMin = tt.parallelMin
			f, err := os.Open(path)
			require.NoError(t, err)
			defer f.Close()
			require.NoError(t, os.Truncate(path, tt.truncTo))
			ix, _, err := loadMapped(f, path, size, loadConfig{mmap: true, skipVecCRC: tt.skipCRC})
			if !tt.skipCRC {
				require.ErrorIs(t, err, ErrFileChanged)
				require.Nil(t, ix)
				return
			}
			require.NoError(t, err) // nothing read the vectors; the read-ahead survives
			defer ix.Close()
			_, err = ix.Search(context.Background(), make([]float32, dim), 3)
			require.ErrorIs(t, err, ErrFileChanged)
			require.ErrorContains(t, err, path)
		})
	}
}

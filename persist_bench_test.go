package pinrec

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// benchPersistSizes: the README's figure is n=100000,d=2048 (819 MB).
var benchPersistSizes = []struct{ n, dim int }{{10000, 2048}, {100000, 2048}}

// benchDir is where the benchmarks write: $PINREC_BENCH_DIR or a temporary directory.
func benchDir(b *testing.B) string {
	if d := os.Getenv("PINREC_BENCH_DIR"); d != "" {
		return d
	}
	return b.TempDir()
}

func BenchmarkPersistSave(b *testing.B) {
	for _, sz := range benchPersistSizes {
		b.Run(fmt.Sprintf("n=%d_d=%d", sz.n, sz.dim), func(b *testing.B) {
			ix := persistIndex(b, sz.n, sz.dim, 1)
			path := filepath.Join(benchDir(b), "bench-save.idx")
			defer os.Remove(path)
			require.NoError(b, ix.Save(path)) // the first Save creates the file; later ones replace it
			fi, err := os.Stat(path)
			require.NoError(b, err)
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := ix.Save(path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPersistLoad(b *testing.B) {
	for _, sz := range benchPersistSizes {
		b.Run(fmt.Sprintf("n=%d_d=%d", sz.n, sz.dim), func(b *testing.B) {
			path := filepath.Join(benchDir(b), "bench-load.idx")
			defer os.Remove(path)
			ix := persistIndex(b, sz.n, sz.dim, 1)
			require.NoError(b, ix.Save(path))
			ix = nil
			runtime.GC()
			fi, err := os.Stat(path)
			require.NoError(b, err)
			// Warm the page cache: the figure is for a file the OS has cached.
			_, err = Load(path)
			require.NoError(b, err)
			runtime.GC()
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				got, err := Load(path)
				if err != nil {
					b.Fatal(err)
				}
				if got.Len() != sz.n {
					b.Fatal("wrong length")
				}
			}
		})
	}
}

func BenchmarkPersistLoadMmap(b *testing.B) {
	for _, sz := range benchPersistSizes {
		b.Run(fmt.Sprintf("n=%d_d=%d", sz.n, sz.dim), func(b *testing.B) {
			path := filepath.Join(benchDir(b), "bench-mmap.idx")
			defer os.Remove(path)
			require.NoError(b, persistIndex(b, sz.n, sz.dim, 1).Save(path))
			runtime.GC()
			fi, err := os.Stat(path)
			require.NoError(b, err)
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				got, err := Load(path, WithMmap())
				if err != nil {
					b.Fatal(err)
				}
				got.Close()
			}
		})
	}
}

// dropPageCache evicts a file from the page cache, for cold-cache benchmarks; nil where the
// system has no way (set by persist_linux_test.go).
var dropPageCache func(path string) error

// writeSyntheticIndex writes an index file of n rows of dim uniform random values, streaming,
// without holding the index in memory (for files larger than RAM would comfortably hold).
func writeSyntheticIndex(tb testing.TB, path string, n, dim int, seed uint64) {
	tb.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("img/%07d.jpg", i)
	}
	head, err := encodeHead(dim, ids, make([]map[string]string, n), map[string]string{"model": "synthetic"}, flatLayout)
	require.NoError(tb, err)
	f, err := os.Create(path)
	require.NoError(tb, err)
	defer f.Close()
	_, err = f.Write(head)
	require.NoError(tb, err)
	crc := crc32.Checksum(head, castagnoli)
	rng := rand.New(rand.NewPCG(seed, 7))
	rows := max(1, (4<<20)/(4*dim))
	buf := make([]float32, rows*dim)
	for lo := 0; lo < n; lo += rows {
		v := buf[:min(rows, n-lo)*dim]
		for j := 0; j+1 < len(v); j += 2 {
			x := rng.Uint64()
			v[j] = float32(int32(x)) / (1 << 31)
			v[j+1] = float32(int32(x>>32)) / (1 << 31)
		}
		if len(v)%2 == 1 {
			v[len(v)-1] = 0.5
		}
		b := vecBlockBytes(v)
		crc = crc32.Update(crc, castagnoli, b)
		_, err := f.Write(b)
		require.NoError(tb, err)
	}
	_, err = f.Write(binary.LittleEndian.AppendUint32(nil, crc))
	require.NoError(tb, err)
	require.NoError(tb, f.Sync())
	require.NoError(tb, f.Close())
}

// BenchmarkPersistMmapOpen measures the time from Load(path, WithMmap()) to the first search
// answer, with and without the vector checksum, on a warm and (on Linux) a cold page cache. The
// 1M x 2048 (8 GB) size runs only with PINREC_BENCH_BIG=1; the file goes to $PINREC_BENCH_DIR
// (default: a temporary directory) and is deleted afterwards unless PINREC_BENCH_KEEP=1.
func BenchmarkPersistMmapOpen(b *testing.B) {
	sizes := []struct{ n, dim int }{{100000, 2048}}
	if os.Getenv("PINREC_BENCH_BIG") == "1" {
		sizes = append(sizes, struct{ n, dim int }{1000000, 2048})
	}
	for _, sz := range sizes {
		b.Run(fmt.Sprintf("n=%d_d=%d", sz.n, sz.dim), func(b *testing.B) {
			path := filepath.Join(benchDir(b), fmt.Sprintf("bench-mmap-%d-%d.idx", sz.n, sz.dim))
			if _, err := os.Stat(path); err != nil {
				start := time.Now()
				writeSyntheticIndex(b, path, sz.n, sz.dim, 1)
				b.Logf("wrote %s in %v", path, time.Since(start))
			}
			if os.Getenv("PINREC_BENCH_KEEP") != "1" {
				b.Cleanup(func() { os.Remove(path) })
			}
			q := make([]float32, sz.dim)
			for j := range q {
				q[j] = float32(j%7) / 7
			}
			for _, cache := range []string{"warm", "cold"} {
				for _, verify := range []bool{true, false} {
					if cache == "cold" && dropPageCache == nil {
						continue
					}
					b.Run(fmt.Sprintf("cache=%s_verify=%v", cache, verify), func(b *testing.B) {
						opts := []LoadOption{WithMmap()}
						if !verify {
							opts = append(opts, WithoutVectorChecksum())
						}
						var open, first, second time.Duration
						var heap uint64
						for b.Loop() {
							b.StopTimer()
							if cache == "cold" {
								require.NoError(b, dropPageCache(path))
							} else {
								ix, err := Load(path, opts...) // warm the cache
								require.NoError(b, err)
								_, err = ix.Search(context.Background(), q, 10)
								require.NoError(b, err)
								require.NoError(b, ix.Close())
							}
							runtime.GC()
							var ms0, ms1 runtime.MemStats
							runtime.ReadMemStats(&ms0)
							b.StartTimer()
							t0 := time.Now()
							ix, err := Load(path, opts...)
							t1 := time.Now()
							require.NoError(b, err)
							_, err = ix.Search(context.Background(), q, 10)
							t2 := time.Now()
							require.NoError(b, err)
							b.StopTimer()
							_, err = ix.Search(context.Background(), q, 10)
							t3 := time.Now()
							require.NoError(b, err)
							runtime.ReadMemStats(&ms1)
							heap += ms1.HeapAlloc - min(ms0.HeapAlloc, ms1.HeapAlloc)
							open += t1.Sub(t0)
							first += t2.Sub(t1)
							second += t3.Sub(t2)
							require.NoError(b, ix.Close())
							b.StartTimer()
						}
						n := float64(b.N)
						b.ReportMetric(open.Seconds()/n, "open_s")
						b.ReportMetric(first.Seconds()/n, "first_search_s")
						b.ReportMetric((open+first).Seconds()/n, "open_to_answer_s")
						b.ReportMetric(second.Seconds()/n, "next_search_s")
						b.ReportMetric(float64(heap)/n/(1<<20), "heap_MiB")
					})
				}
			}
		})
	}
}

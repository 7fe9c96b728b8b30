package pinrec

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "missing.idx"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Contains(t, err.Error(), "missing.idx")
	_, err = Load(dir, WithMmap())
	require.ErrorIs(t, err, ErrBadFormat)
	require.Contains(t, err.Error(), dir)
}

func TestLoadWithoutVectorChecksum(t *testing.T) {
	good := persistEncode(t)
	vecOff := int(binary.LittleEndian.Uint64(good[32:]))
	bad := bytes.Clone(good)
	bad[vecOff+9] ^= 1 // a vector bit
	path := filepath.Join(t.TempDir(), "bad.idx")
	require.NoError(t, os.WriteFile(path, bad, 0o644))
	for _, l := range persistLoaders {
		_, err := l.load(path)
		require.ErrorIs(t, err, ErrChecksum, l.name)
		ix, err := l.load(path, WithoutVectorChecksum())
		require.NoError(t, err, l.name)
		require.Equal(t, 20, ix.Len())
		require.NoError(t, ix.Close())
	}
	// The header and metadata are still verified.
	bad = bytes.Clone(good)
	bad[70] ^= 1
	require.NoError(t, os.WriteFile(path, bad, 0o644))
	for _, l := range persistLoaders {
		_, err := l.load(path, WithoutVectorChecksum())
		require.ErrorIs(t, err, ErrChecksum, l.name)
	}
}

func TestLoadMmapIsReadOnlyAndCloses(t *testing.T) {
	want := persistIndex(t, 500, 64, 11)
	path := filepath.Join(t.TempDir(), "m.idx")
	require.NoError(t, want.Save(path))
	ix, err := Load(path, WithMmap())
	require.NoError(t, err)
	requireSameIndex(t, want, ix)
	require.NotNil(t, ix.mapping)

	err = ix.Add(Item{ID: "new", Vector: make([]float32, 64)})
	require.ErrorIs(t, err, ErrReadOnly)
	require.ErrorIs(t, ix.Remove("img/000001.jpg"), ErrReadOnly)

	ctx := context.Background()
	got, err := ix.Similar(ctx, "img/000007.jpg", 5)
	require.NoError(t, err)
	wantRes, err := want.Similar(ctx, "img/000007.jpg", 5)
	require.NoError(t, err)
	require.Equal(t, wantRes, got)

	// A mapped index saves like any other: Save renames, never writes into the mapping.
	require.NoError(t, ix.Save(path))
	again, err := Load(path)
	require.NoError(t, err)
	requireSameIndex(t, want, again)
	requireSameIndex(t, want, ix)

	require.NoError(t, ix.Close())
	require.NoError(t, ix.Close())
	_, err = ix.Get("img/000001.jpg")
	require.ErrorIs(t, err, ErrIndexClosed)
	_, err = ix.Search(ctx, make([]float32, 64), 3)
	require.ErrorIs(t, err, ErrIndexClosed)
	_, err = ix.WriteTo(io.Discard)
	require.ErrorIs(t, err, ErrIndexClosed)
	require.ErrorIs(t, ix.Save(path+".2"), ErrIndexClosed)
}

// TestLoadMmapDroppedWithoutClose leaves a mapped index to the garbage collector: the cleanup
// unmaps it (a safety net; Close is the rule).
func TestLoadMmapDroppedWithoutClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.idx")
	require.NoError(t, persistIndex(t, 10, 8, 1).Save(path))
	ix, err := Load(path, WithMmap())
	require.NoError(t, err)
	mf, ok := ix.mapping.(*mappedFile)
	require.True(t, ok)
	m := mf.Mapping
	ix = nil
	for range 50 {
		runtime.GC()
		if m.Data() == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the mapping of an unreachable index was not released")
}

// TestLoadLargeParallel loads a vector block large enough for the parallel scan (several
// goroutines, CRCs combined), and finds corruption and non-finite values in its last part.
func TestLoadLargeParallel(t *testing.T) {
	// Parts of 3 MiB on four goroutines, whatever the machine: 0-3, 3-6, 6-8.6 MiB and an
	// empty one.
	defer func(m, p int64) { scanParallelMin = m; runtime.GOMAXPROCS(int(p)) }(scanParallelMin, int64(runtime.GOMAXPROCS(4)))
	scanParallelMin = 1 << 20
	want := persistIndex(t, 1100, 2048, 8)
	path := filepath.Join(t.TempDir(), "big.idx")
	require.NoError(t, want.Save(path))
	for _, l := range persistLoaders {
		got, err := l.load(path)
		require.NoError(t, err, l.name)
		requireSameIndex(t, want, got)
		require.NoError(t, got.Close())
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	vecOff := int(binary.LittleEndian.Uint64(b[32:]))
	row := 1000 // in the last non-empty part
	at := vecOff + (row*2048+17)*4
	b[at] ^= 4
	require.NoError(t, os.WriteFile(path, b, 0o644))
	for _, l := range persistLoaders {
		_, err := l.load(path)
		require.ErrorIs(t, err, ErrChecksum, l.name)
	}
	binary.LittleEndian.PutUint32(b[at:], math.Float32bits(float32(math.Inf(1))))
	persistFixCRCs(b)
	require.NoError(t, os.WriteFile(path, b, 0o644))
	for _, l := range persistLoaders {
		_, err := l.load(path)
		require.ErrorIs(t, err, ErrNonFinite, l.name)
		require.Contains(t, err.Error(), fmt.Sprintf("row %d", row), l.name)
	}
}

func TestLoadFiniteCheck(t *testing.T) {
	vals := []float32{0, 1, -1, math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.Float32frombits(0x7f800001),
		math.Float32frombits(0xff800000 | 123)}
	buf := make([]byte, 4*80+4)
	for _, v := range vals {
		for n := 1; n <= 67; n++ {
			for _, shift := range []int{0, 4} { // 8-aligned and not
				b := buf[shift : shift+4*n]
				for i := range n {
					binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(0.5))
				}
				for _, at := range []int{0, n / 2, n - 1} {
					binary.LittleEndian.PutUint32(b[4*at:], math.Float32bits(v))
					finite := !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
					require.Equal(t, finite, allFinite(b), "n=%d shift=%d at=%d v=%v", n, shift, at, v)
					if !finite {
						require.Equal(t, at, firstNonFinite(b, 1))
					}
					binary.LittleEndian.PutUint32(b[4*at:], math.Float32bits(0.5))
				}
			}
		}
	}
}

// TestPersistBigEndianPaths runs the byte-swapping code of big-endian hosts (which decodes and
// encodes explicitly, so it is right on any host) by pretending the host is big-endian.
func TestPersistBigEndianPaths(t *testing.T) {
	want := persistIndex(t, 300, 33, 4)
	path := filepath.Join(t.TempDir(), "be.idx")
	require.NoError(t, want.Save(path))
	file, err := os.ReadFile(path)
	require.NoError(t, err)

	hostLittleEndian = false
	defer func() { hostLittleEndian = true }()
	var buf bytes.Buffer
	_, err = want.WriteTo(&buf)
	require.NoError(t, err)
	require.True(t, bytes.Equal(file, buf.Bytes()), "the big-endian encoder writes other bytes")
	for _, l := range persistLoaders {
		got, err := l.load(path)
		require.NoError(t, err, l.name)
		requireSameIndex(t, want, got)
		require.NoError(t, got.Close())
	}
	binary.LittleEndian.PutUint32(file[len(file)-8:], math.Float32bits(float32(math.NaN())))
	persistFixCRCs(file)
	require.NoError(t, os.WriteFile(path, file, 0o644))
	for _, l := range persistLoaders {
		_, err := l.load(path)
		require.ErrorIs(t, err, ErrNonFinite, l.name)
	}
}

// persistPython is the interpreter for the NumPy reader: $PINREC_PYTHON or the repository's
// .venv (make setup creates it). Missing Python is a failure, not a skip.
func persistPython(t *testing.T) string {
	t.Helper()
	py := os.Getenv("PINREC_PYTHON")
	if py == "" {
		py = filepath.Join(".venv", "bin", "python")
	}
	p, err := exec.LookPath(py)
	require.NoError(t, err, "no Python for tools/read_index.py: run `make setup` or set PINREC_PYTHON")
	return p
}

// TestPersistNumPyReader proves that another language reads the file without pinrec:
// tools/read_index.py parses the header and metadata, checks the head checksum and maps the
// vectors with numpy.memmap; its IDs, metadata, vector digest and nearest neighbours must
// match.
func TestPersistNumPyReader(t *testing.T) {
	ix := persistIndex(t, 257, 96, 21)
	ix.SetInfo("weights", "random (seed 0)")
	path := filepath.Join(t.TempDir(), "np.idx")
	require.NoError(t, ix.Save(path))

	cmd := exec.Command(persistPython(t), filepath.Join("tools", "read_index.py"), "--json", "--verify", "--neighbours", "5", path)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err)
	var res struct {
		Version, Dim, Count int
		VectorOffset        int64 `json:"vector_offset"`
		Info                map[string]string
		IDs                 []string
		Meta                []map[string]string
		VectorsSHA256       string    `json:"vectors_sha256"`
		FirstRow            []float64 `json:"first_row"`
		Neighbours          []string  `json:"neighbours"`
		Distances           []float64 `json:"distances"`
		Checks              []string  `json:"checks"`
	}
	require.NoError(t, json.Unmarshal(out, &res), "%s", out)
	require.Equal(t, FormatVersion, res.Version)
	require.Equal(t, 96, res.Dim)
	require.Equal(t, 257, res.Count)
	require.Zero(t, res.VectorOffset%4096)
	require.Equal(t, ix.info, res.Info)
	require.Equal(t, ix.ids, res.IDs)
	for i := range ix.meta {
		if ix.meta[i] == nil {
			require.Empty(t, res.Meta[i])
		} else {
			require.Equal(t, ix.meta[i], res.Meta[i])
		}
	}
	le := make([]byte, 0, len(ix.vectors)*4)
	for _, v := range ix.vectors {
		le = binary.LittleEndian.AppendUint32(le, math.Float32bits(v))
	}
	sum := sha256.Sum256(le)
	require.Equal(t, hex.EncodeToString(sum[:]), res.VectorsSHA256)
	require.Len(t, res.FirstRow, 96)
	for j, v := range res.FirstRow {
		require.Equal(t, ix.vectors[j], float32(v))
	}
	require.Contains(t, res.Checks, "head_crc")
	require.Contains(t, res.Checks, "file_crc")

	near, err := ix.Similar(context.Background(), ix.ids[0], 5)
	require.NoError(t, err)
	ids := make([]string, len(near))
	for i, r := range near {
		ids[i] = r.ID
		assert.InDelta(t, res.Distances[i], float64(r.Distance), 1e-4*res.Distances[i])
	}
	require.Equal(t, res.Neighbours, ids)
}

// TestPersistNumPyReaderKinds: tools/read_index.py reads both versions and locates an
// extension where the Go reader finds it.
func TestPersistNumPyReaderKinds(t *testing.T) {
	for _, tc := range []struct {
		file, kind string
		version    int
	}{
		{"small_v1.idx", KindFlat, 1},
		{"small_v2.idx", KindFlat, 2},
		{"small_v2_ext.idx", "test-graph", 2},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "persist", tc.file)
			cmd := exec.Command(persistPython(t), filepath.Join("tools", "read_index.py"), "--json", "--verify", path)
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			require.NoError(t, err)
			var res struct {
				Version   int
				Kind      string
				IDs       []string
				ExtOffset int64 `json:"extension_offset"`
				ExtLength int64 `json:"extension_length"`
				Checks    []string
			}
			require.NoError(t, json.Unmarshal(out, &res), "%s", out)
			ix, ext, err := LoadExtended(path)
			require.NoError(t, err)
			require.Equal(t, tc.version, res.Version)
			require.Equal(t, tc.kind, res.Kind)
			require.Equal(t, ext.Kind, res.Kind)
			require.Equal(t, ix.IDs(), res.IDs)
			require.EqualValues(t, len(ext.Data), res.ExtLength)
			file, err := os.ReadFile(path)
			require.NoError(t, err)
			require.True(t, bytes.Equal(ext.Data, file[res.ExtOffset:res.ExtOffset+res.ExtLength]))
			require.Contains(t, res.Checks, "file_crc")
		})
	}
}

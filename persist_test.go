package pinrec

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// update regenerates golden files: go test -run TestPersistGolden -update .
var update = flag.Bool("update", false, "rewrite golden files in testdata")

// persistIndex returns an index of n items of dimension dim with seeded uniform random
// vectors, metadata on every other item and some info.
func persistIndex(t testing.TB, n, dim int, seed uint64) *Index {
	t.Helper()
	ix, err := NewIndex(dim, WithCapacity(n))
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(seed, 42))
	const batch = 1024
	vec := make([]float32, batch*dim)
	items := make([]Item, 0, batch)
	for lo := 0; lo < n; lo += batch {
		items = items[:0]
		for i := lo; i < min(lo+batch, n); i++ {
			v := vec[(i-lo)*dim : (i-lo+1)*dim]
			for j := 0; j < dim; j += 2 {
				x := rng.Uint64() // two uniform values in [-1, 1)
				v[j] = float32(int32(x)) / (1 << 31)
				if j+1 < dim {
					v[j+1] = float32(int32(x>>32)) / (1 << 31)
				}
			}
			it := Item{ID: fmt.Sprintf("img/%06d.jpg", i), Vector: v}
			if i%2 == 0 {
				it.Meta = map[string]string{"path": "/pins/" + it.ID, "label": strconv.Itoa(i % 10)}
			}
			items = append(items, it)
		}
		require.NoError(t, ix.Add(items...))
	}
	ix.SetInfo("model", "resnet50")
	ix.SetInfo("seed", strconv.FormatUint(seed, 10))
	return ix
}

// requireSameIndex checks that got holds exactly what want holds: dimension, IDs in order,
// metadata, info and every vector bit.
func requireSameIndex(t *testing.T, want, got *Index) {
	t.Helper()
	require.Equal(t, want.dim, got.dim, "dim")
	require.Equal(t, len(want.ids), len(got.ids), "number of ids")
	for i := range want.ids {
		require.Equal(t, want.ids[i], got.ids[i], "id of row %d", i)
	}
	require.Len(t, got.meta, len(want.meta))
	for i := range want.meta {
		require.Equal(t, want.meta[i], got.meta[i], "meta of row %d", i)
	}
	require.Equal(t, len(want.info), len(got.info), "info")
	for k, v := range want.info {
		require.Equal(t, v, got.info[k], "info %q", k)
	}
	require.Len(t, got.vectors, len(want.vectors))
	for i := range want.vectors {
		if math.Float32bits(want.vectors[i]) != math.Float32bits(got.vectors[i]) {
			require.Failf(t, "vectors differ", "value %d: want %v got %v", i, want.vectors[i], got.vectors[i])
		}
	}
	require.Len(t, got.pos, len(want.ids))
	for i, id := range want.ids {
		require.Equal(t, i, got.pos[id])
	}
}

// persistLoaders are the three ways to decode a file.
var persistLoaders = []struct {
	name string
	load func(path string, opts ...LoadOption) (*Index, error)
}{
	{"Load", Load},
	{"LoadMmap", func(path string, opts ...LoadOption) (*Index, error) {
		return Load(path, append(opts, WithMmap())...)
	}},
	{"ReadIndex", func(path string, opts ...LoadOption) (*Index, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		ix, err := ReadIndex(bytes.NewReader(b), int64(len(b)), opts...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err) // so that every loader names the file
		}
		return ix, err
	}},
}

func TestSaveLoadRoundTrip(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, -math.MaxFloat32,
		math.MaxFloat32, 1, -1, 0.1, float32(math.Float32frombits(0x7f7fffff)), float32(math.Float32frombits(0x00000001))}
	cases := []struct {
		name  string
		build func(t *testing.T) *Index
	}{
		{"empty", func(t *testing.T) *Index {
			ix, err := NewIndex(3)
			require.NoError(t, err)
			return ix
		}},
		{"empty with info", func(t *testing.T) *Index {
			ix, err := NewIndex(2048)
			require.NoError(t, err)
			ix.SetInfo("model", "resnet50")
			return ix
		}},
		{"one item dim 1", func(t *testing.T) *Index {
			ix, err := NewIndex(1)
			require.NoError(t, err)
			require.NoError(t, ix.Add(Item{ID: "a", Vector: []float32{-2.5}}))
			return ix
		}},
		{"special values and odd strings", func(t *testing.T) *Index {
			ix, err := NewIndex(len(special))
			require.NoError(t, err)
			require.NoError(t, ix.Add(
				Item{ID: "zero\x00byte", Vector: special, Meta: map[string]string{"": "empty key", "k": ""}},
				Item{ID: "épingle 📌", Vector: special, Meta: map[string]string{"b": "2", "a": "1", "ü": "\xff\xfe"}},
				Item{ID: strings.Repeat("x", 5000), Vector: special},
			))
			ix.SetInfo("weights", "random (seed 0): NOT pretrained")
			ix.SetInfo("a", "b")
			return ix
		}},
		{"after remove and replace", func(t *testing.T) *Index {
			ix := persistIndex(t, 50, 7, 1)
			require.NoError(t, ix.Remove("img/000003.jpg", "img/000010.jpg"))
			require.NoError(t, ix.Add(Item{ID: "img/000004.jpg", Vector: make([]float32, 7), Meta: map[string]string{"x": "y"}}))
			return ix
		}},
		{"2048-d", func(t *testing.T) *Index { return persistIndex(t, 300, 2048, 2) }},
		{"metadata past the first page", func(t *testing.T) *Index { return persistIndex(t, 2000, 3, 3) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.build(t)
			path := filepath.Join(t.TempDir(), "pins.idx")
			require.NoError(t, want.Save(path))

			// The file and WriteTo agree, and saving again gives the same bytes.
			file, err := os.ReadFile(path)
			require.NoError(t, err)
			var buf bytes.Buffer
			n, err := want.WriteTo(&buf)
			require.NoError(t, err)
			require.Equal(t, int64(len(file)), n)
			require.True(t, bytes.Equal(file, buf.Bytes()), "WriteTo and Save differ")

			for _, l := range persistLoaders {
				got, err := l.load(path)
				require.NoError(t, err, l.name)
				requireSameIndex(t, want, got)
				var again bytes.Buffer
				_, err = got.WriteTo(&again)
				require.NoError(t, err)
				require.True(t, bytes.Equal(file, again.Bytes()), "%s: re-encoding differs", l.name)
				require.NoError(t, got.Close())
			}
		})
	}
}

func TestSaveLayoutIsAsDocumented(t *testing.T) {
	ix := persistIndex(t, 100, 5, 7)
	path := filepath.Join(t.TempDir(), "x.idx")
	require.NoError(t, ix.Save(path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	le := binary.LittleEndian
	require.Equal(t, "PINRECIX", string(b[:8]))
	require.EqualValues(t, FormatVersion, le.Uint32(b[8:]))
	require.EqualValues(t, 5, le.Uint32(b[12:]))
	require.EqualValues(t, 100, le.Uint64(b[16:]))
	metaLen, vecOff, size := le.Uint64(b[24:]), le.Uint64(b[32:]), le.Uint64(b[40:])
	require.Zero(t, vecOff%4096)
	require.Equal(t, (64+metaLen+4+4095)/4096*4096, vecOff)
	require.EqualValues(t, len(b), size)
	require.Equal(t, vecOff+100*5*4+4, size)
	require.Equal(t, crc32.Checksum(b[:64+metaLen], castagnoli), le.Uint32(b[64+metaLen:]))
	require.Equal(t, crc32.Checksum(b[:size-4], castagnoli), le.Uint32(b[size-4:]))
	// The vectors, read the way another language would.
	for i := range 100 * 5 {
		got := math.Float32frombits(le.Uint32(b[vecOff+uint64(4*i):]))
		require.Equal(t, math.Float32bits(ix.vectors[i]), math.Float32bits(got))
	}
	// The first ID follows the (two-entry) info map.
	r := &metaReader{b: b[64 : 64+metaLen]}
	require.Len(t, r.strMap(""), 2)
	require.Equal(t, "img/000000.jpg", r.str())
}

// TestPersistGolden pins the format: a file written by this version must stay readable, and the
// writer must not drift. Regenerate with -update only when FormatVersion changes.
func TestPersistGolden(t *testing.T) {
	golden := filepath.Join("testdata", "persist", "small_v1.idx")
	ix, err := NewIndex(4)
	require.NoError(t, err)
	require.NoError(t, ix.Add(
		Item{ID: "red.jpg", Vector: []float32{1, 0, 0, 0.5}, Meta: map[string]string{"label": "dress", "path": "pins/red.jpg"}},
		Item{ID: "blue.jpg", Vector: []float32{0, 1, 0, -0.25}},
		Item{ID: "green.jpg", Vector: []float32{0, 0, 1, 1e-3}, Meta: map[string]string{"label": "bag"}},
	))
	ix.SetInfo("model", "resnet50")
	var buf bytes.Buffer
	_, err = ix.WriteTo(&buf)
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
		require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -run TestPersistGolden -update . to create it")
	require.True(t, bytes.Equal(want, buf.Bytes()), "the encoder no longer writes %s", golden)
	got, err := Load(golden)
	require.NoError(t, err)
	requireSameIndex(t, ix, got)
}

// persistFixCRCs recomputes both checksums of an encoded file in place, if its header is
// readable, so that tests and the fuzzer reach the checks behind them.
func persistFixCRCs(b []byte) {
	if len(b) < headerSize {
		return
	}
	le := binary.LittleEndian
	metaLen := le.Uint64(b[24:])
	if metaLen <= uint64(len(b)) && headerSize+metaLen+crcSize <= uint64(len(b)) {
		le.PutUint32(b[headerSize+metaLen:], crc32.Checksum(b[:headerSize+metaLen], castagnoli))
	}
	if len(b) >= headerSize+crcSize {
		le.PutUint32(b[len(b)-crcSize:], crc32.Checksum(b[:len(b)-crcSize], castagnoli))
	}
}

// persistEncode returns the file of a small index with metadata.
func persistEncode(t testing.TB) []byte {
	t.Helper()
	ix := persistIndex(t, 20, 6, 9)
	var buf bytes.Buffer
	_, err := ix.WriteTo(&buf)
	require.NoError(t, err)
	return buf.Bytes()
}

func TestLoadCorruptFiles(t *testing.T) {
	good := persistEncode(t)
	le := binary.LittleEndian
	metaLen := int(le.Uint64(good[24:]))
	vecOff := int(le.Uint64(good[32:]))
	// edit returns a copy of good changed by f; fix recomputes the checksums afterwards.
	edit := func(f func(b []byte) []byte, fix bool) []byte {
		b := f(bytes.Clone(good))
		if fix {
			persistFixCRCs(b)
		}
		return b
	}
	put64 := func(off int, v uint64) func([]byte) []byte {
		return func(b []byte) []byte { le.PutUint64(b[off:], v); return b }
	}
	flip := func(off int) func([]byte) []byte {
		return func(b []byte) []byte { b[off] ^= 0x10; return b }
	}
	// rowMeta finds the encoded first ID, to rewrite it.
	firstID := bytes.Index(good[64:], []byte("img/000000.jpg")) + 64
	require.Greater(t, firstID, 64)
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	cases := []struct {
		name      string
		data      []byte
		sentinels []error
	}{
		{"empty file", nil, []error{ErrBadFormat}},
		{"foreign PNG", append(png, make([]byte, 5000)...), []error{ErrBadFormat}},
		{"foreign text", []byte("id,vector\nfoo,1 2 3\n"), []error{ErrBadFormat}},
		{"short magic", good[:5], []error{ErrBadFormat, io.ErrUnexpectedEOF}},
		{"header only", good[:64], []error{ErrBadFormat, io.ErrUnexpectedEOF}},
		{"half the metadata", good[:64+metaLen/2], []error{ErrBadFormat, io.ErrUnexpectedEOF}},
		{"no vectors", good[:vecOff], []error{ErrBadFormat, io.ErrUnexpectedEOF}},
		{"half the vectors", good[:vecOff+(len(good)-vecOff)/2], []error{ErrBadFormat, io.ErrUnexpectedEOF}},
		{"last byte missing", good[:len(good)-1], []error{ErrBadFormat, io.ErrUnexpectedEOF}},
		{"trailing byte", append(bytes.Clone(good), 0), []error{ErrBadFormat}},
		{"version 2", edit(func(b []byte) []byte { le.PutUint32(b[8:], 2); return b }, false), []error{ErrUnsupportedVersion}},
		{"version 0", edit(func(b []byte) []byte { le.PutUint32(b[8:], 0); return b }, true), []error{ErrUnsupportedVersion}},
		{"flipped bit in header", edit(flip(13), false), []error{ErrBadFormat}},
		{"flipped bit in metadata", edit(flip(64+metaLen/2), false), []error{ErrChecksum}},
		{"flipped head checksum", edit(flip(64+metaLen), false), []error{ErrChecksum}},
		{"flipped bit in padding", edit(flip(vecOff-1), false), []error{ErrBadFormat}},
		{"flipped bit in vectors", edit(flip(vecOff+100), false), []error{ErrChecksum}},
		{"flipped file checksum", edit(flip(len(good)-2), false), []error{ErrChecksum}},
		{"reserved bytes", edit(put64(48, 1), true), []error{ErrBadFormat}},
		{"dimension 0", edit(func(b []byte) []byte { le.PutUint32(b[12:], 0); return b }, true), []error{ErrBadFormat}},
		{"dimension doubled", edit(func(b []byte) []byte { le.PutUint32(b[12:], 12); return b }, true), []error{ErrBadFormat}},
		{"count 2^60", edit(put64(16, 1<<60), true), []error{ErrBadFormat}},
		{"count max", edit(put64(16, math.MaxUint64), true), []error{ErrBadFormat}},
		{"count+1", edit(put64(16, 21), true), []error{ErrBadFormat}},
		{"count-1", edit(put64(16, 19), true), []error{ErrBadFormat}},
		{"metadata length huge", edit(put64(24, math.MaxUint64-10), true), []error{ErrBadFormat}},
		{"metadata length -1", edit(put64(24, uint64(metaLen-1)), true), []error{ErrBadFormat}},
		{"vector offset unaligned", edit(put64(32, uint64(vecOff+4)), true), []error{ErrBadFormat}},
		{"file size huge", edit(put64(40, math.MaxUint64), true), []error{ErrBadFormat}},
		{"file size small", edit(put64(40, uint64(len(good)-4)), true), []error{ErrBadFormat}},
		{"info count huge", edit(func(b []byte) []byte { le.PutUint32(b[64:], math.MaxUint32); return b }, true), []error{ErrBadFormat}},
		{"id length huge", edit(func(b []byte) []byte { le.PutUint32(b[firstID-4:], math.MaxUint32); return b }, true), []error{ErrBadFormat}},
		{"empty id", edit(func(b []byte) []byte {
			// "img/000000.jpg" -> a zero length, then 14 bytes that are not a valid continuation.
			le.PutUint32(b[firstID-4:], 0)
			return b
		}, true), []error{ErrBadFormat}},
		{"duplicate id", edit(func(b []byte) []byte {
			i := bytes.Index(b[64:], []byte("img/000001.jpg")) + 64
			copy(b[i:], "img/000000.jpg")
			return b
		}, true), []error{ErrBadFormat}},
		{"unsorted keys", edit(func(b []byte) []byte {
			// Row 0's meta is label then path: swap the key names' first letters so "path" < "label" fails.
			i := bytes.Index(b[firstID:], []byte("label")) + firstID
			copy(b[i:], "zabel")
			return b
		}, true), []error{ErrBadFormat}},
		{"NaN vector", edit(func(b []byte) []byte {
			le.PutUint32(b[vecOff+4*6*3+8:], math.Float32bits(float32(math.NaN())))
			return b
		}, true), []error{ErrBadFormat, ErrNonFinite}},
		{"infinite vector", edit(func(b []byte) []byte {
			le.PutUint32(b[len(b)-8:], math.Float32bits(float32(math.Inf(-1))))
			return b
		}, true), []error{ErrBadFormat, ErrNonFinite}},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".idx")
			require.NoError(t, os.WriteFile(path, tc.data, 0o644))
			for _, l := range persistLoaders {
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				ix, err := l.load(path)
				runtime.ReadMemStats(&ms1)
				require.Error(t, err, l.name)
				require.Nil(t, ix)
				for _, s := range tc.sentinels {
					require.ErrorIs(t, err, s, "%s: %v", l.name, err)
				}
				require.Contains(t, err.Error(), path, l.name)
				// Never an allocation beyond what the file's size implies (plus slack for
				// the error values and the runtime).
				alloc := ms1.TotalAlloc - ms0.TotalAlloc
				assert.Less(t, alloc, uint64(3*len(tc.data)+64<<10), "%s allocated %d bytes for a %d-byte file", l.name, alloc, len(tc.data))
			}
		})
	}
}

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
	m, ok := ix.mapping.(*mapping)
	require.True(t, ok)
	ix = nil
	for range 50 {
		runtime.GC()
		m.mu.Lock()
		done := m.data == nil
		m.mu.Unlock()
		if done {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the mapping of an unreachable index was not released")
}

func TestSavePermissions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.idx")
	ix := persistIndex(t, 3, 2, 1)
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	require.NoError(t, os.Chmod(path, 0o640))
	require.NoError(t, ix.Save(path))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	if runtime.GOOS != "windows" {
		require.Equal(t, fs.FileMode(0o640), fi.Mode().Perm())
	}
	err = ix.Save(filepath.Join(dir, "missing", "p.idx"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Contains(t, err.Error(), filepath.Join(dir, "missing", "p.idx"))
}

// errInjected is the failure the fault-injecting file system returns.
var errInjected = errors.New("injected failure")

// faultFS is the real file system with one step made to fail.
type faultFS struct {
	osFS
	stage   string // "create", "write", "short-write", "sync", "close", "rename", "syncdir"
	after   int64  // for write stages: how many bytes succeed first
	renamed bool
}

type faultFile struct {
	saveFile
	fs      *faultFS
	written int64
}

func (f *faultFS) createTemp(dir, target string) (saveFile, error) {
	if f.stage == "create" {
		return nil, errInjected
	}
	sf, err := f.osFS.createTemp(dir, target)
	if err != nil {
		return nil, err
	}
	return &faultFile{saveFile: sf, fs: f}, nil
}

func (f *faultFS) rename(oldpath, newpath string) error {
	if f.stage == "rename" {
		return errInjected
	}
	f.renamed = true
	return f.osFS.rename(oldpath, newpath)
}

func (f *faultFS) syncDir(dir string) error {
	if f.stage == "syncdir" {
		return errInjected
	}
	return f.osFS.syncDir(dir)
}

func (f *faultFile) Write(b []byte) (int, error) {
	if (f.fs.stage == "write" || f.fs.stage == "short-write") && f.written+int64(len(b)) > f.fs.after {
		n, err := f.saveFile.Write(b[:f.fs.after-f.written])
		f.written += int64(n)
		if err == nil && f.fs.stage == "write" {
			err = errInjected
		}
		return n, err
	}
	n, err := f.saveFile.Write(b)
	f.written += int64(n)
	return n, err
}

func (f *faultFile) Sync() error {
	if f.fs.stage == "sync" {
		return errInjected
	}
	return f.saveFile.Sync()
}

func (f *faultFile) Close() error {
	err := f.saveFile.Close()
	if f.fs.stage == "close" {
		return errInjected
	}
	return err
}

// TestSaveAtomicUnderFaults makes each step of Save fail in turn, over an existing index file:
// the error names the file and the step's error, no temporary file is left, and the file still
// holds the previous index (or, once the rename is done, the new one), complete.
func TestSaveAtomicUnderFaults(t *testing.T) {
	old := persistIndex(t, 40, 300, 1)
	newer := persistIndex(t, 1000, 300, 2) // vectors span two write chunks
	var enc bytes.Buffer
	_, err := newer.WriteTo(&enc)
	require.NoError(t, err)
	size := int64(enc.Len())
	metaLen := int64(binary.LittleEndian.Uint64(enc.Bytes()[24:]))
	vecOff := int64(binary.LittleEndian.Uint64(enc.Bytes()[32:]))
	type step struct {
		stage string
		after int64
	}
	steps := []step{{"create", 0}, {"sync", 0}, {"close", 0}, {"rename", 0}, {"syncdir", 0}}
	for _, after := range []int64{0, 1, 63, 64, 64 + metaLen/2, 64 + metaLen + 2, vecOff - 1, vecOff, vecOff + 4000,
		vecOff + ioChunk + 3, size - 5, size - 4, size - 1} {
		require.Less(t, after, size)
		steps = append(steps, step{"write", after}, step{"short-write", after})
	}
	for _, st := range steps {
		t.Run(fmt.Sprintf("%s@%d", st.stage, st.after), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "pins.idx")
			require.NoError(t, old.Save(path))
			fsys := &faultFS{stage: st.stage, after: st.after}
			err := newer.save(fsys, path)
			require.Error(t, err)
			err = fmt.Errorf("save %s: %w", path, err) // as Save wraps it
			if st.stage == "short-write" {
				require.ErrorIs(t, err, io.ErrShortWrite)
			} else {
				require.ErrorIs(t, err, errInjected)
			}

			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 1, "a temporary file was left behind")
			require.Equal(t, "pins.idx", entries[0].Name())

			got, err := Load(path)
			require.NoError(t, err)
			if fsys.renamed {
				requireSameIndex(t, newer, got)
			} else {
				requireSameIndex(t, old, got)
			}
		})
	}
}

// TestSaveFailsWhenTargetIsADirectory: the rename fails for real, and the temp file goes.
func TestSaveFailsWhenTargetIsADirectory(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "idx")
	require.NoError(t, os.Mkdir(target, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(target, "keep"), nil, 0o644))
	err := persistIndex(t, 3, 2, 1).Save(target)
	require.Error(t, err)
	require.Contains(t, err.Error(), target)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

// persistChildEnv selects the child process of the kill tests.
const persistChildEnv = "PINREC_TEST_SAVE_CHILD"

// pausingFS lets a save run until half its bytes are written, then tells the parent and
// hangs there, so that the parent kills it mid-write.
type pausingFS struct {
	osFS
	half int64
}

type pausingFile struct {
	saveFile
	half, written int64
}

func (p pausingFS) createTemp(dir, target string) (saveFile, error) {
	f, err := p.osFS.createTemp(dir, target)
	if err != nil {
		return nil, err
	}
	return &pausingFile{saveFile: f, half: p.half}, nil
}

func (f *pausingFile) Write(b []byte) (int, error) {
	n, err := f.saveFile.Write(b)
	f.written += int64(n)
	if f.written >= f.half {
		fmt.Printf("midway %s %d\n", f.Name(), f.written)
		os.Stdout.Sync()
		time.Sleep(time.Hour)
	}
	return n, err
}

// persistChild runs the child half of the kill tests, in a re-executed test binary.
func persistChild(t *testing.T) {
	path := os.Getenv(persistChildEnv)
	switch os.Getenv(persistChildEnv + "_MODE") {
	case "midway":
		ix := persistIndex(t, 4096, 2048, 99) // 32 MiB
		size := int64(len(ix.vectors)) * 4
		err := ix.save(pausingFS{half: size / 2}, path)
		t.Fatalf("save returned %v instead of being killed", err)
	case "loop":
		a, b := persistIndex(t, 1024, 2048, 5), persistIndex(t, 1300, 2048, 6)
		for i := 0; ; i++ {
			require.NoError(t, []*Index{a, b}[i%2].Save(path))
			fmt.Printf("saved %d\n", i)
		}
	}
	t.Fatal("unknown child mode")
}

// startPersistChild re-executes the test binary as a child running mode, and returns it with
// the lines of its standard output.
func startPersistChild(t *testing.T, test, path, mode string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), persistChildEnv+"="+path, persistChildEnv+"_MODE="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, lines
}

// waitLine returns the next line with the prefix, failing after a minute.
func waitLine(t *testing.T, lines <-chan string, prefix string) string {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "the child exited before printing %q", prefix)
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %q from the child in a minute", prefix)
		}
	}
}

// TestSaveKilledMidway kills a process in the middle of writing a 32 MiB index over an
// existing one: the old file loads intact, the leftover temporary file is refused as
// truncated, and a later Save replaces the file.
func TestSaveKilledMidway(t *testing.T) {
	if os.Getenv(persistChildEnv) != "" {
		persistChild(t)
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "pins.idx")
	old := persistIndex(t, 100, 2048, 1)
	require.NoError(t, old.Save(path))

	cmd, lines := startPersistChild(t, "TestSaveKilledMidway", path, "midway")
	var tmp string
	var written int64
	_, err := fmt.Sscanf(waitLine(t, lines, "midway "), "midway %s %d", &tmp, &written)
	require.NoError(t, err)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	fi, err := os.Stat(tmp)
	require.NoError(t, err, "the partial temporary file")
	require.GreaterOrEqual(t, fi.Size(), written/2)
	require.Equal(t, filepath.Dir(path), filepath.Dir(tmp), "the temporary file is in the target's directory")

	got, err := Load(path)
	require.NoError(t, err)
	requireSameIndex(t, old, got)
	got, err = Load(path, WithMmap())
	require.NoError(t, err)
	requireSameIndex(t, old, got)
	require.NoError(t, got.Close())

	_, err = Load(tmp)
	require.ErrorIs(t, err, ErrBadFormat)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)

	newer := persistIndex(t, 50, 2048, 2)
	require.NoError(t, newer.Save(path))
	got, err = Load(path)
	require.NoError(t, err)
	requireSameIndex(t, newer, got)
}

// TestSaveKilledAtRandom kills a process that saves two indexes in turn with the plain Save, at
// random moments: the file always loads as one of the two, complete.
func TestSaveKilledAtRandom(t *testing.T) {
	if os.Getenv(persistChildEnv) != "" {
		persistChild(t)
		return
	}
	a, b := persistIndex(t, 1024, 2048, 5), persistIndex(t, 1300, 2048, 6)
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 3 {
		path := filepath.Join(t.TempDir(), "pins.idx")
		cmd, lines := startPersistChild(t, "TestSaveKilledAtRandom", path, "loop")
		waitLine(t, lines, "saved ")
		time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()
		if tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".pins.idx.tmp-*")); len(tmps) > 0 {
			t.Logf("round %d: killed during a save (%s left behind)", round, filepath.Base(tmps[0]))
		}
		got, err := Load(path)
		require.NoError(t, err, "round %d", round)
		if got.Len() == a.Len() {
			requireSameIndex(t, a, got)
		} else {
			requireSameIndex(t, b, got)
		}
	}
}

// TestSaveWhileChanging saves and loads while other goroutines add and search (run it with
// -race): every file is a consistent snapshot.
func TestSaveWhileChanging(t *testing.T) {
	ix := persistIndex(t, 200, 16, 3)
	path := filepath.Join(t.TempDir(), "c.idx")
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := make([]float32, 16)
			v[i%16] = float32(i)
			assert.NoError(t, ix.Add(Item{ID: fmt.Sprintf("new%d", i), Vector: v}))
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, err := ix.Search(ctx, make([]float32, 16), 3)
			assert.NoError(t, err)
		}
	}()
	for range 20 {
		require.NoError(t, ix.Save(path))
		got, err := Load(path)
		require.NoError(t, err)
		require.GreaterOrEqual(t, got.Len(), 200)
	}
	close(stop)
	wg.Wait()
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

// persistCompact strips a file down to header, metadata and vectors (no checksums, no
// padding): the fuzzer's mutations then land on bytes that matter. persistExpand inverts it.
func persistCompact(file []byte) []byte {
	le := binary.LittleEndian
	metaEnd := headerSize + le.Uint64(file[24:])
	vecOff := le.Uint64(file[32:])
	return append(bytes.Clone(file[:metaEnd]), file[vecOff:len(file)-crcSize]...)
}

// persistExpand makes a file of a compact form (see persistCompact): it inserts headCRC and the
// padding, appends fileCRC, sets vecOff and fileSize, and computes both checksums. It returns
// nil if data is too short for its own metadata length.
func persistExpand(data []byte) []byte {
	le := binary.LittleEndian
	if len(data) < headerSize {
		return nil
	}
	metaLen := le.Uint64(data[24:])
	if metaLen > uint64(len(data)-headerSize) {
		return nil
	}
	metaEnd := headerSize + int(metaLen)
	vecOff := int(alignUp(int64(metaEnd + crcSize)))
	vec := data[metaEnd:]
	out := make([]byte, vecOff+len(vec)+crcSize)
	copy(out, data[:metaEnd])
	copy(out[vecOff:], vec)
	le.PutUint64(out[32:], uint64(vecOff))
	le.PutUint64(out[40:], uint64(len(out)))
	persistFixCRCs(out)
	return out
}

// FuzzLoad feeds arbitrary bytes to both decoders (the streaming one and the one over a whole
// buffer, which WithMmap uses): as they are, with their checksums recomputed, and expanded from
// the compact form (persistExpand), so that the fuzzer gets past the checksums and the padding.
// The decoders must agree, fail only with the package's sentinels, and any file that decodes
// must re-encode to the same bytes and satisfy the Index layout.
func FuzzLoad(f *testing.F) {
	var seeds [][]byte
	seeds = append(seeds, persistEncode(f))
	for _, seed := range []uint64{1, 2} {
		ix := persistIndex(f, int(seed)*3, int(seed), seed)
		var buf bytes.Buffer
		_, err := ix.WriteTo(&buf)
		require.NoError(f, err)
		seeds = append(seeds, buf.Bytes())
	}
	empty, err := NewIndex(2)
	require.NoError(f, err)
	var buf bytes.Buffer
	_, err = empty.WriteTo(&buf)
	require.NoError(f, err)
	seeds = append(seeds, buf.Bytes())
	for _, s := range seeds {
		f.Add(s)
		f.Add(persistCompact(s))
	}
	f.Add([]byte("PINRECIX"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		fixed := bytes.Clone(data)
		persistFixCRCs(fixed)
		for _, b := range [][]byte{data, fixed, persistExpand(data)} {
			if b == nil {
				continue
			}
			ix1, err1 := ReadIndex(bytes.NewReader(b), int64(len(b)))
			ix2, err2 := indexFromBytes(b, loadConfig{}, nil)
			if (err1 == nil) != (err2 == nil) {
				t.Fatalf("decoders disagree: stream %v, buffer %v", err1, err2)
			}
			if err1 != nil {
				for _, err := range []error{err1, err2} {
					if !errors.Is(err, ErrBadFormat) && !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrUnsupportedVersion) {
						t.Fatalf("error without a sentinel: %v", err)
					}
				}
				continue
			}
			for _, ix := range []*Index{ix1, ix2} {
				var out bytes.Buffer
				if _, err := ix.WriteTo(&out); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out.Bytes(), b) {
					t.Fatalf("decoded file re-encodes differently")
				}
				if err := ix.checkLayout(); err != nil {
					t.Fatalf("decoded index breaks the layout: %v", err)
				}
			}
		}
	})
}

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

func TestPersistCRCCombine(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, split := range []int{0, 1, 3, 4, 100, 2500, 4999, 5000} {
		a, b := data[:split], data[split:]
		got := crc32Combine(crc32.Checksum(a, castagnoli), crc32.Checksum(b, castagnoli), int64(len(b)))
		require.Equal(t, crc32.Checksum(data, castagnoli), got, "split %d", split)
	}
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
	head, err := encodeHead(dim, ids, make([]map[string]string, n), map[string]string{"model": "synthetic"})
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

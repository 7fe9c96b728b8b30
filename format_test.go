package pinrec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

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
	require.Equal(t, len(want.ids), got.pos.Len())
	for i, id := range want.ids {
		r, ok := got.pos.Get(id, got.ids)
		require.True(t, ok, id)
		require.Equal(t, i, r)
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
// writer must not drift. Version 1 files (which this build still writes for this test only)
// load as they did. Regenerate with -update only when FormatVersion changes.
func TestPersistGolden(t *testing.T) {
	ix, err := NewIndex(4)
	require.NoError(t, err)
	require.NoError(t, ix.Add(
		Item{ID: "red.jpg", Vector: []float32{1, 0, 0, 0.5}, Meta: map[string]string{"label": "dress", "path": "pins/red.jpg"}},
		Item{ID: "blue.jpg", Vector: []float32{0, 1, 0, -0.25}},
		Item{ID: "green.jpg", Vector: []float32{0, 0, 1, 1e-3}, Meta: map[string]string{"label": "bag"}},
	))
	ix.SetInfo("model", "resnet50")
	graph := Extension{Kind: "test-graph", Data: []byte("an extension of 27 bytes...")}
	for _, tc := range []struct {
		file   string
		layout fileLayout
		ext    Extension
	}{
		{"small_v1.idx", fileLayout{version: formatV1, kind: KindFlat}, Extension{Kind: KindFlat}},
		{"small_v2.idx", flatLayout, Extension{Kind: KindFlat}},
		{"small_v2_ext.idx", extLayout(graph), graph},
	} {
		t.Run(tc.file, func(t *testing.T) {
			golden := filepath.Join("testdata", "persist", tc.file)
			var buf bytes.Buffer
			_, err = ix.writeTo(&buf, tc.layout, tc.ext.Data)
			require.NoError(t, err)
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
				require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -run TestPersistGolden -update . to create it")
			require.True(t, bytes.Equal(want, buf.Bytes()), "the encoder no longer writes %s", golden)
			for _, l := range persistLoaders {
				got, err := l.load(golden)
				require.NoError(t, err, l.name)
				requireSameIndex(t, ix, got)
				require.NoError(t, got.Close())
			}
			got, ext, err := LoadExtended(golden)
			require.NoError(t, err)
			requireSameIndex(t, ix, got)
			require.Equal(t, tc.ext, ext)
		})
	}
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
		{"version 3", edit(func(b []byte) []byte { le.PutUint32(b[8:], 3); return b }, false), []error{ErrUnsupportedVersion}},
		{"version 0", edit(func(b []byte) []byte { le.PutUint32(b[8:], 0); return b }, true), []error{ErrUnsupportedVersion}},
		{"flipped bit in header", edit(flip(13), false), []error{ErrBadFormat}},
		{"flipped bit in metadata", edit(flip(64+metaLen/2), false), []error{ErrChecksum}},
		{"flipped head checksum", edit(flip(64+metaLen), false), []error{ErrChecksum}},
		{"flipped bit in padding", edit(flip(vecOff-1), false), []error{ErrBadFormat}},
		{"flipped bit in vectors", edit(flip(vecOff+100), false), []error{ErrChecksum}},
		{"flipped file checksum", edit(flip(len(good)-2), false), []error{ErrChecksum}},
		{"kind byte 1", edit(put64(48, 1), true), []error{ErrBadFormat}},
		{"kind upper case", edit(func(b []byte) []byte { copy(b[48:], "Flat"); return b }, true), []error{ErrBadFormat}},
		{"kind empty", edit(put64(48, 0), true), []error{ErrBadFormat}},
		{"kind 16 bytes", edit(func(b []byte) []byte { copy(b[48:], "abcdefghijklmnop"); return b }, true), []error{ErrBadFormat}},
		{"byte after the kind", edit(func(b []byte) []byte { b[60] = 'x'; return b }, true), []error{ErrBadFormat}},
		{"flat with an extension", edit(func(b []byte) []byte {
			b = append(b[:len(b)-4], 0, 0, 0, 0, 'x', 0, 0, 0, 0) // 4 bytes of padding, 1 of extension
			le.PutUint64(b[40:], uint64(len(b)))
			return b
		}, true), []error{ErrBadFormat}},
		{"version 1 with a kind", edit(func(b []byte) []byte { le.PutUint32(b[8:], 1); return b }, true), []error{ErrBadFormat}},
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
	// Version 1 files, and files with extensions of every padding.
	for _, l := range []fileLayout{{version: formatV1, kind: KindFlat}, {version: FormatVersion, kind: "x"}} {
		var buf bytes.Buffer
		_, err := persistIndex(f, 3, 3, 5).writeTo(&buf, l, nil)
		require.NoError(f, err)
		seeds = append(seeds, buf.Bytes())
	}
	for n, dim := range []int{1, 2, 3} {
		var buf bytes.Buffer
		_, err := persistIndex(f, 3, dim, 6).WriteExtended(&buf, Extension{Kind: "graph-2", Data: []byte("0123456789")[:n+1]})
		require.NoError(f, err)
		seeds = append(seeds, buf.Bytes())
	}
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
			ix1, ext1, err1 := ReadExtended(bytes.NewReader(b), int64(len(b)))
			ix2, ext2, err2 := indexFromBytes(b, loadConfig{}, nil)
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
			if ext1.Kind != ext2.Kind || !bytes.Equal(ext1.Data, ext2.Data) {
				t.Fatalf("decoders disagree on the extension: %q %x, %q %x", ext1.Kind, ext1.Data, ext2.Kind, ext2.Data)
			}
			h, err := parseHeader(b[:headerSize], int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if h.kind != ext1.Kind || int64(len(ext1.Data)) != h.extLen || (h.kind == KindFlat && ext1.Data != nil) {
				t.Fatalf("extension %q of %d bytes, header says %q of %d", ext1.Kind, len(ext1.Data), h.kind, h.extLen)
			}
			for _, ix := range []*Index{ix1, ix2} {
				var out bytes.Buffer
				l := fileLayout{version: h.version, kind: h.kind, extLen: h.extLen}
				if _, err := ix.writeTo(&out, l, ext1.Data); err != nil {
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

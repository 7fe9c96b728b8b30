package ann

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

func TestMarshalRoundTrip(t *testing.T) {
	exact, qs := testData(t, 6, 800, 20, 40)
	for _, codec := range []string{CodecSQ8, CodecPCASQ8, CodecNone} {
		t.Run(codec, func(t *testing.T) {
			a, err := Build(context.Background(), cloneExact(t, exact), WithCodec(codec), WithEfSearch(40), WithM(8))
			require.NoError(t, err)
			require.NoError(t, a.Remove("p3", "p4"))
			require.NoError(t, a.Add(pinrec.Item{ID: "p5", Vector: qs[0]}))
			data := a.Marshal()
			// The exact index keeps its own rows; the graph names them by position.
			b, err := Unmarshal(data, cloneExact(t, a.Exact()))
			require.NoError(t, err)
			sa, sb := a.Stats(), b.Stats()
			delete(sa, "memory_bytes") // capacities differ
			delete(sb, "memory_bytes")
			// The Add widened a's level-0 lists; the load narrows b's (see narrowLinks).
			assert.Equal(t, "4", sa["link_bytes"])
			assert.Equal(t, "2", sb["link_bytes"])
			delete(sa, "link_bytes")
			delete(sb, "link_bytes")
			assert.Equal(t, sa, sb)
			assert.Equal(t, data, b.Marshal(), "marshal(unmarshal(x)) == x")
			// The norms after the codes in RAM (not in the file) are recomputed on load to the
			// same bytes the inserts wrote.
			assert.Equal(t, a.g.cs, b.g.cs)
			assert.Equal(t, a.g.codes[:a.g.n*a.g.cs], b.g.codes[:b.g.n*b.g.cs], "codes and norms")
			for _, q := range qs {
				ra, err := a.Search(context.Background(), q, 5)
				require.NoError(t, err)
				rb, err := b.Search(context.Background(), q, 5)
				require.NoError(t, err)
				assert.Equal(t, ra, rb)
			}
			// Options override efSearch at load time, not the graph's parameters.
			c, err := Unmarshal(data, cloneExact(t, a.Exact()), WithEfSearch(99), WithM(30))
			require.NoError(t, err)
			assert.Equal(t, "99", c.Stats()["ef_search"])
			assert.Equal(t, "8", c.Stats()["m"])
			// The loaded index takes Adds.
			require.NoError(t, b.Add(pinrec.Item{ID: "new", Vector: qs[1]}))
			r, err := b.Search(context.Background(), qs[1], 1)
			require.NoError(t, err)
			assert.Equal(t, "new", r[0].ID)
		})
	}
	t.Run("empty", func(t *testing.T) {
		a, err := New(40, WithCodec(CodecPCASQ8))
		require.NoError(t, err)
		ix, err := pinrec.NewIndex(40)
		require.NoError(t, err)
		b, err := Unmarshal(a.Marshal(), ix)
		require.NoError(t, err)
		require.NoError(t, b.Add(pinrec.Item{ID: "x", Vector: qs[0]}))
		assert.Equal(t, CodecPCASQ8, b.Stats()["codec"])
	})
}

// sectionFor builds a small index and returns its graph section and exact index.
func sectionFor(t testing.TB, codec string) ([]byte, *pinrec.Index) {
	exact, _ := testData(t, 7, 60, 1, 16)
	a, err := Build(context.Background(), exact, WithCodec(codec), WithM(4), WithWorkers(1))
	require.NoError(t, err)
	return a.Marshal(), a.Exact()
}

func TestUnmarshalRefusesCorruptSections(t *testing.T) {
	data, exact := sectionFor(t, CodecSQ8)
	le := binary.LittleEndian
	set := func(off int, v uint32) []byte {
		b := bytes.Clone(data)
		le.PutUint32(b[off:], v)
		return b
	}
	// Offsets: magic 0, version 4, dim 8, M 12, efc 16, efs 20, rerank 24, calibration 28
	// (target and recall float64, efSearch 44, queries 48, items 52), kind 56, pdim 57, lo 61,
	// step 61+64, then n, entry, top.
	const kind, pdim, lo = 56, 57, 61
	nOff := lo + 2*4*16
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"magic", append([]byte("HNSX"), data[4:]...)},
		{"version", set(4, 3)},
		{"version zero", set(4, 0)},
		{"target recall", set(32, 0x3ff80000)}, // 1.5
		{"recall NaN", set(40, 0x7ff80000)},
		{"calibration efSearch", set(44, MaxEf+1)},
		{"calibration queries", set(48, 1<<30)},
		{"calibration without queries", set(48, 0)},
		{"dim", set(8, 17)},
		{"M zero", set(12, 0)},
		{"M huge", set(12, 1<<30)},
		{"efSearch huge", set(20, 1<<31)},
		{"codec kind", append(append(bytes.Clone(data[:kind]), 9), data[kind+1:]...)},
		{"pdim", set(pdim, 15)},
		{"step zero", set(lo+4*16, 0)},
		{"step NaN", set(lo+4*16, 0x7fc00000)},
		{"nodes huge", set(nOff, 1<<31)},
		{"nodes fewer", set(nOff, 59)},
		{"entry out of range", set(nOff+4, 60)},
		{"top wrong", set(nOff+8, 9)},
		{"truncated", data[:len(data)-1]},
		{"trailing", append(bytes.Clone(data), 0)},
	}
	levels := nOff + 12
	rows := levels + 60
	links := rows + 4*60
	cases = append(cases,
		struct {
			name string
			b    []byte
		}{"level too high", func() []byte { b := bytes.Clone(data); b[levels+1] = 200; return b }()},
		struct {
			name string
			b    []byte
		}{"row out of range", set(rows, 60)},
		struct {
			name string
			b    []byte
		}{"row twice", set(rows, le.Uint32(data[rows+4:]))},
		struct {
			name string
			b    []byte
		}{"link count", set(links, 9)},
		struct {
			name string
			b    []byte
		}{"link target", set(links+4, 60)},
		struct {
			name string
			b    []byte
		}{"self link", set(links+4, 0)},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unmarshal(tc.b, exact)
			assert.ErrorIs(t, err, ErrCorrupt)
		})
	}
	_, err := Unmarshal(data, exact)
	require.NoError(t, err, "the unchanged section loads")
}

// FuzzUnmarshal feeds arbitrary graph sections to Unmarshal: it must return an index or an
// error wrapping ErrCorrupt, never panic, and a loaded index must answer a search.
func FuzzUnmarshal(f *testing.F) {
	exacts := map[string]*pinrec.Index{}
	for _, codec := range []string{CodecSQ8, CodecPCASQ8, CodecNone} {
		data, exact := sectionFor(f, codec)
		f.Add(data)
		exacts[codec] = exact
	}
	exact := exacts[CodecSQ8]
	q := make([]float32, 16)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Unmarshal(data, exact)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		if a.Len() > 0 {
			_, err = a.Search(context.Background(), q, 3)
			require.NoError(t, err)
		}
	})
}

// TestFuzzSeedsPresent keeps the seed corpus in testdata honest: it exists and every file
// in it runs through FuzzUnmarshal (go test runs them as cases).
func TestFuzzSeedsPresent(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzUnmarshal", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.True(t, bytes.HasPrefix(b, []byte("go test fuzz v1")), f)
	}
}

var updateSeeds = flag.Bool("update", false, "rewrite the FuzzUnmarshal seed files in testdata")

// TestWriteFuzzSeeds writes, with -update, the seed corpus of FuzzUnmarshal: a section of each
// codec, and truncated and bit-flipped copies of the sq8 one.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*updateSeeds {
		return
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzUnmarshal")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, codec := range []string{CodecSQ8, CodecPCASQ8, CodecNone} {
		data, _ := sectionFor(t, codec)
		seeds := map[string][]byte{codec: data}
		if codec == CodecSQ8 {
			seeds["sq8-half"] = data[:len(data)/2]
			flipped := bytes.Clone(data)
			flipped[len(flipped)/3] ^= 0xff
			seeds["sq8-flipped"] = flipped
		}
		for name, b := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
		}
	}
}

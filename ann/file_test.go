package ann

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

func TestSaveLoadOpen(t *testing.T) {
	exact, qs := testData(t, 8, 1000, 20, 32)
	a, err := Build(context.Background(), cloneExact(t, exact), WithEfSearch(50), WithM(12), WithCodec(CodecPCASQ8))
	require.NoError(t, err)
	require.NoError(t, a.Remove("p9"))
	a.SetInfo("model", "test")
	path := filepath.Join(t.TempDir(), "ann.idx")
	require.NoError(t, a.Save(path))

	for _, mmap := range []bool{false, true} {
		var opts []pinrec.LoadOption
		if mmap {
			opts = append(opts, pinrec.WithMmap())
		}
		s, err := pinrec.Open(path, opts...)
		require.NoError(t, err)
		b, ok := s.(*Index)
		require.True(t, ok, "pinrec.Open gives an *ann.Index for an hnsw file")
		assert.Equal(t, "hnsw", b.Kind())
		assert.Equal(t, "50", b.Stats()["ef_search"])
		assert.Equal(t, "12", b.Stats()["m"])
		assert.Equal(t, CodecPCASQ8, b.Stats()["codec"])
		assert.Equal(t, "test", b.Info()["model"])
		assert.False(t, b.Has("p9"))
		for _, q := range qs {
			ra, err := a.Search(context.Background(), q, 5)
			require.NoError(t, err)
			rb, err := b.Search(context.Background(), q, 5)
			require.NoError(t, err)
			assert.Equal(t, ra, rb)
		}
		err = b.Add(pinrec.Item{ID: "x", Vector: qs[0]})
		if mmap {
			assert.ErrorIs(t, err, pinrec.ErrReadOnly)
		} else {
			assert.NoError(t, err)
		}
		require.NoError(t, b.Close())
	}

	// pinrec.Load reads the exact index alone.
	flat, err := pinrec.Load(path)
	require.NoError(t, err)
	assert.Equal(t, 999, flat.Len())
	// ann.Load refuses a flat file.
	flatPath := filepath.Join(t.TempDir(), "flat.idx")
	require.NoError(t, flat.Save(flatPath))
	_, err = Load(flatPath)
	assert.ErrorIs(t, err, ErrWrongKind)
	// Options override efSearch; WithLoad reaches the exact index's loader.
	c, err := Load(path, WithEfSearch(80), WithLoad(pinrec.WithMmap()))
	require.NoError(t, err)
	assert.Equal(t, "80", c.Stats()["ef_search"])
	assert.ErrorIs(t, c.Add(pinrec.Item{ID: "x", Vector: qs[0]}), pinrec.ErrReadOnly, "mapped: read-only")
	require.NoError(t, c.Close())
}

// TestLoadRefusesCorruptFiles flips bytes in the graph section of a saved file: the file's
// checksum refuses it (pinrec.ErrChecksum), and nothing panics.
func TestLoadRefusesCorruptFiles(t *testing.T) {
	exact, _ := testData(t, 9, 300, 1, 16)
	a, err := Build(context.Background(), exact)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "ann.idx")
	require.NoError(t, a.Save(path))
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	section := len(a.Marshal())
	for _, off := range []int{len(good) - 1, len(good) - section/2, len(good) - section + 10} {
		b := append([]byte(nil), good...)
		b[off] ^= 0x40
		bad := filepath.Join(t.TempDir(), "bad.idx")
		require.NoError(t, os.WriteFile(bad, b, 0o644))
		_, err := Load(bad)
		assert.ErrorIs(t, err, pinrec.ErrChecksum, "flip at %d", off)
		_, err = pinrec.Open(bad)
		assert.Error(t, err)
	}
	require.NoError(t, os.WriteFile(path+".short", good[:len(good)-section/2], 0o644))
	_, err = Load(path + ".short")
	assert.Error(t, err)
}

// TestLoadVersion1File loads a file saved before the calibration was recorded (graph section
// version 1, testdata/hnsw-v1.pinrec: 60 items of dimension 16, M=4, p3 removed): it opens,
// answers as the exact index does at this size, has no calibration, and saves as the current
// version.
func TestLoadVersion1File(t *testing.T) {
	const path = "testdata/hnsw-v1.pinrec"
	a, err := Load(path)
	require.NoError(t, err)
	defer a.Close()
	exact, err := pinrec.Load(path)
	require.NoError(t, err)
	assert.Equal(t, 59, a.Len())
	assert.False(t, a.Has("p3"))
	assert.Equal(t, Calibration{}, a.Calibration())
	assert.Equal(t, "4", a.Stats()["m"])
	_, qs := testData(t, 7, 60, 5, 16)
	assert.Equal(t, 1.0, recallAt10(t, a, exact, qs, pinrec.WithEffort(64)))
	out := filepath.Join(t.TempDir(), "v2.pinrec")
	require.NoError(t, a.Save(out))
	b, err := Load(out)
	require.NoError(t, err)
	defer b.Close()
	assert.Equal(t, uint32(formatVersion), binary.LittleEndian.Uint32(b.Marshal()[4:]))
	assert.Equal(t, a.Marshal()[8:], b.Marshal()[8:])
}

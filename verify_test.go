package pinrec

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// VerifyFile agrees with Load: nil for whole files (flat and extended), ErrChecksum for a
// vector value or an extension byte changed on disk, ErrBadFormat for a truncated file; the
// errors name the file.
func TestVerifyFile(t *testing.T) {
	dir := t.TempDir()
	ix, err := NewIndex(4)
	require.NoError(t, err)
	for i := range 300 {
		require.NoError(t, ix.Add(Item{ID: string(rune('a'+i%26)) + string(rune('0'+i/26)), Vector: []float32{float32(i), 1, 2, 3}}))
	}
	flat := filepath.Join(dir, "flat.idx")
	require.NoError(t, ix.Save(flat))
	ext := filepath.Join(dir, "ext.idx")
	require.NoError(t, ix.SaveExtended(ext, Extension{Kind: "test-kind", Data: []byte("graph bytes")}))
	whole, err := os.ReadFile(ext)
	require.NoError(t, err)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	// The bytes of item 7's vector {7, 1, 2, 3}, found in the file.
	vb := make([]byte, 16)
	for i, x := range []float32{7, 1, 2, 3} {
		binary.LittleEndian.PutUint32(vb[4*i:], math.Float32bits(x))
	}
	at := indexOf(whole, vb)
	require.Positive(t, at)
	vec := append([]byte(nil), whole...)
	vec[at] ^= 1
	extByte := append([]byte(nil), whole...)
	extByte[len(extByte)-crcSize-3] ^= 1 // inside "graph bytes"

	cases := []struct {
		name string
		path string
		err  error
	}{
		{"flat", flat, nil},
		{"extended", ext, nil},
		{"vector changed", write("vec.idx", vec), ErrChecksum},
		{"extension changed", write("ext-bad.idx", extByte), ErrChecksum},
		{"truncated", write("short.idx", whole[:len(whole)-100]), ErrBadFormat},
		{"missing", filepath.Join(dir, "none.idx"), os.ErrNotExist},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyFile(tc.path)
			_, lerr := Load(tc.path)
			if tc.err == nil {
				require.NoError(t, err)
				require.NoError(t, lerr)
				return
			}
			require.ErrorIs(t, err, tc.err)
			assert.Contains(t, err.Error(), tc.path)
			assert.ErrorIs(t, lerr, tc.err, "Load agrees")
		})
	}
}

func indexOf(b, sub []byte) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	return -1
}

// WithShare paces a file of several chunks and reaches the same verdicts: a whole file passes,
// a value changed in the second MiB of vectors fails with ErrChecksum.
func TestVerifyFileWithShare(t *testing.T) {
	dir := t.TempDir()
	const n, dim = 700, 512 // 1.4 MB of vectors: two chunks
	ix, err := NewIndex(dim)
	require.NoError(t, err)
	for i := range n {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32((i*31+j*7)%97) / 97
		}
		require.NoError(t, ix.Add(Item{ID: "p" + strconv.Itoa(i), Vector: v}))
	}
	path := filepath.Join(dir, "two.idx")
	require.NoError(t, ix.Save(path))
	whole, err := os.ReadFile(path)
	require.NoError(t, err)
	bad := append([]byte(nil), whole...)
	bad[len(bad)-crcSize-4*dim*10] ^= 0x40 // a value of item n-10, in the second MiB of vectors
	badPath := filepath.Join(dir, "bad.idx")
	require.NoError(t, os.WriteFile(badPath, bad, 0o644))
	for _, tc := range []struct {
		name  string
		share float64
	}{{"half", 0.5}, {"all", 1}, {"zero means all", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, VerifyFile(path, WithShare(tc.share)))
			require.ErrorIs(t, VerifyFile(badPath, WithShare(tc.share)), ErrChecksum)
		})
	}
}

// An extension of several MiB (an approximate index's graph and codes) is read a chunk at a
// time: a whole file passes, a byte changed in its last MiB fails with ErrChecksum, a non-zero
// byte of the padding before it with ErrBadFormat, as Load says; the verdicts hold paced too.
func TestVerifyFileLargeExtension(t *testing.T) {
	dir := t.TempDir()
	ix, err := NewIndex(3) // 12 bytes of vectors: the chunk size follows the extension
	require.NoError(t, err)
	require.NoError(t, ix.Add(Item{ID: "only", Vector: []float32{1, 2, 3}}))
	data := make([]byte, 5<<19) // 2.5 MiB
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	path := filepath.Join(dir, "big-ext.idx")
	require.NoError(t, ix.SaveExtended(path, Extension{Kind: "test-kind", Data: data}))
	whole, err := os.ReadFile(path)
	require.NoError(t, err)
	h, err := parseHeader(whole[:headerSize], int64(len(whole)))
	require.NoError(t, err)
	require.Greater(t, h.extOff, h.vecEnd(), "the extension starts after padding")
	write := func(name string, at int64) string {
		b := append([]byte(nil), whole...)
		b[at] ^= 0x10
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	cases := []struct {
		name string
		path string
		err  error
	}{
		{"whole", path, nil},
		{"last MiB changed", write("late.idx", int64(len(whole))-crcSize-100), ErrChecksum},
		{"first byte changed", write("early.idx", h.extOff), ErrChecksum},
		{"padding not zero", write("pad.idx", h.vecEnd()), ErrBadFormat},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, lerr := Load(tc.path)
			for _, share := range []float64{0, 0.9} {
				err := VerifyFile(tc.path, WithShare(share))
				if tc.err == nil {
					require.NoError(t, err)
					require.NoError(t, lerr)
					continue
				}
				require.ErrorIs(t, err, tc.err, "share %v", share)
				assert.Contains(t, err.Error(), tc.path)
				assert.ErrorIs(t, lerr, tc.err, "Load agrees")
			}
		})
	}
}

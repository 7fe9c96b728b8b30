package fashionmnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// idxBytes is an idx stream of unsigned bytes with the given sizes and data.
func idxBytes(ndim byte, dims []uint32, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, ndim})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(data)
	return b.Bytes()
}

func gzipped(t *testing.T, raw []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, err := zw.Write(raw)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return b.Bytes()
}

func TestLoad(t *testing.T) {
	// Two images of 2 rows x 3 columns.
	pix := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	goodImages := idxBytes(3, []uint32{2, 2, 3}, pix)
	goodLabels := idxBytes(1, []uint32{2}, []byte{9, 0})
	cases := []struct {
		name           string
		images, labels []byte // raw idx streams, gzipped by the test unless rawGzip
		rawGzip        bool
		wantErr        string
	}{
		{name: "ok", images: goodImages, labels: goodLabels},
		{name: "count mismatch", images: goodImages, labels: idxBytes(1, []uint32{3}, []byte{1, 2, 3}), wantErr: "has 3 labels but"},
		{name: "label out of range", images: goodImages, labels: idxBytes(1, []uint32{2}, []byte{1, 10}), wantErr: "label 10 out of range"},
		{name: "images with 2 dimensions", images: idxBytes(2, []uint32{2, 6}, pix), labels: goodLabels, wantErr: "not an idx file of 3-d"},
		{name: "wrong type", images: append([]byte{0, 0, 0x0d, 3}, goodImages[4:]...), labels: goodLabels, wantErr: "not an idx file"},
		{name: "zero dimension", images: idxBytes(3, []uint32{0, 2, 3}, nil), labels: goodLabels, wantErr: "dimension 0 out of range"},
		{name: "huge dimension", images: idxBytes(3, []uint32{2, 1 << 21, 3}, nil), labels: goodLabels, wantErr: "out of range"},
		{name: "too large", images: idxBytes(3, []uint32{1 << 20, 1 << 20, 1 << 20}, nil), labels: goodLabels, wantErr: "too large"},
		{name: "truncated pixels", images: goodImages[:len(goodImages)-1], labels: goodLabels, wantErr: "unexpected EOF"},
		{name: "truncated header", images: goodImages[:6], labels: goodLabels, wantErr: "EOF"},
		{name: "not gzip", images: goodImages, labels: goodLabels, rawGzip: true, wantErr: "gzip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			images, labels := tc.images, tc.labels
			if !tc.rawGzip {
				images, labels = gzipped(t, images), gzipped(t, labels)
			}
			require.NoError(t, os.WriteFile(Test.ImagesPath(dir), images, 0o644))
			require.NoError(t, os.WriteFile(Test.LabelsPath(dir), labels, 0o644))
			m, l, err := Load(dir, Test)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []byte{9, 0}, l)
			require.Equal(t, 2, m.N)
			g := m.Gray(1)
			assert.Equal(t, 3, g.Rect.Dx())
			assert.Equal(t, 2, g.Rect.Dy())
			assert.Equal(t, []byte{7, 8, 9, 10, 11, 12}, g.Pix)
			assert.Equal(t, 6, cap(g.Pix), "an image cannot grow into the next one")
			assert.EqualValues(t, 12, g.GrayAt(2, 1).Y)
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "none"), Train)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestSplitPaths(t *testing.T) {
	assert.Equal(t, filepath.Join(DefaultDir, "t10k-images-idx3-ubyte.gz"), Test.ImagesPath(DefaultDir))
	assert.Equal(t, filepath.Join("d", "train-labels-idx1-ubyte.gz"), Train.LabelsPath("d"))
}

func FuzzDecode(f *testing.F) {
	f.Add(idxBytes(3, []uint32{1, 2, 2}, []byte{1, 2, 3, 4}))
	f.Add(idxBytes(1, []uint32{3}, []byte{1, 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		for ndim := 1; ndim <= 3; ndim++ {
			dims, data, err := decode(bytes.NewReader(b), ndim)
			if err != nil {
				continue
			}
			total := 1
			for _, d := range dims {
				total *= d
			}
			if len(dims) != ndim || len(data) != total || 4+4*ndim+total > len(b) {
				t.Fatalf("ndim %d: dims %v, %d bytes, from %d bytes", ndim, dims, len(data), len(b))
			}
		}
	})
}

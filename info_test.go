package pinrec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ReadInfo returns what SetInfo recorded, as Load's Info does, for a flat file and one with
// an extension; a file whose metadata is damaged, a truncated one and a missing one are errors
// naming the file.
func TestReadInfo(t *testing.T) {
	dir := t.TempDir()
	ix, err := NewIndex(4)
	require.NoError(t, err)
	require.NoError(t, ix.Add(Item{ID: "a", Vector: []float32{1, 2, 3, 4}, Meta: map[string]string{"path": "a.jpg"}}))
	ix.SetInfo("model", "resnet50")
	ix.SetInfo("dim", "4")
	flat := filepath.Join(dir, "flat.idx")
	require.NoError(t, ix.Save(flat))
	ext := filepath.Join(dir, "ext.idx")
	require.NoError(t, ix.SaveExtended(ext, Extension{Kind: "test-kind", Data: []byte("graph")}))
	b, err := os.ReadFile(flat)
	require.NoError(t, err)
	bad := filepath.Join(dir, "bad.idx")
	damaged := append([]byte(nil), b...)
	damaged[headerSize+2] ^= 0xff // inside the metadata section
	require.NoError(t, os.WriteFile(bad, damaged, 0o644))
	short := filepath.Join(dir, "short.idx")
	require.NoError(t, os.WriteFile(short, b[:headerSize+3], 0o644))

	cases := []struct {
		name string
		path string
		want map[string]string
		err  error
	}{
		{"flat", flat, map[string]string{"model": "resnet50", "dim": "4"}, nil},
		{"extended", ext, map[string]string{"model": "resnet50", "dim": "4"}, nil},
		{"metadata damaged", bad, nil, ErrChecksum},
		{"truncated", short, nil, ErrBadFormat},
		{"missing", filepath.Join(dir, "none.idx"), nil, os.ErrNotExist},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadInfo(tc.path)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Contains(t, err.Error(), tc.path)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			l, err := Load(tc.path)
			require.NoError(t, err)
			assert.Equal(t, l.Info(), got)
		})
	}
}

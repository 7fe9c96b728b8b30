package pinrec

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// AppendVector appends what Get returns as the vector, in memory and mapped, into the caller's
// buffer without touching what it holds; an unknown ID is ErrNotFound and leaves dst as it was.
func TestAppendVector(t *testing.T) {
	ix, err := NewIndex(3)
	require.NoError(t, err)
	require.NoError(t, ix.Add(Item{ID: "a", Vector: []float32{1, 2, 3}}, Item{ID: "b", Vector: []float32{4, 5, 6}}))
	path := filepath.Join(t.TempDir(), "v.idx")
	require.NoError(t, ix.Save(path))
	mapped, err := Load(path, WithMmap())
	require.NoError(t, err)
	defer mapped.Close()
	cases := []struct {
		name string
		ix   *Index
	}{{"memory", ix}, {"mapped", mapped}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]float32, 1, 8)
			buf[0] = -1
			buf, err := tc.ix.AppendVector(buf, "b")
			require.NoError(t, err)
			buf, err = tc.ix.AppendVector(buf, "a")
			require.NoError(t, err)
			assert.Equal(t, []float32{-1, 4, 5, 6, 1, 2, 3}, buf)
			got, err := tc.ix.AppendVector(buf, "zz")
			assert.ErrorIs(t, err, ErrNotFound)
			assert.Equal(t, buf, got)
		})
	}
	require.NoError(t, mapped.Close())
	_, err = mapped.AppendVector(nil, "a")
	assert.ErrorIs(t, err, ErrIndexClosed)
}

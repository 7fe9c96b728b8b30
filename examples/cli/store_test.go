package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

// remoteStore stands in for a store of another kind: one that reports its kind and stats and
// is not kept in a file (embedding the interface hides *pinrec.Index's Save).
type remoteStore struct{ pinrec.Store }

func (remoteStore) Kind() string             { return "remote" }
func (remoteStore) Stats() map[string]string { return map[string]string{"server": "127.0.0.1:1"} }

func TestOpenStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.pinrec")

	_, err := openStore(ctx, storeFlags{index: path}, 0)
	require.ErrorIs(t, err, os.ErrNotExist, "without create, the file must exist")
	assert.Contains(t, err.Error(), path)
	_, err = openStore(ctx, storeFlags{}, 0)
	var ue usageError
	require.ErrorAs(t, err, &ue, "no -index")

	s, err := openStore(ctx, storeFlags{index: path}, 4)
	require.NoError(t, err)
	assert.Equal(t, 0, s.Len())
	assert.Equal(t, 4, s.Dim())
	assert.Equal(t, "flat", storeKind(s))
	assert.Nil(t, storeStats(s))
	require.NoError(t, s.Add(pinrec.Item{ID: "a", Vector: []float32{1, 2, 3, 4}}))
	s.SetInfo("k", "v")
	require.NoError(t, saveStore(s, storeFlags{index: path}))
	require.NoError(t, s.Close())

	s, err = openStore(ctx, storeFlags{index: path}, 4)
	require.NoError(t, err, "an existing file is opened, not replaced")
	defer s.Close()
	assert.Equal(t, []string{"a"}, s.IDs())
	assert.Equal(t, "v", s.Info()["k"])

	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk"), []byte("not an index"), 0o644))
	_, err = openStore(ctx, storeFlags{index: filepath.Join(dir, "junk")}, 4)
	require.ErrorIs(t, err, pinrec.ErrBadFormat, "a file that is not an index is refused, never overwritten")

	ix, err := pinrec.NewIndex(2)
	require.NoError(t, err)
	path2 := filepath.Join(dir, "remote.pinrec")
	var r pinrec.Store = remoteStore{ix}
	assert.Equal(t, "remote", storeKind(r))
	assert.Equal(t, map[string]string{"server": "127.0.0.1:1"}, storeStats(r))
	require.NoError(t, saveStore(r, storeFlags{index: path2}), "a store not kept in a file is not saved")
	assert.NoFileExists(t, path2)
	assert.Equal(t, "struct { pinrec.Store }", storeKind(struct{ pinrec.Store }{ix}), "a store of no known kind is named by its type")
}

package fsio

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMapReadsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	want := make([]byte, 3*4096+17)
	for i := range want {
		want[i] = byte(i * 31)
	}
	require.NoError(t, os.WriteFile(path, want, 0o644))
	f, err := os.Open(path)
	require.NoError(t, err)
	m, err := Map(f, int64(len(want)))
	require.NoError(t, err)
	require.NoError(t, f.Close(), "the mapping outlives the file")
	require.Equal(t, want, m.Data())

	// Hints change nothing; read-ahead stops at Close, which may race with it.
	PrefetchMapped(m.Data()[4096:8192])
	var wg sync.WaitGroup
	wg.Go(func() { m.ReadAhead(0, int64(len(want)), 4096) })
	require.NoError(t, m.Close())
	wg.Wait()
	require.Nil(t, m.Data())
	require.NoError(t, m.Close(), "a second Close does nothing")
	m.ReadAhead(0, int64(len(want)), 4096) // after Close: returns at once

	_, err = Map(f, 0)
	require.Error(t, err)
}

func TestWritebackHints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	data := make([]byte, 1<<16)
	for i := range data {
		data[i] = byte(i)
	}
	_, err = f.Write(data)
	require.NoError(t, err)
	StartWriteback(f, 0, int64(len(data)))
	WaitWriteback(f, 0, int64(len(data)))
	PrefetchFile(f, 0, int64(len(data)))
	require.NoError(t, f.Sync())
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, data, got)
	require.NoError(t, SyncDirErr(nil))
}

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeepPreviousLeavesNoTemp: keeping FILE.prev leaves no temporary link, also when
// FILE.prev already is a link to FILE (a sync killed before its first save made it; the
// rename of a link over another link to the same file does nothing).
func TestKeepPreviousLeavesNoTemp(t *testing.T) {
	for _, linked := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "pins.idx")
		require.NoError(t, os.WriteFile(path, []byte("index"), 0o644))
		if linked {
			require.NoError(t, os.Link(path, path+prevSuffix))
		}
		prev, err := keepPrevious(path)
		require.NoError(t, err)
		assert.Equal(t, path+prevSuffix, prev)
		b, err := os.ReadFile(prev)
		require.NoError(t, err)
		assert.Equal(t, "index", string(b))
		ents, err := os.ReadDir(dir)
		require.NoError(t, err)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		assert.ElementsMatch(t, []string{"pins.idx", "pins.idx" + prevSuffix}, names, "linked=%v", linked)
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRemoveStaleTemps: after a save, only the index's own temporary files that are older
// than the process and open in no process are removed.
func TestRemoveStaleTemps(t *testing.T) {
	if runtime.GOOS != "linux" {
		// Without /proc nothing is removed: that is the behaviour to check there.
		dir := t.TempDir()
		name := filepath.Join(dir, ".pins.idx.tmp-0123456789ab")
		require.NoError(t, os.WriteFile(name, nil, 0o644))
		old := processStart.Add(-time.Hour)
		require.NoError(t, os.Chtimes(name, old, old))
		assert.Empty(t, removeStaleTemps(filepath.Join(dir, "pins.idx")))
		return
	}
	dir := t.TempDir()
	idx := filepath.Join(dir, "pins.idx")
	old := processStart.Add(-time.Hour)
	files := []struct {
		name    string
		old     bool
		open    string // "self" or "child": held open by this process or another one
		removed bool
	}{
		{".pins.idx.tmp-0123456789ab", true, "", true},       // a killed save's
		{".pins.idx.tmp-aaaaaaaaaaaa", true, "", true},       // another one
		{".pins.idx.tmp-bbbbbbbbbbbb", false, "", false},     // written since this process started
		{".pins.idx.tmp-cccccccccccc", true, "self", false},  // open here
		{".pins.idx.tmp-dddddddddddd", true, "child", false}, // open in another process: a live writer
		{".other.idx.tmp-0123456789ab", true, "", false},     // another index's
		{".pins.idx.tmp-0123", true, "", false},              // not the pattern
		{".pins.idx.tmp-0123456789ab.x", true, "", false},    // not the pattern
		{"pins.idx.tmp-0123456789ab", true, "", false},       // not hidden: not a save's
		{".pins.idx.tmp-0123456789AB", true, "", false},      // upper case: not a save's
		{".pins.idx.prev.tmp-0123456789ab", true, "", false}, // pins.idx.prev's, not pins.idx's
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		if f.old {
			require.NoError(t, os.Chtimes(p, old, old))
		}
		switch f.open {
		case "self":
			h, err := os.Open(p)
			require.NoError(t, err)
			defer h.Close()
		case "child":
			cmd := exec.Command("sleep", "60")
			h, err := os.Open(p)
			require.NoError(t, err)
			cmd.ExtraFiles = []*os.File{h}
			require.NoError(t, cmd.Start())
			h.Close()
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
		}
	}
	removed := removeStaleTemps(idx)
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		_, err := os.Stat(p)
		assert.Equal(t, f.removed, os.IsNotExist(err), f.name)
		assert.Equal(t, f.removed, slices.Contains(removed, p), f.name)
	}
	// A second call finds nothing more.
	assert.Empty(t, removeStaleTemps(idx))
}

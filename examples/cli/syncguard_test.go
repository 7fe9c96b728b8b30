package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
)

// fileSum is the SHA-256 of a file: "nothing was changed" is checked byte for byte.
func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(b)
}

// TestCLISyncGuard runs index as a new user might: a sync of an existing index from an empty
// folder (an unmounted drive), from another folder, and one that removes most of the index
// are refused with a message naming the folder and the counts, and change nothing; the same
// with -allow-removals go through; a sync that removes keeps the index as it was in
// INDEX.prev, which loads with every removed vector.
func TestCLISyncGuard(t *testing.T) {
	base := t.TempDir()
	pins := filepath.Join(base, "pins")
	other := filepath.Join(base, "other")
	indexPath := filepath.Join(base, "pins.pinrec")
	for i := range 10 {
		writeSynthetic(t, filepath.Join(pins, fmt.Sprintf("%02d.png", i)), classColors["red"], uint64(700+i))
		writeSynthetic(t, filepath.Join(other, fmt.Sprintf("o%02d.png", i)), classColors["blue"], uint64(800+i))
	}
	index := func(args ...string) result {
		t.Helper()
		return cli(t, "", append([]string{"index", "-embedding", "pixels", "-index", indexPath}, args...)...)
	}
	r := index(pins)
	require.Equal(t, 0, r.code, r.stderr)
	full := loadVectors(t, indexPath)
	require.Len(t, full, 10)
	assert.NoFileExists(t, indexPath+".prev", "nothing removed, nothing kept")

	// The drive is "unmounted": the folder is there and empty.
	require.NoError(t, os.Rename(pins, pins+".away"))
	require.NoError(t, os.Mkdir(pins, 0o755))

	refused := []struct {
		name string
		args []string
		want []string
	}{
		{"empty folder", []string{pins}, []string{pins + " holds no images", "holds 10 pins", "all of them", "-allow-removals"}},
		{"other folder", []string{other}, []string{"was built from " + pins + ", not " + other, "remove 10 of its 10 pins", "-allow-removals"}},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			sum := fileSum(t, indexPath)
			r := index(c.args...)
			assert.Equal(t, 1, r.code, r.stderr)
			assert.Contains(t, r.stderr, "sync refused")
			for _, w := range c.want {
				assert.Contains(t, r.stderr, w)
			}
			assert.Empty(t, r.stdout)
			assert.Equal(t, sum, fileSum(t, indexPath), "the index file is untouched")
			assert.NoFileExists(t, indexPath+".prev")
		})
	}
	require.NoError(t, os.Remove(pins))
	require.NoError(t, os.Rename(pins+".away", pins))

	// Four of ten deleted: less than half, synced; the index before is kept as .prev.
	for i := range 4 {
		require.NoError(t, os.Remove(filepath.Join(pins, fmt.Sprintf("%02d.png", i))))
	}
	r = index(pins)
	require.Equal(t, 0, r.code, r.stderr)
	indexed, unchanged, removed, skipped := summary(t, r.stdout)
	assert.Equal(t, []int{0, 6, 4, 0}, []int{indexed, unchanged, removed, skipped})
	assert.Contains(t, r.stderr, "kept as "+indexPath+".prev")
	assert.Equal(t, full, loadVectors(t, indexPath+".prev"), "every removed vector is in .prev")
	assert.Len(t, loadVectors(t, indexPath), 6)

	// Four of the six left: most of the index, refused; then allowed.
	for i := 4; i < 8; i++ {
		require.NoError(t, os.Remove(filepath.Join(pins, fmt.Sprintf("%02d.png", i))))
	}
	sum := fileSum(t, indexPath)
	r = index(pins)
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "would remove 4 of its 6 pins (more than half; 2 images found there)")
	assert.Equal(t, sum, fileSum(t, indexPath))
	assert.Equal(t, full, loadVectors(t, indexPath+".prev"), ".prev is only replaced by a sync that removes")
	six := loadVectors(t, indexPath)
	r = index("-allow-removals", pins)
	require.Equal(t, 0, r.code, r.stderr)
	indexed, unchanged, removed, skipped = summary(t, r.stdout)
	assert.Equal(t, []int{0, 2, 4, 0}, []int{indexed, unchanged, removed, skipped})
	assert.Equal(t, six, loadVectors(t, indexPath+".prev"))

	// Undo: moving .prev back restores the index as it was before that sync.
	require.NoError(t, os.Rename(indexPath+".prev", indexPath))
	assert.Equal(t, six, loadVectors(t, indexPath))

	// Another folder with -allow-removals: re-pointed, its images indexed, the old ones gone.
	r = index("-allow-removals", other)
	require.Equal(t, 0, r.code, r.stderr)
	indexed, unchanged, removed, skipped = summary(t, r.stdout)
	assert.Equal(t, []int{10, 0, 6, 0}, []int{indexed, unchanged, removed, skipped})
	ix, err := pinrec.Load(indexPath)
	require.NoError(t, err)
	defer ix.Close()
	assert.Equal(t, other, ix.Info()["root"])
	assert.Equal(t, 10, ix.Len())
}

// TestCheckSync is the refusal rule on its own, case by case.
func TestCheckSync(t *testing.T) {
	cases := []struct {
		name  string
		plan  syncPlan
		allow bool
		want  string // "" = allowed
	}{
		{"new index", syncPlan{pins: 0, found: 0}, false, ""},
		{"nothing removed", syncPlan{pins: 10, found: 10, root: "/a", recorded: "/a"}, false, ""},
		{"half removed", syncPlan{pins: 10, found: 5, remove: 5, root: "/a", recorded: "/a"}, false, ""},
		{"most removed", syncPlan{pins: 10, found: 4, remove: 6, root: "/a", recorded: "/a"}, false, "6 of its 10 pins"},
		{"most removed, allowed", syncPlan{pins: 10, found: 4, remove: 6, root: "/a", recorded: "/a"}, true, ""},
		{"empty folder", syncPlan{pins: 3, found: 0, remove: 3, dir: "d", root: "/a", recorded: "/a"}, false, "d holds no images"},
		{"unreadable folder, nothing removed", syncPlan{pins: 3, found: 0, remove: 0, root: "/a", recorded: "/a"}, false, ""},
		{"other folder", syncPlan{pins: 3, found: 3, remove: 0, root: "/b", recorded: "/a"}, false, "built from /a, not /b"},
		{"other folder, allowed", syncPlan{pins: 3, found: 3, remove: 3, root: "/b", recorded: "/a"}, true, ""},
		{"no folder recorded", syncPlan{pins: 3, found: 3, remove: 0, root: "/b"}, false, ""},
		{"same folder, another spelling", syncPlan{pins: 3, found: 3, root: "/a/", recorded: "/a"}, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkSync(c.plan, c.allow)
			if c.want == "" {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, errSyncRefused)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

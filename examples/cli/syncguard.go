package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// A sync removes from the index what is no longer in the folder. Three syncs look like a
// mistake rather than an intent, and index refuses them, changing nothing, unless the user
// passes -allow-removals (as rsync deletes only with --delete):
//
//   - the folder holds no images while the index holds pins (an unmounted drive, a wrong path);
//   - the folder is not the one the index was built from (its "root" info);
//   - the sync would remove more than half of the index's pins.
//
// What a sync of an index file does remove stays recoverable: before its first save, the index
// file as it was is kept as FILE.prev (see keepPrevious). A -backend collection has no such
// copy: pinrec pull makes one before a sync that removes.

// errSyncRefused is the error of a sync refused by checkSync.
var errSyncRefused = errors.New("sync refused")

// prevSuffix names the copy of an index file kept by a sync that removes items.
const prevSuffix = ".prev"

// syncPlan is what a sync is about to do, for checkSync.
type syncPlan struct {
	index    string // the index as named on the command line
	dir      string // the folder as named on the command line
	root     string // its absolute path
	recorded string // the folder recorded in the index ("" if none)
	pins     int    // pins in the index now
	found    int    // images found under the folder
	remove   int    // pins the sync would remove
}

// checkSync returns an error, naming the folder and the counts, when plan looks like a mistake
// (see above); allow is -allow-removals.
func checkSync(plan syncPlan, allow bool) error {
	if allow || plan.pins == 0 {
		return nil
	}
	const how = "nothing was changed; pass -allow-removals if this is what you want"
	switch {
	case plan.found == 0 && plan.remove > 0:
		return fmt.Errorf("%w: %s holds no images, and %s holds %d pins that a sync would remove, all of them (an unmounted drive or a wrong path?); %s",
			errSyncRefused, plan.dir, plan.index, plan.pins, how)
	case plan.recorded != "" && !sameFolder(plan.recorded, plan.root):
		return fmt.Errorf("%w: %s was built from %s, not %s: a sync would remove %d of its %d pins (those not under %s) and re-embed the other %d images; %s, or give another -index",
			errSyncRefused, plan.index, plan.recorded, plan.root, plan.remove, plan.pins, plan.dir, plan.found, how)
	case 2*plan.remove > plan.pins:
		return fmt.Errorf("%w: a sync of %s with %s would remove %d of its %d pins (more than half; %d images found there); %s",
			errSyncRefused, plan.index, plan.dir, plan.remove, plan.pins, plan.found, how)
	}
	return nil
}

// sameFolder reports whether a and b name the same folder, through symbolic links too.
func sameFolder(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

// keepPrevious keeps the index file at path as it is now as path+".prev" (replacing an older
// one), before a sync that removes items saves it: a hard link when the file system has them
// (no copy, no space until the index is rewritten), a synced copy otherwise. It returns the
// copy's path, or "" when there is no file at path yet.
func keepPrevious(path string) (string, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	prev := path + prevSuffix
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(prev)+".tmp")
	os.Remove(tmp)
	if err := os.Link(path, tmp); err != nil {
		if err := copyFile(path, tmp); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("keep the index before the sync as %s: %w", prev, err)
		}
	}
	if err := os.Rename(tmp, prev); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("keep the index before the sync as %s: %w", prev, err)
	}
	// When prev already was a link to the same file (a sync killed before its first save kept
	// it), rename does nothing and leaves tmp (POSIX): remove it.
	os.Remove(tmp)
	return prev, nil
}

// copyFile copies src to a new file dst and syncs it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// underAny reports whether the item ID id lies under one of the folders dirs (IDs relative to
// the indexed folder, with forward slashes; "." is the folder itself).
func underAny(id string, dirs []string) bool {
	for _, d := range dirs {
		if d == "." || strings.HasPrefix(id, d+"/") {
			return true
		}
	}
	return false
}

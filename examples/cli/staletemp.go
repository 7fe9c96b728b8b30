package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// A save writes the index to a hidden temporary file next to it (.NAME.tmp-XXXXXXXXXXXX, 12
// hex digits) and renames it over the index; a process killed during a save leaves that file
// behind. After each successful save of an index, the index command removes such files of that
// index, and only those that no running process can still be writing:
//   - the name is exactly the pattern of this index's temporary files;
//   - the file was last modified before this process started (a save that is writing it
//     modifies it all the time);
//   - no process has it open (Linux: /proc/*/fd). Where that cannot be checked (no /proc, or
//     a process whose descriptors cannot be read), nothing is removed.
//
// Two processes saving the same index at once each skip the other's file: it is open, and
// modified after the other process started.

// processStart is when this process started, as near as it knows.
var processStart = time.Now()

var tempSuffix = regexp.MustCompile(`^\.tmp-[0-9a-f]{12}$`)

// staleTemps lists the temporary files of the index at path that a killed save left.
func staleTemps(path string) []string {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "."+escapeGlob(base)+".tmp-*"))
	var out []string
	for _, m := range matches {
		if !tempSuffix.MatchString(strings.TrimPrefix(filepath.Base(m), "."+base)) {
			continue
		}
		if fi, err := os.Lstat(m); err != nil || !fi.Mode().IsRegular() || !fi.ModTime().Before(processStart) {
			continue
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil
	}
	open, ok := openFiles()
	if !ok {
		return nil
	}
	kept := out[:0]
	for _, m := range out {
		abs, err := filepath.EvalSymlinks(m)
		if err == nil {
			abs, err = filepath.Abs(abs)
		}
		if err == nil && !open[abs] {
			kept = append(kept, m)
		}
	}
	return kept
}

// removeStaleTemps removes what staleTemps lists and returns the names removed.
func removeStaleTemps(path string) []string {
	var removed []string
	for _, m := range staleTemps(path) {
		if os.Remove(m) == nil {
			removed = append(removed, m)
		}
	}
	return removed
}

// openFiles is the set of files any process has open, and whether every process's
// descriptors could be read.
func openFiles() (map[string]bool, bool) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	open := map[string]bool{}
	seen := false
	for _, p := range procs {
		if p.Name() == "" || p.Name()[0] < '0' || p.Name()[0] > '9' {
			continue
		}
		fds, err := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		if err != nil {
			if _, gone := os.Stat(filepath.Join("/proc", p.Name())); gone != nil {
				continue // ended meanwhile
			}
			return nil, false // not ours to read: cannot tell
		}
		seen = true
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name())); err == nil {
				open[strings.TrimSuffix(target, " (deleted)")] = true
			}
		}
	}
	return open, seen
}

// escapeGlob quotes the characters filepath.Match treats specially.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

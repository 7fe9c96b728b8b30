//go:build !linux

package fsio

import "os"

// I/O hints do nothing where sync_file_range and posix_fadvise are not available: the final
// sync writes everything, and reads rely on the system's own read-ahead.

// StartWriteback does nothing here.
func StartWriteback(*os.File, int64, int64) {}

// WaitWriteback does nothing here.
func WaitWriteback(*os.File, int64, int64) {}

// PrefetchFile does nothing here.
func PrefetchFile(*os.File, int64, int64) {}

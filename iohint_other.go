//go:build !linux

package pinrec

import "os"

// I/O hints do nothing where sync_file_range and posix_fadvise are not available: the final
// sync writes everything, and reads rely on the system's own read-ahead.
func startWriteback(*os.File, int64, int64) {}
func waitWriteback(*os.File, int64, int64)  {}
func prefetchFile(*os.File, int64, int64)   {}

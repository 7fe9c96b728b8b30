//go:build !linux

package pinrec

import "os"

// startWriteback and waitWriteback do nothing where sync_file_range is not available: the
// final sync writes everything.
func startWriteback(*os.File, int64, int64) {}
func waitWriteback(*os.File, int64, int64)  {}

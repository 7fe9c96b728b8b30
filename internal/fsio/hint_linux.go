package fsio

import (
	"os"

	"golang.org/x/sys/unix"
)

// I/O hints to the kernel. They only change speed: errors are ignored (the reads, writes and
// syncs that follow report real ones).

// StartWriteback asks the kernel to start writing [off, off+n) of f to disk without waiting.
func StartWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// WaitWriteback waits until [off, off+n) of f has been written to disk (not the metadata: the
// final sync does that).
func WaitWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n,
		unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
}

// PrefetchFile asks the kernel to start reading [off, off+n) of f into the page cache.
func PrefetchFile(f *os.File, off, n int64) {
	_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_WILLNEED)
}

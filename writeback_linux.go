package pinrec

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing [off, off+n) of f to disk without waiting,
// so that the disk works while the next bytes are copied and the final sync waits for little.
// It is a hint: errors are ignored (the sync reports real ones).
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

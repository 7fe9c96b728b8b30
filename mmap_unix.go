//go:build unix

package pinrec

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// mapping is a read-only memory mapping of a whole file.
type mapping struct {
	mu   sync.Mutex
	data []byte
}

// mapFile maps size bytes of f read-only. The mapping stays valid after f is closed.
func mapFile(f *os.File, size int64) (*mapping, error) {
	if size <= 0 || size != int64(int(size)) {
		return nil, fmt.Errorf("mmap: %d bytes", size)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	return &mapping{data: data}, nil
}

// Close unmaps the memory; later calls do nothing.
func (m *mapping) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		return nil
	}
	err := unix.Munmap(m.data)
	m.data = nil
	if err != nil {
		return fmt.Errorf("munmap: %w", err)
	}
	return nil
}

// readAhead asks the kernel to read [off, off+n) of the mapping in, window by window, in the
// background of the caller (run it in its own goroutine). It stops when the mapping is closed.
func (m *mapping) readAhead(off, n int64) {
	for lo := off; lo < off+n; lo += prefetchWindow {
		m.mu.Lock()
		if m.data == nil {
			m.mu.Unlock()
			return
		}
		prefetchMapped(m.data[lo:min(lo+prefetchWindow, off+n)])
		m.mu.Unlock()
	}
}

// prefetchMapped asks the kernel to start reading the pages of b (part of a mapping) in, so
// that the disk streams while the pages before them are checksummed. Errors are ignored.
func prefetchMapped(b []byte) {
	_ = unix.Madvise(b, unix.MADV_WILLNEED)
}

// syncDirErr returns the error of syncing a directory: on Unix it is a real error.
func syncDirErr(err error) error { return err }

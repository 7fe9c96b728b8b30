//go:build unix

package fsio

import (
	"fmt"
	"os"
	"runtime/debug"
	"sync"

	"golang.org/x/sys/unix"
)

// Mapping is a read-only memory mapping of a whole file.
type Mapping struct {
	mu   sync.Mutex
	data []byte
}

// Map maps size bytes of f read-only. The mapping stays valid after f is closed.
func Map(f *os.File, size int64) (*Mapping, error) {
	if size <= 0 || size != int64(int(size)) {
		return nil, fmt.Errorf("mmap: %d bytes", size)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	return &Mapping{data: data}, nil
}

// Data returns the mapped bytes; they must not be used after Close.
func (m *Mapping) Data() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data
}

// Close unmaps the memory; later calls do nothing.
func (m *Mapping) Close() error {
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

// ReadAhead asks the kernel to read [off, off+n) of the mapping in, window bytes at a time, in
// the background of the caller (run it in its own goroutine). It stops when the mapping is
// closed, and, rather than end the process, on a memory fault (the file was truncated while
// mapped; madvise itself reads nothing, so this is a safety net).
func (m *Mapping) ReadAhead(off, n, window int64) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if _, fault := p.(interface{ Addr() uintptr }); !fault {
				panic(p)
			}
		}
	}()
	for lo := off; lo < off+n; lo += window {
		if !m.prefetch(lo, min(lo+window, off+n)) {
			return
		}
	}
}

// prefetch calls PrefetchMapped on [lo, hi) of the mapping, and reports false if it is closed.
func (m *Mapping) prefetch(lo, hi int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		return false
	}
	PrefetchMapped(m.data[lo:hi])
	return true
}

// PrefetchMapped asks the kernel to start reading the pages of b (part of a mapping) in, so
// that the disk streams while the pages before them are processed. Errors are ignored.
func PrefetchMapped(b []byte) {
	_ = unix.Madvise(b, unix.MADV_WILLNEED)
}

// SyncDirErr returns the error of syncing a directory: on Unix it is a real error.
func SyncDirErr(err error) error { return err }

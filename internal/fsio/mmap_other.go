//go:build !unix

package fsio

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// Mapping holds a whole file in memory where memory mapping is not available: callers then
// still get the file's bytes, in the heap.
type Mapping struct {
	mu   sync.Mutex
	data []byte
}

// Map reads size bytes of f into memory.
func Map(f *os.File, size int64) (*Mapping, error) {
	if size <= 0 || size != int64(int(size)) {
		return nil, fmt.Errorf("read: %d bytes", size)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, err
	}
	return &Mapping{data: data}, nil
}

// Data returns the bytes read; they must not be used after Close.
func (m *Mapping) Data() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data
}

// Close drops the data.
func (m *Mapping) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data = nil
	return nil
}

// PrefetchMapped has nothing to do: the data is in memory.
func PrefetchMapped([]byte) {}

// ReadAhead has nothing to do: the data is in memory.
func (m *Mapping) ReadAhead(int64, int64, int64) {}

// SyncDirErr ignores the error of syncing a directory: systems without Unix semantics (Windows)
// cannot open or sync one, and make renames durable on their own.
func SyncDirErr(error) error { return nil }

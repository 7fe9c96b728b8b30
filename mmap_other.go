//go:build !unix

package pinrec

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// mapping holds a whole file in memory where memory mapping is not available: WithMmap then
// still gives a read-only index, with the vectors in the heap.
type mapping struct {
	mu   sync.Mutex
	data []byte
}

// mapFile reads size bytes of f into memory.
func mapFile(f *os.File, size int64) (*mapping, error) {
	if size <= 0 || size != int64(int(size)) {
		return nil, fmt.Errorf("read: %d bytes", size)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, err
	}
	return &mapping{data: data}, nil
}

// Close drops the data.
func (m *mapping) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data = nil
	return nil
}

func prefetchMapped([]byte) {}

// readAhead has nothing to do: the data is in memory.
func (m *mapping) readAhead(int64, int64) {}

// syncDirErr ignores the error of syncing a directory: systems without Unix semantics (Windows)
// cannot open or sync one, and make renames durable on their own.
func syncDirErr(error) error { return nil }

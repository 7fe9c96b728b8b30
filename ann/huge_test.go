package ann

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestHugePagesKeepContents advises slabs of every shape (nil, below the threshold, with
// and without a 2 MiB-aligned interior, at odd offsets) on, off and on again, and checks
// that their bytes and the bytes around them are unchanged: the advice is a hint that must
// never move or clear data.
func TestHugePagesKeepContents(t *testing.T) {
	buf := make([]byte, 3*hugeMin)
	for i := range buf {
		buf[i] = byte(i*31 + 7)
	}
	cases := []struct {
		name     string
		off, len int
	}{
		{"empty", 0, 0},
		{"small", 1, 4096},
		{"below threshold", 3, hugeMin - 1},
		{"threshold", 0, hugeMin},
		{"odd offset", 12345, hugeMin + 777},
		{"whole", 0, len(buf)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := buf[c.off : c.off+c.len]
			hugePages(unsafe.Pointer(unsafe.SliceData(s)), len(s), true)
			hugePages(unsafe.Pointer(unsafe.SliceData(s)), len(s), false)
			hugePages(unsafe.Pointer(unsafe.SliceData(s)), len(s), true)
			for i := range buf {
				if buf[i] != byte(i*31+7) {
					require.Failf(t, "changed", "byte %d changed", i)
				}
			}
		})
	}
	hugePages(nil, 1<<30, true) // nil: nothing to advise
}

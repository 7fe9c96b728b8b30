// Package fsio holds pinrec's file-system helpers: read-only memory mappings of whole files
// (a heap copy where mmap is unavailable) and I/O hints to the kernel (write-back pacing and
// read-ahead), which only change speed, never results.
package fsio

package pinrec

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"time"

	"pinrec/internal/crc32c"
)

// VerifyFile checks the index file at path, of any kind, as [Load] does unless
// [WithoutVectorChecksum] is given: the header and metadata against their checksum, every
// vector value finite, and the whole file, the extension included, against the file's
// checksum. It reads the file once, in order, 1 MiB at a time on the calling goroutine, and
// keeps nothing: a program that opened a large index with [WithMmap] and WithoutVectorChecksum
// to answer sooner verifies the file with it afterwards, in the background, at the pace of
// one core (Load's own pass uses several), or less with [WithShare]. Errors name the file and
// wrap the sentinels Load documents ([ErrChecksum], [ErrBadFormat], ...).
func VerifyFile(path string, opts ...VerifyOption) error {
	var c verifyConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if err := verifyFile(path, c); err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	return nil
}

// VerifyOption configures [VerifyFile].
type VerifyOption func(*verifyConfig)

type verifyConfig struct {
	share float64 // of one core's time; 0 or >= 1: all of it
}

// WithShare has [VerifyFile] take at most about share (0 < share < 1) of one core's time: after
// each MiB it sleeps (1-share)/share times as long as the MiB took. A server verifying its
// index in the background keeps the other cores', and most of this one's, time for requests.
// (Lowering the OS priority of the verifying thread instead would not: a Go thread the OS
// holds back keeps its share of GOMAXPROCS, which requests then wait for.)
func WithShare(share float64) VerifyOption {
	return func(c *verifyConfig) { c.share = share }
}

// pace sleeps after a chunk that took busy, so that the work takes about share of the time.
func (c verifyConfig) pace(busy time.Duration) {
	if c.share > 0 && c.share < 1 {
		time.Sleep(time.Duration(float64(busy) * (1 - c.share) / c.share))
	}
}

func verifyFile(path string, c verifyConfig) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return badFormat("not a regular file (%v)", fi.Mode().Type())
	}
	var hb [headerSize]byte
	n, err := io.ReadFull(f, hb[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return err
	}
	h, err := parseHeader(hb[:n], fi.Size())
	if err != nil {
		return err
	}
	head := make([]byte, h.vecOff)
	copy(head, hb[:])
	if _, err := io.ReadFull(f, head[headerSize:]); err != nil {
		return eofAsTruncated(err, "metadata")
	}
	crc, _, err := decodeHead(head, h)
	if err != nil {
		return err
	}
	buf := make([]byte, min(ioChunk, max(h.vecLen(), h.tailLen(), 1)))
	last := time.Now()
	vcrc, err := scanBlockSerial(h.vecLen(), h.dim, true, func(off int64, n int) ([]byte, error) {
		if off > 0 { // the previous chunk is checked
			c.pace(time.Since(last))
			last = time.Now()
		}
		b := buf[:n]
		if _, err := f.ReadAt(b, h.vecOff+off); err != nil {
			return nil, eofAsTruncated(err, "vectors")
		}
		return b, nil
	})
	if err != nil {
		return err
	}
	// The extension (an approximate index's graph and codes: gigabytes at a million items)
	// is read as the vectors are, a chunk at a time into the same buffer, at the same pace:
	// not into one allocation as large as itself, whose copy would take a core at once and
	// whose garbage would start a collection.
	crc = crc32c.Combine(crc, vcrc, h.vecLen())
	pad := h.extOff - h.vecEnd()
	for off, n := int64(0), h.tailLen(); off < n; off += int64(len(buf)) {
		c.pace(time.Since(last))
		last = time.Now()
		b := buf[:min(int64(len(buf)), n-off)]
		if _, err := f.ReadAt(b, h.vecEnd()+off); err != nil {
			return eofAsTruncated(err, "extension")
		}
		if off < pad {
			for _, x := range b[:min(int64(len(b)), pad-off)] {
				if x != 0 {
					return badFormat("padding before the extension is not zero")
				}
			}
		}
		crc = crc32.Update(crc, castagnoli, b)
	}
	var stored [crcSize]byte
	if _, err := f.ReadAt(stored[:], h.fileSize-crcSize); err != nil {
		return eofAsTruncated(err, "checksum")
	}
	if got := binary.LittleEndian.Uint32(stored[:]); got != crc {
		return fmt.Errorf("%w: stored CRC %08x, computed %08x", ErrChecksum, got, crc)
	}
	return nil
}

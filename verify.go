package pinrec

import (
	"fmt"
	"io"
	"os"
)

// VerifyFile checks the index file at path, of any kind, as [Load] does unless
// [WithoutVectorChecksum] is given: the header and metadata against their checksum, every
// vector value finite, and the whole file, the extension included, against the file's
// checksum. It reads the file once, in order, 1 MiB at a time on the calling goroutine, and
// keeps nothing: a program that opened a large index with [WithMmap] and WithoutVectorChecksum
// to answer sooner verifies the file with it afterwards, in the background, at the pace of
// one core (Load's own pass uses several). Errors name the file and wrap the sentinels Load
// documents ([ErrChecksum], [ErrBadFormat], ...).
func VerifyFile(path string) error {
	if err := verifyFile(path); err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	return nil
}

func verifyFile(path string) error {
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
	buf := make([]byte, min(ioChunk, max(h.vecLen(), 1)))
	vcrc, err := scanBlockSerial(h.vecLen(), h.dim, true, func(off int64, n int) ([]byte, error) {
		b := buf[:n]
		if _, err := f.ReadAt(b, h.vecOff+off); err != nil {
			return nil, eofAsTruncated(err, "vectors")
		}
		return b, nil
	})
	if err != nil {
		return err
	}
	tail := make([]byte, h.tailLen()+crcSize)
	if _, err := f.ReadAt(tail, h.vecEnd()); err != nil {
		return eofAsTruncated(err, "extension and checksum")
	}
	_, err = decodeTail(h, tail, crc, vcrc, loadConfig{})
	return err
}

package pinrec

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"
)

// FormatVersion is the version of the index file format that [Index.Save] and [Index.WriteTo]
// write and that [Load] and [ReadIndex] read. A file of any other version is refused with
// [ErrUnsupportedVersion].
//
// # Layout of version 1
//
// All integers are unsigned and little-endian; offsets are from the start of the file.
//
//	offset  size  field
//	0       8     magic "PINRECIX"
//	8       4     version, 1
//	12      4     dim: the vector dimension, >= 1
//	16      8     count: the number of items (rows)
//	24      8     metaLen: the length of the metadata section
//	32      8     vecOff: the offset of the vector block: 64+metaLen+4 rounded up to a multiple of 4096
//	40      8     fileSize: the length of the whole file, vecOff + count*dim*4 + 4
//	48      16    reserved, zero
//	64      metaLen   metadata section (below)
//	64+metaLen  4     headCRC: CRC-32C (Castagnoli) of bytes [0, 64+metaLen)
//	...     ...   zero padding up to vecOff
//	vecOff  count*dim*4  vectors: row-major float32 (IEEE 754, little-endian), row i at vecOff+i*dim*4
//	fileSize-4  4     fileCRC: CRC-32C (Castagnoli) of bytes [0, fileSize-4)
//
// The metadata section holds, with str meaning a uint32 byte length followed by that many
// bytes (UTF-8 by convention, not checked):
//
//	uint32 nInfo, then nInfo pairs (str key, str value): the index-level info (Index.Info)
//	count times: str id, uint32 nMeta, then nMeta pairs (str key, str value): row i's ID and metadata
//
// Keys of each map are sorted by byte order without duplicates, IDs are non-empty and unique,
// and every vector value is finite. The encoding is canonical: one index has exactly one file,
// and a reader refuses anything else (unsorted keys, non-zero padding or reserved bytes, a vecOff
// other than the one above). Because the vector block starts at a multiple of 4096, it can be
// memory-mapped by any language: in Python,
//
//	numpy.memmap(path, dtype="<f4", mode="r", offset=vecOff, shape=(count, dim))
//
// (tools/read_index.py in the repository is a complete reader).
//
// headCRC lets a reader check the header, IDs and metadata without reading the vectors (see
// [WithoutVectorChecksum]); fileCRC covers everything, the vectors included.
const FormatVersion = 1

// Errors returned by [Load] and [ReadIndex], wrapped with the operation and the file name. Test
// them with [errors.Is]. A truncated file matches both [ErrBadFormat] and [io.ErrUnexpectedEOF].
var (
	// ErrBadFormat: the file is not a pinrec index (wrong magic), or is truncated, or its
	// header or metadata are inconsistent.
	ErrBadFormat = errors.New("pinrec: bad index file")
	// ErrChecksum: the file's content does not match its CRC-32C (it was corrupted).
	ErrChecksum = errors.New("pinrec: index file checksum mismatch")
	// ErrUnsupportedVersion: the file is a pinrec index of a format version this build does
	// not read.
	ErrUnsupportedVersion = errors.New("pinrec: unsupported index file version")
)

const (
	headerSize  = 64
	vectorAlign = 4096
	crcSize     = 4
	// minFileSize is the size of an empty index with empty info: header, metadata (nInfo),
	// headCRC, padding to 4096, no vectors, fileCRC.
	minFileSize = vectorAlign + crcSize
	// ioChunk is the unit in which vector blocks are checksummed and copied: small enough to
	// stay in the CPU cache between the copy and the checksum.
	ioChunk = 1 << 20
)

var (
	fileMagic  = [8]byte{'P', 'I', 'N', 'R', 'E', 'C', 'I', 'X'}
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	// hostLittleEndian: the vectors in memory have the file's byte order, so they are written
	// and read (and mapped) without conversion.
	hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
)

// LoadOption configures [Load] and [ReadIndex]. A nil LoadOption is ignored.
type LoadOption func(*loadConfig)

type loadConfig struct {
	mmap       bool
	skipVecCRC bool
}

// WithMmap makes [Load] memory-map the file read-only instead of copying the vectors into the
// heap: opening costs no heap memory for the vectors (only IDs and metadata are decoded), and
// the operating system pages the vectors in and out as searches touch them, so an index larger
// than RAM still works. The index is read-only ([Index.Add] and [Index.Remove] return
// [ErrReadOnly]); [Index.Close] releases the mapping, and the file must not be truncated or
// rewritten in place while mapped ([Index.Save] replaces files by rename, which is safe).
//
// By default the whole file is verified against its checksum while opening, which reads every
// page once (at page-cache or disk speed) and leaves the vectors cached for the first search,
// which has to read all of them anyway. [WithoutVectorChecksum] skips that for an instant open.
//
// On systems without mmap (or on big-endian machines) WithMmap reads the file into memory and
// still returns a read-only index. [ReadIndex] ignores it.
func WithMmap() LoadOption { return func(c *loadConfig) { c.mmap = true } }

// WithoutVectorChecksum skips the checksum over the vector block (and the check that every value
// is finite) when loading. The header, IDs and metadata are still verified against their own
// checksum. Use it with [WithMmap] to open a large index without reading its vectors first when
// the file is known to be good (for example, verified once after it was copied); a corrupted
// vector is then served as is. The vectors of such a mapped index are read ahead in the
// background, so that a first search on a cold cache is not left to page faults.
func WithoutVectorChecksum() LoadOption { return func(c *loadConfig) { c.skipVecCRC = true } }

func newLoadConfig(opts []LoadOption) loadConfig {
	var c loadConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// fileHeader is the decoded fixed header.
type fileHeader struct {
	dim      int
	count    int
	metaLen  int
	vecOff   int64
	fileSize int64
}

func (h fileHeader) vecLen() int64 { return int64(h.count) * int64(h.dim) * 4 }

// alignUp rounds n up to a multiple of vectorAlign.
func alignUp(n int64) int64 { return (n + vectorAlign - 1) &^ (vectorAlign - 1) }

// truncated returns an error for a file shorter than its header says.
func truncated(format string, args ...any) error {
	return fmt.Errorf("%w: truncated: %s: %w", ErrBadFormat, fmt.Sprintf(format, args...), io.ErrUnexpectedEOF)
}

func badFormat(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadFormat, fmt.Sprintf(format, args...))
}

// parseHeader checks the first 64 bytes of a file of the given size, and bounds every size in
// it by that size.
func parseHeader(b []byte, size int64) (fileHeader, error) {
	var h fileHeader
	if len(b) < headerSize || size < headerSize {
		if len(b) > 0 && bytes.HasPrefix(fileMagic[:], b[:min(len(b), len(fileMagic))]) {
			return h, truncated("%d bytes, not even a header", size)
		}
		return h, badFormat("%d bytes: not a pinrec index", size)
	}
	if !bytes.Equal(b[:8], fileMagic[:]) {
		return h, badFormat("magic %q: not a pinrec index", b[:8])
	}
	le := binary.LittleEndian
	if v := le.Uint32(b[8:]); v != FormatVersion {
		return h, fmt.Errorf("%w: version %d (this build reads version %d)", ErrUnsupportedVersion, v, FormatVersion)
	}
	dim := uint64(le.Uint32(b[12:]))
	count := le.Uint64(b[16:])
	metaLen := le.Uint64(b[24:])
	vecOff := le.Uint64(b[32:])
	fileSize := le.Uint64(b[40:])
	for _, x := range b[48:64] {
		if x != 0 {
			return h, badFormat("reserved header bytes are not zero")
		}
	}
	if fileSize > math.MaxInt64 || int64(fileSize) > size {
		return h, truncated("header says %d bytes, file has %d", fileSize, size)
	}
	if int64(fileSize) < size {
		return h, badFormat("header says %d bytes, file has %d: trailing bytes", fileSize, size)
	}
	if dim == 0 {
		return h, badFormat("dimension 0")
	}
	if metaLen > fileSize-headerSize-crcSize {
		return h, badFormat("metadata length %d does not fit in %d bytes", metaLen, fileSize)
	}
	if want := alignUp(int64(headerSize + metaLen + crcSize)); vecOff != uint64(want) {
		return h, badFormat("vector offset %d, want %d", vecOff, want)
	}
	if vecOff > fileSize-crcSize {
		return h, badFormat("vector offset %d beyond the end of the %d-byte file", vecOff, fileSize)
	}
	// Every row takes at least 8 bytes of metadata (ID length and meta count), which bounds
	// count by the file size before anything is allocated.
	if count > metaLen/8 {
		return h, badFormat("%d items cannot fit in %d bytes of metadata", count, metaLen)
	}
	hi, values := bits.Mul64(count, dim)
	vecLen := fileSize - crcSize - vecOff
	if hi != 0 || values > vecLen/4 || values*4 != vecLen {
		return h, badFormat("%d items of dimension %d do not fill the %d-byte vector block", count, dim, vecLen)
	}
	if values > math.MaxInt || metaLen > math.MaxInt || dim > math.MaxInt32 {
		return h, badFormat("index too large for this machine")
	}
	return fileHeader{dim: int(dim), count: int(count), metaLen: int(metaLen), vecOff: int64(vecOff), fileSize: int64(fileSize)}, nil
}

// decodedMeta is the content of the metadata section.
type decodedMeta struct {
	info map[string]string
	ids  []string
	meta []map[string]string
	pos  map[string]int
}

// metaReader reads the metadata section. Its buffer is owned by the decoder and never modified,
// so the strings alias it without a copy per string.
type metaReader struct {
	b   []byte
	off int
	err error
}

func (r *metaReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = badFormat("metadata at byte %d: %s", headerSize+r.off, fmt.Sprintf(format, args...))
	}
}

func (r *metaReader) u32() int {
	if r.err != nil {
		return 0
	}
	if len(r.b)-r.off < 4 {
		r.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return int(v)
}

func (r *metaReader) str() string {
	n := r.u32()
	if r.err != nil {
		return ""
	}
	if n > len(r.b)-r.off {
		r.fail("string of %d bytes beyond the end of the section", n)
		return ""
	}
	s := unsafe.String(unsafe.SliceData(r.b[r.off:]), n)
	r.off += n
	return s
}

// strMap reads a count and that many sorted key/value pairs; no pairs give a nil map. owner
// (an ID, or "" for the info map) names the map in errors.
func (r *metaReader) strMap(owner string) map[string]string {
	what := func() string {
		if owner == "" {
			return "info"
		}
		return fmt.Sprintf("metadata of %q", owner)
	}
	n := r.u32()
	if r.err != nil || n == 0 {
		return nil
	}
	if n > (len(r.b)-r.off)/8 {
		r.fail("%s: %d entries cannot fit", what(), n)
		return nil
	}
	m := make(map[string]string, n)
	prev := ""
	for i := range n {
		k, v := r.str(), r.str()
		if r.err != nil {
			return nil
		}
		if i > 0 && k <= prev {
			r.fail("%s: key %q not after %q (keys must be sorted and unique)", what(), k, prev)
			return nil
		}
		m[k] = v
		prev = k
	}
	return m
}

// parseMeta decodes the metadata section of count rows. buf must not be modified afterwards.
func parseMeta(buf []byte, count int) (decodedMeta, error) {
	r := &metaReader{b: buf}
	d := decodedMeta{
		info: r.strMap(""),
		ids:  make([]string, count),
		meta: make([]map[string]string, count),
		pos:  make(map[string]int, count),
	}
	for i := 0; i < count && r.err == nil; i++ {
		id := r.str()
		if r.err != nil {
			break
		}
		if id == "" {
			r.fail("row %d: empty id", i)
			break
		}
		d.pos[id] = i
		if len(d.pos) != i+1 {
			r.fail("row %d: duplicate id %q", i, id)
			break
		}
		d.ids[i] = id
		d.meta[i] = r.strMap(id)
	}
	if r.err == nil && r.off != len(buf) {
		r.fail("%d unread bytes at the end of the section", len(buf)-r.off)
	}
	return d, r.err
}

// vecBlockBytes returns the memory of v as bytes (in the host's byte order).
func vecBlockBytes(v []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*4)
}

// vecBlockFloats returns b, whose length is a multiple of 4 and whose address is 4-aligned, as
// float32 values (in the host's byte order).
func vecBlockFloats(b []byte) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}

// allFinite reports whether every float32 whose little-endian bits are in b (len(b) a
// multiple of 4) is finite. A float is non-finite when its exponent bits are all ones; adding
// one to the exponent field then carries into the sign bit, and for no smaller exponent does.
// Two floats are tested per 64-bit word, four words per step, with no branch.
func allFinite(b []byte) bool {
	const (
		expMask = 0x7f800000_7f800000
		expOne  = 0x00800000_00800000
		carry   = 0x80000000_80000000
	)
	var acc uint64
	one := func(v uint32) { acc |= uint64(v&0x7f800000 + 0x00800000) }
	// Single values up to an 8-byte boundary (and all of them on big-endian hosts).
	for len(b) >= 4 && (!hostLittleEndian || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 != 0) {
		one(binary.LittleEndian.Uint32(b))
		b = b[4:]
	}
	if n := len(b) / 8; n > 0 {
		words := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), n)
		i := 0
		for ; i+4 <= n; i += 4 {
			acc |= (words[i]&expMask + expOne) | (words[i+1]&expMask + expOne) |
				(words[i+2]&expMask + expOne) | (words[i+3]&expMask + expOne)
		}
		for ; i < n; i++ {
			acc |= words[i]&expMask + expOne
		}
		b = b[8*n:]
	}
	if len(b) >= 4 {
		one(binary.LittleEndian.Uint32(b))
	}
	return acc&carry == 0
}

// firstNonFinite returns the row of the first non-finite value in little-endian float32 bytes.
func firstNonFinite(b []byte, dim int) int {
	for i := 0; i+4 <= len(b); i += 4 {
		if binary.LittleEndian.Uint32(b[i:])&0x7f800000 == 0x7f800000 {
			return i / 4 / dim
		}
	}
	return -1
}

// checkVectors verifies the finiteness of a chunk of the vector block that starts at byte
// offset start of the block.
func checkVectors(chunk []byte, start int64, dim int) error {
	if allFinite(chunk) {
		return nil
	}
	row := int64(firstNonFinite(chunk, dim)) + start/4/int64(dim)
	return fmt.Errorf("%w: row %d: %w", ErrBadFormat, row, ErrNonFinite)
}

// releaseWhenUnreachable closes m if ix is dropped without Close: a safety net, not a
// substitute for Close. m does not refer to ix.
func releaseWhenUnreachable(ix *Index, m *mapping) {
	runtime.AddCleanup(ix, func(m *mapping) { m.Close() }, m)
}

// buildIndex makes a fresh Index of the decoded parts.
func buildIndex(h fileHeader, m decodedMeta, vectors []float32) *Index {
	return &Index{
		dim:     h.dim,
		vectors: vectors,
		ids:     m.ids,
		meta:    m.meta,
		pos:     m.pos,
		info:    m.info,
	}
}

// Load reads the index file at path (see [FormatVersion] for its layout), checking its magic and
// version, bounding every size by the file's size before allocating, and verifying its checksum.
// The result is a fresh index; nothing is returned on error.
//
// Errors name the file and wrap [ErrBadFormat] (a foreign, truncated or inconsistent file),
// [ErrUnsupportedVersion], [ErrChecksum] or the [fs] error. Options: [WithMmap],
// [WithoutVectorChecksum].
func Load(path string, opts ...LoadOption) (*Index, error) {
	cfg := newLoadConfig(opts)
	ix, err := load(path, cfg)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return ix, nil
}

func load(path string, cfg loadConfig) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, badFormat("not a regular file (%v)", fi.Mode().Type())
	}
	size := fi.Size()
	if cfg.mmap && size >= headerSize {
		m, err := mapFile(f, size)
		if err != nil {
			return nil, err
		}
		ix, err := indexFromBytes(m.data, cfg, m)
		if err != nil {
			m.Close()
			return nil, err
		}
		releaseWhenUnreachable(ix, m)
		return ix, nil
	}
	ix, err := readIndex(f, f, size, cfg)
	if err != nil {
		return nil, err
	}
	return ix, nil
}

// ReadIndex reads an index in the file format (see [FormatVersion]) from r, which must yield
// exactly size bytes; size bounds every allocation. Only [WithoutVectorChecksum] applies.
// Errors wrap the sentinels [Load] documents.
func ReadIndex(r io.Reader, size int64, opts ...LoadOption) (*Index, error) {
	cfg := newLoadConfig(opts)
	ix, err := readIndex(r, nil, size, cfg)
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	return ix, nil
}

// eofAsTruncated turns the end of a reader within the file into a truncation error.
func eofAsTruncated(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return truncated("in the %s", what)
	}
	return err
}

// readIndex decodes a file of the given size from r. If at is not nil, it reads the same file
// at absolute offsets, and the vector block is read from it by several goroutines.
func readIndex(r io.Reader, at io.ReaderAt, size int64, cfg loadConfig) (*Index, error) {
	var hb [headerSize]byte
	if size < headerSize {
		b := hb[:max(size, 0)]
		n, _ := io.ReadFull(r, b)
		_, err := parseHeader(b[:n], size)
		return nil, err
	}
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return nil, eofAsTruncated(err, "header")
	}
	h, err := parseHeader(hb[:], size)
	if err != nil {
		return nil, err
	}
	// Header, metadata and headCRC, then the padding in the same buffer.
	buf := make([]byte, h.vecOff)
	copy(buf, hb[:])
	if _, err := io.ReadFull(r, buf[headerSize:]); err != nil {
		return nil, eofAsTruncated(err, "metadata")
	}
	crc, m, err := decodeHead(buf, h)
	if err != nil {
		return nil, err
	}

	vectors := make([]float32, h.count*h.dim)
	vb := vecBlockBytes(vectors)
	var vcrc uint32
	switch {
	case at != nil && hostLittleEndian:
		var prefetch func(off, n int64)
		if f, ok := at.(*os.File); ok {
			prefetch = func(off, n int64) { prefetchFile(f, h.vecOff+off, n) }
		}
		vcrc, err = scanBlock(int64(len(vb)), h.dim, !cfg.skipVecCRC, func(off int64, n int) ([]byte, error) {
			chunk := vb[off : off+int64(n)]
			_, err := at.ReadAt(chunk, h.vecOff+off)
			return chunk, eofAsTruncated(err, "vectors")
		}, prefetch)
	case hostLittleEndian:
		vcrc, err = scanBlockSerial(int64(len(vb)), h.dim, !cfg.skipVecCRC, func(off int64, n int) ([]byte, error) {
			chunk := vb[off : off+int64(n)]
			_, err := io.ReadFull(r, chunk)
			return chunk, eofAsTruncated(err, "vectors")
		})
	default:
		scratch := make([]byte, min(ioChunk, len(vb)))
		vcrc, err = scanBlockSerial(int64(len(vb)), h.dim, !cfg.skipVecCRC, func(off int64, n int) ([]byte, error) {
			chunk := scratch[:n]
			if _, err := io.ReadFull(r, chunk); err != nil {
				return nil, eofAsTruncated(err, "vectors")
			}
			for i := range n / 4 {
				vectors[int(off)/4+i] = math.Float32frombits(binary.LittleEndian.Uint32(chunk[4*i:]))
			}
			return chunk, nil
		})
	}
	if err != nil {
		return nil, err
	}
	var tb [crcSize]byte
	if at != nil {
		_, err = at.ReadAt(tb[:], h.fileSize-crcSize)
	} else {
		_, err = io.ReadFull(r, tb[:])
	}
	if err != nil {
		return nil, eofAsTruncated(err, "checksum")
	}
	if !cfg.skipVecCRC {
		if err := checkFileCRC(tb[:], crc, vcrc, h.vecLen()); err != nil {
			return nil, err
		}
	}
	return buildIndex(h, m, vectors), nil
}

// decodeHead checks headCRC and the padding of buf, the bytes [0, vecOff) of a file whose
// header is h, and decodes the metadata (buf must not change afterwards). It returns the CRC of
// all of buf, which the file's checksum continues.
func decodeHead(buf []byte, h fileHeader) (uint32, decodedMeta, error) {
	metaEnd := headerSize + h.metaLen
	crc := crc32.Checksum(buf[:metaEnd], castagnoli)
	if got := binary.LittleEndian.Uint32(buf[metaEnd:]); got != crc {
		return 0, decodedMeta{}, fmt.Errorf("%w: header and metadata: stored CRC %08x, computed %08x", ErrChecksum, got, crc)
	}
	for _, x := range buf[metaEnd+crcSize:] {
		if x != 0 {
			return 0, decodedMeta{}, badFormat("padding before the vectors is not zero")
		}
	}
	m, err := parseMeta(buf[headerSize:metaEnd], h.count)
	if err != nil {
		return 0, decodedMeta{}, err
	}
	return crc32.Update(crc, castagnoli, buf[metaEnd:]), m, nil
}

// checkFileCRC compares the stored fileCRC with the one of the head (CRC headCRC) followed by
// the vector block (CRC vcrc, vecLen bytes).
func checkFileCRC(stored []byte, headCRC, vcrc uint32, vecLen int64) error {
	crc := crc32Combine(headCRC, vcrc, vecLen)
	if got := binary.LittleEndian.Uint32(stored); got != crc {
		return fmt.Errorf("%w: stored CRC %08x, computed %08x", ErrChecksum, got, crc)
	}
	return nil
}

// scanParallelMin is the size of vector block from which scanBlock uses several goroutines
// (a variable so that tests can split small blocks).
var scanParallelMin int64 = 32 << 20

// prefetchWindow is how far ahead of its position a scan asks for the data it will read next.
const prefetchWindow = 32 << 20

// scanBlock calls chunk for every ioChunk-sized piece of a vector block of n bytes (rows of
// dim values), from several goroutines when the block is large, and, if verify, checks that
// every value is finite and returns the CRC-32C of the block. chunk returns the piece's bytes
// (read into place, or a view of a mapping). The first error stops the scan. If prefetch is not
// nil, each goroutine calls it for the window of the block ahead of it, so that the disk
// streams while the CPU checksums (parallel readers defeat the kernel's own read-ahead).
func scanBlock(n int64, dim int, verify bool, chunk func(off int64, n int) ([]byte, error), prefetch func(off, n int64)) (uint32, error) {
	parts := min(runtime.GOMAXPROCS(0), 8, int(n/scanParallelMin))
	if parts <= 1 {
		return scanBlockSerial(n, dim, verify, chunk)
	}
	// Parts of whole chunks; the last takes the rest.
	per := (n/int64(parts) + ioChunk - 1) / ioChunk * ioChunk
	crcs := make([]uint32, parts)
	errs := make([]error, parts)
	var failed atomic.Bool
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := int64(p)*per, min(int64(p+1)*per, n)
		if lo >= hi {
			break // rounding to whole chunks left nothing for the last parts
		}
		wg.Go(func() {
			var crc uint32
			if prefetch != nil {
				prefetch(lo, min(2*prefetchWindow, hi-lo))
			}
			for off := lo; off < hi; off += ioChunk {
				if failed.Load() {
					return
				}
				if prefetch != nil && off > lo && (off-lo)%prefetchWindow == 0 && off+prefetchWindow < hi {
					prefetch(off+prefetchWindow, min(prefetchWindow, hi-off-prefetchWindow))
				}
				b, err := chunk(off, int(min(ioChunk, hi-off)))
				if err == nil && verify {
					crc = crc32.Update(crc, castagnoli, b)
					err = checkVectors(b, off, dim)
				}
				if err != nil {
					errs[p] = err
					failed.Store(true)
					return
				}
			}
			crcs[p] = crc
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	crc := crcs[0]
	for p := 1; p < parts; p++ {
		lo, hi := int64(p)*per, min(int64(p+1)*per, n)
		crc = crc32Combine(crc, crcs[p], max(hi-lo, 0))
	}
	return crc, nil
}

// scanBlockSerial is scanBlock in one goroutine, in order (for plain readers).
func scanBlockSerial(n int64, dim int, verify bool, chunk func(off int64, n int) ([]byte, error)) (uint32, error) {
	var crc uint32
	for off := int64(0); off < n; off += ioChunk {
		b, err := chunk(off, int(min(ioChunk, n-off)))
		if err != nil {
			return 0, err
		}
		if verify {
			crc = crc32.Update(crc, castagnoli, b)
			if err := checkVectors(b, off, dim); err != nil {
				return 0, err
			}
		}
	}
	return crc, nil
}

// crc32Combine returns the CRC-32C of A followed by B from crcA, crcB and len(B) (zlib's
// crc32_combine: crcA times x^(8*lenB) modulo the polynomial, plus crcB, in GF(2)).
func crc32Combine(crcA, crcB uint32, lenB int64) uint32 {
	if lenB <= 0 {
		return crcA
	}
	var even, odd [32]uint32 // operators: even and odd powers of two zero bits
	odd[0] = crc32.Castagnoli
	for n, row := 1, uint32(1); n < 32; n, row = n+1, row<<1 {
		odd[n] = row
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd)
		if lenB&1 != 0 {
			crcA = gf2Times(&even, crcA)
		}
		if lenB >>= 1; lenB == 0 {
			break
		}
		gf2Square(&odd, &even)
		if lenB&1 != 0 {
			crcA = gf2Times(&odd, crcA)
		}
		if lenB >>= 1; lenB == 0 {
			break
		}
	}
	return crcA ^ crcB
}

func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[32]uint32) {
	for n := range 32 {
		square[n] = gf2Times(mat, mat[n])
	}
}

// indexFromBytes decodes a whole file held in data (a mapping, or a buffer for tests and
// systems without mmap). The vectors alias data unless the host is big-endian; IDs and
// metadata are copied to the heap, so they stay valid after the mapping is released. A non-nil
// mapping makes the index read-only and is closed by [Index.Close].
func indexFromBytes(data []byte, cfg loadConfig, mapping *mapping) (*Index, error) {
	size := int64(len(data))
	h, err := parseHeader(data[:min(len(data), headerSize)], size)
	if err != nil {
		return nil, err
	}
	head := data[:h.vecOff]
	if mapping != nil {
		head = bytes.Clone(head) // IDs and metadata must outlive the mapping
	}
	crc, m, err := decodeHead(head, h)
	if err != nil {
		return nil, err
	}
	vb := data[h.vecOff : h.vecOff+h.vecLen()]
	if !cfg.skipVecCRC {
		var prefetch func(off, n int64)
		if mapping != nil {
			prefetch = func(off, n int64) {
				// Whole pages: the block starts on a page boundary of the mapping.
				lo, hi := off&^(vectorAlign-1), min(off+n, int64(len(vb)))
				prefetchMapped(vb[lo:hi])
			}
		}
		vcrc, err := scanBlock(int64(len(vb)), h.dim, true, func(off int64, n int) ([]byte, error) {
			return vb[off : off+int64(n)], nil
		}, prefetch)
		if err != nil {
			return nil, err
		}
		if err := checkFileCRC(data[h.fileSize-crcSize:], crc, vcrc, h.vecLen()); err != nil {
			return nil, err
		}
	}
	var vectors []float32
	if hostLittleEndian {
		vectors = vecBlockFloats(vb)
	} else {
		vectors = make([]float32, len(vb)/4)
		for i := range vectors {
			vectors[i] = math.Float32frombits(binary.LittleEndian.Uint32(vb[4*i:]))
		}
	}
	ix := buildIndex(h, m, vectors)
	if mapping != nil {
		ix.readOnly = true
		switch {
		case !hostLittleEndian:
			mapping.Close() // the vectors are a converted copy
		case cfg.skipVecCRC:
			// Nothing has read the vectors: read them ahead at disk speed while the first
			// search starts (its own page faults read a little at a time).
			ix.mapping = mapping
			go mapping.readAhead(h.vecOff, h.vecLen())
		default:
			ix.mapping = mapping
		}
	}
	return ix, nil
}

// appendStr appends a length-prefixed string.
func appendStr(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// appendMap appends a count and the pairs of m sorted by key; keys is scratch space, returned
// for reuse.
func appendMap(b []byte, m map[string]string, keys []string) ([]byte, []string) {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m)))
	keys = keys[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = appendStr(appendStr(b, k), m[k])
	}
	return b, keys
}

func mapSize(m map[string]string) int {
	n := 4
	for k, v := range m {
		n += 8 + len(k) + len(v)
	}
	return n
}

// encodeHead returns the bytes of the file before the vector block of len(ids) rows of dim
// values: header, metadata, headCRC and padding.
func encodeHead(dim int, ids []string, meta []map[string]string, info map[string]string) ([]byte, error) {
	metaLen := mapSize(info)
	for i, id := range ids {
		metaLen += 4 + len(id) + mapSize(meta[i])
	}
	// Lengths are stored as uint32: no string or map in memory comes near 4 GiB, but say so
	// rather than write a file that cannot be read back.
	tooLong := func(m map[string]string) bool {
		if uint64(len(m)) > math.MaxUint32 {
			return true
		}
		for k, v := range m {
			if uint64(len(k)) > math.MaxUint32 || uint64(len(v)) > math.MaxUint32 {
				return true
			}
		}
		return false
	}
	if tooLong(info) || slices.ContainsFunc(meta, tooLong) ||
		slices.ContainsFunc(ids, func(s string) bool { return uint64(len(s)) > math.MaxUint32 }) ||
		dim < 1 || uint64(dim) > math.MaxUint32 {
		return nil, errors.New("a string, a map or the dimension exceeds the format's 32-bit lengths")
	}
	metaEnd := headerSize + metaLen
	vecOff := alignUp(int64(metaEnd + crcSize))
	vecLen := int64(len(ids)) * int64(dim) * 4
	b := make([]byte, headerSize, vecOff)
	copy(b, fileMagic[:])
	le := binary.LittleEndian
	le.PutUint32(b[8:], FormatVersion)
	le.PutUint32(b[12:], uint32(dim))
	le.PutUint64(b[16:], uint64(len(ids)))
	le.PutUint64(b[24:], uint64(metaLen))
	le.PutUint64(b[32:], uint64(vecOff))
	le.PutUint64(b[40:], uint64(vecOff+vecLen+crcSize))
	var keys []string
	b, keys = appendMap(b, info, keys)
	for i, id := range ids {
		b, keys = appendMap(appendStr(b, id), meta[i], keys)
	}
	if len(b) != metaEnd {
		return nil, fmt.Errorf("internal error: metadata of %d bytes, computed %d", len(b)-headerSize, metaLen)
	}
	b = le.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return b[:vecOff], nil // the padding is zero
}

// WriteTo writes the index to w in the file format (see [FormatVersion]) and returns the number
// of bytes written. It implements [io.WriterTo]. It holds a read lock for its duration, so
// searches proceed and Add and Remove wait. Use [Index.Save] for files: it is atomic.
func (ix *Index) WriteTo(w io.Writer) (int64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if err := ix.usable("write index"); err != nil {
		return 0, err
	}
	n, err := ix.writeTo(w)
	if err != nil {
		return n, fmt.Errorf("write index: %w", err)
	}
	return n, nil
}

// writeHinter is implemented by files that can write back what has been written so far while
// the rest is written, so that the final sync has little left to do.
type writeHinter interface {
	writeback(off, n int64)
}

// writeTo encodes the index to w. The caller holds ix.mu.
func (ix *Index) writeTo(w io.Writer) (int64, error) {
	if len(ix.vectors) != len(ix.ids)*ix.dim || len(ix.meta) != len(ix.ids) {
		return 0, fmt.Errorf("internal error: %d ids, %d metadata, %d values", len(ix.ids), len(ix.meta), len(ix.vectors))
	}
	head, err := encodeHead(ix.dim, ix.ids, ix.meta, ix.info)
	if err != nil {
		return 0, err
	}
	var written int64
	write := func(b []byte) error {
		n, err := w.Write(b)
		written += int64(n)
		if err == nil && n != len(b) {
			err = io.ErrShortWrite
		}
		return err
	}
	if err := write(head); err != nil {
		return written, err
	}
	crc := crc32.Checksum(head, castagnoli)
	hint, _ := w.(writeHinter)
	const hintEvery = 32 << 20
	lastHint := int64(0)
	var scratch []byte
	if !hostLittleEndian {
		scratch = make([]byte, min(ioChunk, len(ix.vectors)*4))
	}
	vb := vecBlockBytes(ix.vectors)
	for off := 0; off < len(vb); off += ioChunk {
		chunk := vb[off:min(off+ioChunk, len(vb))]
		if scratch != nil {
			chunk = scratch[:len(chunk)]
			for i := range len(chunk) / 4 {
				binary.LittleEndian.PutUint32(chunk[4*i:], math.Float32bits(ix.vectors[off/4+i]))
			}
		}
		crc = crc32.Update(crc, castagnoli, chunk)
		if err := write(chunk); err != nil {
			return written, err
		}
		if hint != nil && written-lastHint >= hintEvery {
			hint.writeback(lastHint, written-lastHint)
			lastHint = written
		}
	}
	return written, write(binary.LittleEndian.AppendUint32(nil, crc))
}

// saveFS is the file system seen by Save; tests replace it to inject failures at every step.
type saveFS interface {
	// createTemp creates a new file in dir for writing, with the permissions of the file at
	// target if there is one.
	createTemp(dir, target string) (saveFile, error)
	rename(oldpath, newpath string) error
	remove(name string) error
	syncDir(dir string) error
}

// saveFile is the temporary file Save writes.
type saveFile interface {
	io.Writer
	Name() string
	Sync() error
	Close() error
}

// osFS is the real file system.
type osFS struct{}

func (osFS) createTemp(dir, target string) (saveFile, error) {
	perm := fs.FileMode(0o666) // less the umask, as os.Create
	exact := false
	if fi, err := os.Stat(target); err == nil && fi.Mode().IsRegular() {
		perm, exact = fi.Mode().Perm(), true
	}
	base := filepath.Base(target)
	for range 100 {
		var rnd [6]byte
		_, _ = rand.Read(rnd[:])
		name := filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(rnd[:]))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if exact {
			if err := f.Chmod(perm); err != nil {
				f.Close()
				os.Remove(name)
				return nil, err
			}
		}
		return &osFile{File: f}, nil
	}
	return nil, fmt.Errorf("create a temporary file in %s: too many collisions", dir)
}

func (osFS) rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
func (osFS) remove(name string) error             { return os.Remove(name) }

func (osFS) syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return syncDirErr(err)
}

// osFile is a temporary file on disk.
type osFile struct {
	*os.File
	prevOff, prevN int64 // the window of the previous writeback hint
}

// writeback starts writing [off, off+n) to disk and waits for the previous window: the disk
// works while the next window is copied, the dirty pages stay few (no throttling in bursts), and
// the final sync has at most two windows left to write. Errors are left to the sync.
func (f *osFile) writeback(off, n int64) {
	startWriteback(f.File, off, n)
	if f.prevN > 0 {
		waitWriteback(f.File, f.prevOff, f.prevN)
	}
	f.prevOff, f.prevN = off, n
}

// Save writes the index to the file at path atomically: it writes a temporary file in the same
// directory, syncs it to disk, closes it (checking the error), renames it over path and syncs
// the directory. On any error the temporary file is removed and the previous file at path, if
// there was one, is left as it was; a crash at any moment leaves either the previous file or the
// new one, complete. A file that already exists keeps its permissions; a new one gets 0666 less
// the umask.
//
// Save holds a read lock while it writes the bytes: searches proceed, Add and Remove wait. On
// Linux it paces its writes to the disk (the final sync then has little left to do), so with a
// large index the lock is held for about the time the disk takes to write the file. Errors name
// the file. The layout is described at [FormatVersion].
func (ix *Index) Save(path string) error {
	if err := ix.save(osFS{}, path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

func (ix *Index) save(fsys saveFS, path string) (err error) {
	dir := filepath.Dir(path)
	f, err := fsys.createTemp(dir, path)
	if err != nil {
		return err
	}
	tmp := f.Name()
	closed, renamed := false, false
	defer func() {
		if err != nil && !renamed {
			if !closed {
				f.Close()
			}
			fsys.remove(tmp)
		}
	}()
	ix.mu.RLock()
	err = ix.usable("save")
	if err == nil {
		_, err = ix.writeTo(f)
	}
	ix.mu.RUnlock()
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	closed = true
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if err := fsys.rename(tmp, path); err != nil {
		return err
	}
	renamed = true
	// The new file is in place and complete; the error says that the rename may not survive a
	// crash.
	if err := fsys.syncDir(dir); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

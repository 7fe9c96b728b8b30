package pinrec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/bits"
	"slices"
	"unsafe"

	"pinrec/internal/crc32c"
	"pinrec/internal/idtable"
)

// FormatVersion is the version of the index file format that [Index.Save],
// [Index.SaveExtended] and [Index.WriteTo] write. [Load], [LoadExtended], [Open] and
// [ReadIndex] read it and version 1; a file of any other version is refused with
// [ErrUnsupportedVersion].
//
// # Layout of version 2
//
// All integers are unsigned and little-endian; offsets are from the start of the file.
//
//	offset  size  field
//	0       8     magic "PINRECIX"
//	8       4     version, 2
//	12      4     dim: the vector dimension, >= 1
//	16      8     count: the number of items (rows)
//	24      8     metaLen: the length of the metadata section
//	32      8     vecOff: the offset of the vector block: 64+metaLen+4 rounded up to a multiple of 4096
//	40      8     fileSize: the length of the whole file
//	48      16    kind: the index kind, 1 to 15 bytes of [a-z0-9-], then zero bytes ("flat" for a plain Index)
//	64      metaLen   metadata section (below)
//	64+metaLen  4     headCRC: CRC-32C (Castagnoli) of bytes [0, 64+metaLen)
//	...     ...   zero padding up to vecOff
//	vecOff  count*dim*4  vectors: row-major float32 (IEEE 754, little-endian), row i at vecOff+i*dim*4
//	vecEnd  ...   the extension, if any: zero padding up to a multiple of 8, then its data (below)
//	fileSize-4  4     fileCRC: CRC-32C (Castagnoli) of bytes [0, fileSize-4)
//
// The metadata section holds, with str meaning a uint32 byte length followed by that many
// bytes (UTF-8 by convention, not checked):
//
//	uint32 nInfo, then nInfo pairs (str key, str value): the index-level info (Index.Info)
//	count times: str id, uint32 nMeta, then nMeta pairs (str key, str value): row i's ID and metadata
//
// The extension is the kind-specific section of an [Extension] (for example an HNSW graph):
// when vecEnd = vecOff+count*dim*4 equals fileSize-4 there is none; otherwise it starts at
// extOff = vecEnd rounded up to a multiple of 8 (the bytes between are zero), holds at least
// one byte, and ends at fileSize-4. A "flat" file has no extension.
//
// Keys of each map are sorted by byte order without duplicates, IDs are non-empty and unique,
// and every vector value is finite. The encoding is canonical: one index (with one extension)
// has exactly one file, and a reader refuses anything else (unsorted keys, non-zero padding,
// a vecOff other than the one above). Because the vector block starts at a multiple of 4096,
// it can be memory-mapped by any language: in Python,
//
//	numpy.memmap(path, dtype="<f4", mode="r", offset=vecOff, shape=(count, dim))
//
// (tools/read_index.py in the repository is a complete reader).
//
// headCRC lets a reader check the header, IDs and metadata without reading the vectors (see
// [WithoutVectorChecksum]); fileCRC covers everything, the vectors and the extension included.
//
// # Version 1
//
// Version 1 is version 2 without kind and extension: bytes 48 to 63 are zero, the kind is
// "flat", and fileSize is vecOff+count*dim*4+4.
const FormatVersion = 2

// Errors returned by [Load], [LoadExtended], [Open] and [ReadIndex], wrapped with the operation
// and the file name. Test them with [errors.Is]. A truncated file matches both [ErrBadFormat]
// and [io.ErrUnexpectedEOF].
var (
	// ErrBadFormat: the file is not a pinrec index (wrong magic), or is truncated, or its
	// header or metadata are inconsistent.
	ErrBadFormat = errors.New("pinrec: bad index file")
	// ErrChecksum: the file's content does not match its CRC-32C (it was corrupted).
	ErrChecksum = errors.New("pinrec: index file checksum mismatch")
	// ErrUnsupportedVersion: the file is a pinrec index of a format version this build does
	// not read.
	ErrUnsupportedVersion = errors.New("pinrec: unsupported index file version")
	// ErrUnknownKind: [Open] found a kind of index that no imported package registered with
	// [RegisterKind].
	ErrUnknownKind = errors.New("pinrec: unknown index kind")
)

// KindFlat is the kind of a plain [Index] file: vectors, IDs and metadata, no extension.
const KindFlat = "flat"

// Extension is the kind-specific section of an index file (see [FormatVersion]): a package
// that builds another kind of index on an [Index] (an approximate graph, say) saves its own
// structure here with [Index.SaveExtended], in the same atomic, checksummed file as the
// vectors, and reads it back with [LoadExtended].
type Extension struct {
	// Kind names the index kind: 1 to 15 bytes of [a-z0-9-]. [KindFlat] has no Data.
	Kind string
	// Data is the section's content, opaque to package pinrec.
	Data []byte
}

// checkKind returns an error if kind is not 1 to 15 bytes of [a-z0-9-].
func checkKind(kind string) error {
	if len(kind) < 1 || len(kind) > maxKindLen {
		return fmt.Errorf("kind %q: want 1 to %d bytes", kind, maxKindLen)
	}
	for i := range len(kind) {
		c := kind[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("kind %q: byte %d is not one of [a-z0-9-]", kind, i)
		}
	}
	return nil
}

// checkExtension returns an error if ext cannot be saved.
func checkExtension(ext Extension) error {
	if err := checkKind(ext.Kind); err != nil {
		return err
	}
	if ext.Kind == KindFlat && len(ext.Data) > 0 {
		return errors.New("a flat index has no extension data")
	}
	return nil
}

const (
	formatV1    = 1
	headerSize  = 64
	kindOff     = 48
	maxKindLen  = 15
	vectorAlign = 4096
	extAlign    = 8
	crcSize     = 4
	// ioChunk is the unit in which vector blocks are checksummed and copied: small enough to
	// stay in the CPU cache between the copy and the checksum.
	ioChunk = 1 << 20
)

var (
	fileMagic  = [8]byte{'P', 'I', 'N', 'R', 'E', 'C', 'I', 'X'}
	castagnoli = crc32c.Table
	// hostLittleEndian: the vectors in memory have the file's byte order, so they are written
	// and read (and mapped) without conversion.
	hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
)

// fileHeader is the decoded fixed header.
type fileHeader struct {
	version  int
	kind     string
	dim      int
	count    int
	metaLen  int
	vecOff   int64
	fileSize int64
	// extOff and extLen locate the extension's data; extLen is 0 when there is none (extOff
	// is then the end of the vectors).
	extOff, extLen int64
}

func (h fileHeader) vecLen() int64 { return int64(h.count) * int64(h.dim) * 4 }

// vecEnd is the offset of the end of the vector block.
func (h fileHeader) vecEnd() int64 { return h.vecOff + h.vecLen() }

// tailLen is the length of what lies between the vectors and fileCRC: padding and extension.
func (h fileHeader) tailLen() int64 { return h.fileSize - crcSize - h.vecEnd() }

// alignUp rounds n up to a multiple of vectorAlign.
func alignUp(n int64) int64 { return (n + vectorAlign - 1) &^ (vectorAlign - 1) }

// truncated returns an error for a file shorter than its header says.
func truncated(format string, args ...any) error {
	return fmt.Errorf("%w: truncated: %s: %w", ErrBadFormat, fmt.Sprintf(format, args...), io.ErrUnexpectedEOF)
}

func badFormat(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadFormat, fmt.Sprintf(format, args...))
}

// parseKind decodes the kind field of a version 2 header.
func parseKind(b []byte) (string, error) {
	n := bytes.IndexByte(b, 0)
	if n < 0 {
		n = len(b)
	}
	kind := string(b[:n])
	if err := checkKind(kind); err != nil {
		return "", badFormat("%v", err)
	}
	for _, x := range b[n:] {
		if x != 0 {
			return "", badFormat("bytes after the kind are not zero")
		}
	}
	return kind, nil
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
	version := le.Uint32(b[8:])
	kind := KindFlat
	switch version {
	case formatV1:
		for _, x := range b[kindOff:headerSize] {
			if x != 0 {
				return h, badFormat("reserved header bytes are not zero")
			}
		}
	case FormatVersion:
		var err error
		if kind, err = parseKind(b[kindOff:headerSize]); err != nil {
			return h, err
		}
	default:
		return h, fmt.Errorf("%w: version %d (this build reads versions %d and %d)", ErrUnsupportedVersion, version, formatV1, FormatVersion)
	}
	dim := uint64(le.Uint32(b[12:]))
	count := le.Uint64(b[16:])
	metaLen := le.Uint64(b[24:])
	vecOff := le.Uint64(b[32:])
	fileSize := le.Uint64(b[40:])
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
	room := fileSize - crcSize - vecOff // vectors and, in version 2, the extension
	if hi != 0 || values > room/4 || (version == formatV1 && values*4 != room) {
		return h, badFormat("%d items of dimension %d do not fill the %d-byte vector block", count, dim, room)
	}
	if values > math.MaxInt || metaLen > math.MaxInt || dim > math.MaxInt32 {
		return h, badFormat("index too large for this machine")
	}
	h = fileHeader{version: int(version), kind: kind, dim: int(dim), count: int(count), metaLen: int(metaLen),
		vecOff: int64(vecOff), fileSize: int64(fileSize)}
	h.extOff = h.vecEnd()
	if tail := h.tailLen(); tail > 0 {
		h.extOff = (h.vecEnd() + extAlign - 1) &^ (extAlign - 1)
		h.extLen = h.fileSize - crcSize - h.extOff
		if h.extLen <= 0 {
			return h, badFormat("%d bytes after the vectors: padding without an extension", tail)
		}
		if kind == KindFlat {
			return h, badFormat("%d bytes after the vectors of a flat index", tail)
		}
	}
	return h, nil
}

// checkPadding returns an error if the padding between the vectors and the extension, the first
// bytes of tail (the bytes from the end of the vectors to fileCRC), is not zero.
func (h fileHeader) checkPadding(tail []byte) error {
	for _, x := range tail[:h.extOff-h.vecEnd()] {
		if x != 0 {
			return badFormat("padding before the extension is not zero")
		}
	}
	return nil
}

// decodedMeta is the content of the metadata section.
type decodedMeta struct {
	info map[string]string
	ids  []string
	meta []map[string]string
	pos  idtable.Table
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
	}
	d.pos.Reset(count)
	for i := 0; i < count && r.err == nil; i++ {
		id := r.str()
		if r.err != nil {
			break
		}
		if id == "" {
			r.fail("row %d: empty id", i)
			break
		}
		d.ids[i] = id
		if !d.pos.Add(id, i, d.ids) {
			d.ids[i] = ""
			r.fail("row %d: duplicate id %q", i, id)
			break
		}
		d.meta[i] = r.strMap(id)
	}
	if r.err == nil && r.off != len(buf) {
		r.fail("%d unread bytes at the end of the section", len(buf)-r.off)
	}
	return d, r.err
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

// fileLayout says what encodeHead writes besides the rows: the format version, and for
// version 2 the kind and the length of the extension's data.
type fileLayout struct {
	version int
	kind    string
	extLen  int64
}

// tail returns the length of the padding and the extension after a vector block of vecLen
// bytes.
func (l fileLayout) tail(vecLen int64) (pad, ext int64) {
	if l.extLen == 0 {
		return 0, 0
	}
	return (extAlign - vecLen%extAlign) % extAlign, l.extLen
}

// encodeHead returns the bytes of the file before the vector block of len(ids) rows of dim
// values: header, metadata, headCRC and padding.
func encodeHead(dim int, ids []string, meta []map[string]string, info map[string]string, l fileLayout) ([]byte, error) {
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
	if l.version == formatV1 && (l.kind != KindFlat || l.extLen != 0) {
		return nil, fmt.Errorf("internal error: version 1 of kind %q with %d bytes of extension", l.kind, l.extLen)
	}
	metaEnd := headerSize + metaLen
	vecOff := alignUp(int64(metaEnd + crcSize))
	vecLen := int64(len(ids)) * int64(dim) * 4
	pad, ext := l.tail(vecLen)
	b := make([]byte, headerSize, vecOff)
	copy(b, fileMagic[:])
	le := binary.LittleEndian
	le.PutUint32(b[8:], uint32(l.version))
	le.PutUint32(b[12:], uint32(dim))
	le.PutUint64(b[16:], uint64(len(ids)))
	le.PutUint64(b[24:], uint64(metaLen))
	le.PutUint64(b[32:], uint64(vecOff))
	le.PutUint64(b[40:], uint64(vecOff+vecLen+pad+ext+crcSize))
	if l.version != formatV1 {
		copy(b[kindOff:headerSize], l.kind)
	}
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

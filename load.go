package pinrec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"runtime"

	"pinrec/internal/crc32c"
	"pinrec/internal/fsio"
)

// LoadOption configures [Load], [LoadExtended], [Open] and [ReadIndex]. A nil LoadOption is
// ignored.
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
// rewritten in place while mapped ([Index.Save] replaces files by rename, which is safe). If
// it is truncated anyway, Load and the methods that read the vectors return an error wrapping
// [ErrFileChanged] instead of ending the process with SIGBUS.
//
// By default the whole file is verified against its checksum while opening, which reads every
// page once (at page-cache or disk speed) and leaves the vectors cached for the first search,
// which has to read all of them anyway. [WithoutVectorChecksum] skips that for an instant open.
//
// On systems without mmap (or on big-endian machines) WithMmap reads the file into memory and
// still returns a read-only index. [ReadIndex] ignores it.
func WithMmap() LoadOption { return func(c *loadConfig) { c.mmap = true } }

// WithoutVectorChecksum skips the checksum over the vector block and the extension (and the
// check that every value is finite) when loading. The header, IDs and metadata are still
// verified against their own checksum. Use it with [WithMmap] to open a large index without
// reading its vectors first when the file is known to be good (for example, verified once after
// it was copied); a corrupted vector or extension is then served as is. The vectors of such a
// mapped index are read ahead in the background, so that a first search on a cold cache is not
// left to page faults.
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

// Load reads the index file at path (see [FormatVersion] for its layout), checking its magic and
// version, bounding every size by the file's size before allocating, and verifying its checksum.
// The result is a fresh index; nothing is returned on error. A file of another kind (one that
// [Index.SaveExtended] wrote) loads as its plain, exact Index: the vectors, IDs and metadata,
// without the extension (which the checksum still covers).
//
// Errors name the file and wrap [ErrBadFormat] (a foreign, truncated or inconsistent file),
// [ErrUnsupportedVersion], [ErrChecksum] or the [fs] error. Options: [WithMmap],
// [WithoutVectorChecksum].
func Load(path string, opts ...LoadOption) (*Index, error) {
	ix, _, err := load(path, newLoadConfig(opts))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return ix, nil
}

// LoadExtended is [Load] that also returns the file's [Extension]: its kind, and its data
// (nil for a "flat" file, version 1 included). With [WithMmap] the data may alias the mapping:
// it is then read-only and valid only while the index is open, so keep the index reachable
// and do not use the data after [Index.Close].
func LoadExtended(path string, opts ...LoadOption) (*Index, Extension, error) {
	ix, ext, err := load(path, newLoadConfig(opts))
	if err != nil {
		return nil, Extension{}, fmt.Errorf("load %s: %w", path, err)
	}
	return ix, ext, nil
}

func load(path string, cfg loadConfig) (*Index, Extension, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Extension{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, Extension{}, err
	}
	if !fi.Mode().IsRegular() {
		return nil, Extension{}, badFormat("not a regular file (%v)", fi.Mode().Type())
	}
	size := fi.Size()
	if cfg.mmap && size >= headerSize {
		return loadMapped(f, path, size, cfg)
	}
	return readIndex(f, f, size, cfg)
}

// loadMapped maps size bytes of f, the file at path, and decodes them. A fault while reading
// the mapping (the file was truncated after its size was read) is an error wrapping
// [ErrFileChanged], on every goroutine that reads it.
func loadMapped(f *os.File, path string, size int64, cfg loadConfig) (*Index, Extension, error) {
	m, err := fsio.Map(f, size)
	if err != nil {
		return nil, Extension{}, err
	}
	mf := &mappedFile{Mapping: m, path: path}
	var ix *Index
	var ext Extension
	err = withFaultsAsErrors(func() error {
		var err error
		ix, ext, err = indexFromBytes(m.Data(), cfg, mf)
		return err
	})
	if err != nil {
		m.Close()
		return nil, Extension{}, err
	}
	if ix.mapping != nil {
		releaseWhenUnreachable(ix, m)
	}
	return ix, ext, nil
}

// releaseWhenUnreachable closes m if ix is dropped without Close: a safety net, not a
// substitute for Close. m does not refer to ix.
func releaseWhenUnreachable(ix *Index, m *fsio.Mapping) {
	runtime.AddCleanup(ix, func(m *fsio.Mapping) { m.Close() }, m)
}

// ReadIndex reads an index in the file format (see [FormatVersion]) from r, which must yield
// exactly size bytes; size bounds every allocation. Like [Load], it reads a file of any kind as
// its plain Index. Only [WithoutVectorChecksum] applies. Errors wrap the sentinels [Load]
// documents.
func ReadIndex(r io.Reader, size int64, opts ...LoadOption) (*Index, error) {
	ix, _, err := readIndex(r, nil, size, newLoadConfig(opts))
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	return ix, nil
}

// ReadExtended is [ReadIndex] that also returns the file's [Extension], as [LoadExtended] does.
func ReadExtended(r io.Reader, size int64, opts ...LoadOption) (*Index, Extension, error) {
	ix, ext, err := readIndex(r, nil, size, newLoadConfig(opts))
	if err != nil {
		return nil, Extension{}, fmt.Errorf("read index: %w", err)
	}
	return ix, ext, nil
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
func readIndex(r io.Reader, at io.ReaderAt, size int64, cfg loadConfig) (*Index, Extension, error) {
	var hb [headerSize]byte
	if size < headerSize {
		b := hb[:max(size, 0)]
		n, _ := io.ReadFull(r, b)
		_, err := parseHeader(b[:n], size)
		return nil, Extension{}, err
	}
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return nil, Extension{}, eofAsTruncated(err, "header")
	}
	h, err := parseHeader(hb[:], size)
	if err != nil {
		return nil, Extension{}, err
	}
	// Header, metadata and headCRC, then the padding in the same buffer.
	buf := make([]byte, h.vecOff)
	copy(buf, hb[:])
	if _, err := io.ReadFull(r, buf[headerSize:]); err != nil {
		return nil, Extension{}, eofAsTruncated(err, "metadata")
	}
	crc, m, err := decodeHead(buf, h)
	if err != nil {
		return nil, Extension{}, err
	}

	vectors := make([]float32, h.count*h.dim)
	vb := vecBlockBytes(vectors)
	var vcrc uint32
	switch {
	case at != nil && hostLittleEndian:
		var prefetch func(off, n int64)
		if f, ok := at.(*os.File); ok {
			prefetch = func(off, n int64) { fsio.PrefetchFile(f, h.vecOff+off, n) }
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
		return nil, Extension{}, err
	}
	// The padding and the extension, then fileCRC.
	tail := make([]byte, h.tailLen()+crcSize)
	if at != nil {
		_, err = at.ReadAt(tail, h.vecEnd())
	} else {
		_, err = io.ReadFull(r, tail)
	}
	if err != nil {
		return nil, Extension{}, eofAsTruncated(err, "extension and checksum")
	}
	ext, err := decodeTail(h, tail, crc, vcrc, cfg)
	if err != nil {
		return nil, Extension{}, err
	}
	return buildIndex(h, m, vectors), ext, nil
}

// decodeTail checks the bytes of a file from the end of its vectors to its end (padding,
// extension, fileCRC) and returns the extension, whose data aliases tail. headCRC and vcrc are
// the CRCs of the bytes before the vectors and of the vectors; unless cfg skips it, the
// file's checksum is verified.
func decodeTail(h fileHeader, tail []byte, headCRC, vcrc uint32, cfg loadConfig) (Extension, error) {
	n := len(tail) - crcSize
	if err := h.checkPadding(tail[:n]); err != nil {
		return Extension{}, err
	}
	if !cfg.skipVecCRC {
		crc := crc32c.Combine(headCRC, vcrc, h.vecLen())
		crc = crc32.Update(crc, castagnoli, tail[:n])
		if got := binary.LittleEndian.Uint32(tail[n:]); got != crc {
			return Extension{}, fmt.Errorf("%w: stored CRC %08x, computed %08x", ErrChecksum, got, crc)
		}
	}
	ext := Extension{Kind: h.kind}
	if h.extLen > 0 {
		ext.Data = tail[n-int(h.extLen) : n : n]
	}
	return ext, nil
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

// indexFromBytes decodes a whole file held in data (a mapping, or a buffer for tests and
// systems without mmap). The vectors and the extension's data alias data unless the host is
// big-endian; IDs and metadata are copied to the heap, so they stay valid after the mapping is
// released. A non-nil mapping makes the index read-only and, unless the index does not need it
// (then it is closed at once, and ix.mapping is nil), is closed by [Index.Close].
func indexFromBytes(data []byte, cfg loadConfig, mapping *mappedFile) (*Index, Extension, error) {
	size := int64(len(data))
	h, err := parseHeader(data[:min(len(data), headerSize)], size)
	if err != nil {
		return nil, Extension{}, err
	}
	head := data[:h.vecOff]
	if mapping != nil {
		head = bytes.Clone(head) // IDs and metadata must outlive the mapping
	}
	crc, m, err := decodeHead(head, h)
	if err != nil {
		return nil, Extension{}, err
	}
	vb := data[h.vecOff:h.vecEnd()]
	var vcrc uint32
	if !cfg.skipVecCRC {
		var prefetch func(off, n int64)
		if mapping != nil {
			prefetch = func(off, n int64) {
				// Whole pages: the block starts on a page boundary of the mapping.
				lo, hi := off&^(vectorAlign-1), min(off+n, int64(len(vb)))
				fsio.PrefetchMapped(vb[lo:hi])
			}
		}
		vcrc, err = scanBlock(int64(len(vb)), h.dim, true, func(off int64, n int) ([]byte, error) {
			return vb[off : off+int64(n)], nil
		}, prefetch)
		if err != nil {
			return nil, Extension{}, err
		}
	}
	ext, err := decodeTail(h, data[h.vecEnd():h.fileSize], crc, vcrc, cfg)
	if err != nil {
		return nil, Extension{}, err
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
			ext.Data = bytes.Clone(ext.Data)
			mapping.Close() // the vectors are a converted copy
		case cfg.skipVecCRC:
			// Nothing has read the vectors: read them ahead at disk speed while the first
			// search starts (its own page faults read a little at a time).
			ix.mapping = mapping
			go mapping.ReadAhead(h.vecOff, h.vecLen(), prefetchWindow) // survives faults
		default:
			ix.mapping = mapping
		}
	}
	return ix, ext, nil
}

package pinrec

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"pinrec/internal/fsio"
)

// WriteTo writes the index to w in the file format (see [FormatVersion]) and returns the number
// of bytes written. It implements [io.WriterTo]. It holds a read lock for its duration, so
// searches proceed and Add and Remove wait. Use [Index.Save] for files: it is atomic.
func (ix *Index) WriteTo(w io.Writer) (int64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if err := ix.usable("write index"); err != nil {
		return 0, err
	}
	n, err := ix.writeTo(w, flatLayout, nil)
	if err != nil {
		return n, fmt.Errorf("write index: %w", err)
	}
	return n, nil
}

// WriteExtended writes the index and ext to w in the file format (see [FormatVersion]), as
// [Index.SaveExtended] does to a file, and returns the number of bytes written.
func (ix *Index) WriteExtended(w io.Writer, ext Extension) (int64, error) {
	if err := checkExtension(ext); err != nil {
		return 0, fmt.Errorf("write index: %w", err)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if err := ix.usable("write index"); err != nil {
		return 0, err
	}
	n, err := ix.writeTo(w, extLayout(ext), ext.Data)
	if err != nil {
		return n, fmt.Errorf("write index: %w", err)
	}
	return n, nil
}

// flatLayout is the layout of a plain index file.
var flatLayout = fileLayout{version: FormatVersion, kind: KindFlat}

// extLayout is the layout of a file with extension ext.
func extLayout(ext Extension) fileLayout {
	return fileLayout{version: FormatVersion, kind: ext.Kind, extLen: int64(len(ext.Data))}
}

// writeHinter is implemented by files that can write back what has been written so far while
// the rest is written, so that the final sync has little left to do.
type writeHinter interface {
	writeback(off, n int64)
}

// writeTo encodes the index to w in layout l, with extension data ext (len(ext) ==
// l.extLen). The caller holds ix.mu.
func (ix *Index) writeTo(w io.Writer, l fileLayout, ext []byte) (_ int64, err error) {
	g := ix.guardFaults() // a mapped file truncated: an error, not SIGBUS
	defer g.end(&err)
	if ix.dim < 1 {
		return 0, fmt.Errorf("a zero Index has no dimension before its first Add: %w", ErrBadDim)
	}
	if len(ix.vectors) != len(ix.ids)*ix.dim || len(ix.meta) != len(ix.ids) {
		return 0, fmt.Errorf("internal error: %d ids, %d metadata, %d values", len(ix.ids), len(ix.meta), len(ix.vectors))
	}
	head, err := encodeHead(ix.dim, ix.ids, ix.meta, ix.info, l)
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
	pad, _ := l.tail(int64(len(vb)))
	for _, b := range [][]byte{make([]byte, pad), ext} {
		crc = crc32.Update(crc, castagnoli, b)
		if err := write(b); err != nil {
			return written, err
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
	return fsio.SyncDirErr(err)
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
	fsio.StartWriteback(f.File, off, n)
	if f.prevN > 0 {
		fsio.WaitWriteback(f.File, f.prevOff, f.prevN)
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
	if err := ix.save(osFS{}, path, flatLayout, nil); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// SaveExtended is [Index.Save] for another kind of index built on this one: it writes the
// index and, after the vectors, ext's data, under ext's kind (see [FormatVersion]), in one
// atomic, checksummed file. [LoadExtended] reads both back, [Open] dispatches on the kind, and
// [Load] reads the file as a plain Index. The error names the file; ext.Kind must be 1 to 15
// bytes of [a-z0-9-], and a [KindFlat] extension must have no data.
func (ix *Index) SaveExtended(path string, ext Extension) error {
	err := checkExtension(ext)
	if err == nil {
		err = ix.save(osFS{}, path, extLayout(ext), ext.Data)
	}
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

func (ix *Index) save(fsys saveFS, path string, l fileLayout, ext []byte) (err error) {
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
		_, err = ix.writeTo(f, l, ext)
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

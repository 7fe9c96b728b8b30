package pinrec

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// testStore is the Store of the "test-store" kind: the file's Index, and the extension it was
// opened with.
type testStore struct {
	*Index
	ext  Extension
	opts int
}

var registerTestKind = sync.OnceFunc(func() {
	RegisterKind("test-store", func(path string, opts ...LoadOption) (Store, error) {
		ix, ext, err := LoadExtended(path, opts...)
		if err != nil {
			return nil, err
		}
		return &testStore{Index: ix, ext: ext, opts: len(opts)}, nil
	})
})

func TestSaveExtendedRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ix := persistIndex(t, 37, 5, 3) // 740 bytes of vectors: 4 bytes of padding before the data
	for _, n := range []int{0, 1, 7, 8, 4099} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*7 + 1)
		}
		ext := Extension{Kind: "graph-v1", Data: data}
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("ext%d.idx", n))
			require.NoError(t, ix.SaveExtended(path, ext))
			file, err := os.ReadFile(path)
			require.NoError(t, err)
			var buf bytes.Buffer
			_, err = ix.WriteExtended(&buf, ext)
			require.NoError(t, err)
			require.Equal(t, file, buf.Bytes(), "SaveExtended writes what WriteExtended writes")

			// The documented layout: kind in the header, data 8-aligned after the vectors,
			// the whole covered by fileCRC.
			le := binary.LittleEndian
			require.EqualValues(t, 2, le.Uint32(file[8:]))
			require.Equal(t, "graph-v1\x00\x00\x00\x00\x00\x00\x00\x00", string(file[48:64]))
			vecEnd := int(le.Uint64(file[32:])) + 37*5*4
			extOff := vecEnd
			if n > 0 {
				extOff = (vecEnd + 7) &^ 7
			}
			require.Equal(t, extOff+n+4, len(file))
			require.Equal(t, data, file[extOff:extOff+n])
			require.Equal(t, make([]byte, extOff-vecEnd), file[vecEnd:extOff])
			require.Equal(t, crc32.Checksum(file[:len(file)-4], castagnoli), le.Uint32(file[len(file)-4:]))

			for _, mmap := range []bool{false, true} {
				var opts []LoadOption
				if mmap {
					opts = append(opts, WithMmap())
				}
				got, gext, err := LoadExtended(path, opts...)
				require.NoError(t, err)
				requireSameIndex(t, ix, got)
				require.Equal(t, "graph-v1", gext.Kind)
				require.Equal(t, len(data), len(gext.Data))
				require.True(t, bytes.Equal(data, gext.Data))
				require.NoError(t, got.Close())
			}
			got, gext, err := ReadExtended(bytes.NewReader(file), int64(len(file)))
			require.NoError(t, err)
			requireSameIndex(t, ix, got)
			require.True(t, bytes.Equal(data, gext.Data))
			// Load and ReadIndex read the plain index of any kind.
			for _, l := range persistLoaders {
				got, err := l.load(path)
				require.NoError(t, err, l.name)
				requireSameIndex(t, ix, got)
				require.NoError(t, got.Close())
			}
		})
	}
}

func TestSaveExtendedRefusesBadKinds(t *testing.T) {
	ix := persistIndex(t, 3, 2, 1)
	dir := t.TempDir()
	for _, ext := range []Extension{
		{Kind: ""}, {Kind: "Graph"}, {Kind: "a_b"}, {Kind: "sixteen-bytes-xx"}, {Kind: "é"},
		{Kind: KindFlat, Data: []byte{1}},
	} {
		path := filepath.Join(dir, "x.idx")
		err := ix.SaveExtended(path, ext)
		require.Error(t, err, "%q", ext.Kind)
		require.Contains(t, err.Error(), path)
		require.NoFileExists(t, path)
		_, err = ix.WriteExtended(&bytes.Buffer{}, ext)
		require.Error(t, err, "%q", ext.Kind)
	}
	// A flat extension without data is a plain file.
	path := filepath.Join(dir, "flat.idx")
	require.NoError(t, ix.SaveExtended(path, Extension{Kind: KindFlat}))
	plain := filepath.Join(dir, "plain.idx")
	require.NoError(t, ix.Save(plain))
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(plain)
	require.Equal(t, b, a)
}

// TestLoadCorruptExtension: the extension is covered by the file's checksum, its padding must
// be zero, and a file cannot end in padding alone.
func TestLoadCorruptExtension(t *testing.T) {
	ix := persistIndex(t, 5, 3, 2) // 60 bytes of vectors: 4 bytes of padding
	var buf bytes.Buffer
	_, err := ix.WriteExtended(&buf, Extension{Kind: "graph", Data: []byte("0123456789")})
	require.NoError(t, err)
	good := buf.Bytes()
	le := binary.LittleEndian
	vecEnd := int(le.Uint64(good[32:])) + 60
	edit := func(f func(b []byte) []byte, fix bool) []byte {
		b := f(bytes.Clone(good))
		le.PutUint64(b[40:], uint64(len(b)))
		if fix {
			persistFixCRCs(b)
		}
		return b
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name      string
		data      []byte
		sentinels []error
	}{
		{"flipped bit in extension", edit(func(b []byte) []byte { b[len(b)-6] ^= 1; return b }, false), []error{ErrChecksum}},
		{"non-zero padding", edit(func(b []byte) []byte { b[vecEnd+1] = 1; return b }, true), []error{ErrBadFormat}},
		{"padding only", edit(func(b []byte) []byte { return append(b[:vecEnd+4], 0, 0, 0, 0) }, true), []error{ErrBadFormat}},
		{"half the padding", edit(func(b []byte) []byte { return append(b[:vecEnd+2], 0, 0, 0, 0) }, true), []error{ErrBadFormat}},
		{"extension cut", good[:len(good)-7], []error{ErrBadFormat}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".idx")
			require.NoError(t, os.WriteFile(path, tc.data, 0o644))
			for _, mmap := range []bool{false, true} {
				opts := []LoadOption{}
				if mmap {
					opts = append(opts, WithMmap())
				}
				got, _, err := LoadExtended(path, opts...)
				require.Nil(t, got)
				for _, s := range tc.sentinels {
					require.ErrorIs(t, err, s)
				}
				require.Contains(t, err.Error(), path)
			}
		})
	}
	// Without the vector checksum, a corrupt extension is served as is (as documented).
	path := filepath.Join(dir, "flipped.idx")
	bad := bytes.Clone(good)
	bad[len(bad)-6] ^= 1
	require.NoError(t, os.WriteFile(path, bad, 0o644))
	_, ext, err := LoadExtended(path, WithoutVectorChecksum())
	require.NoError(t, err)
	require.Equal(t, "0123456799", string(ext.Data)) // '8' with its low bit flipped
}

func TestOpen(t *testing.T) {
	registerTestKind()
	dir := t.TempDir()
	ix := persistIndex(t, 12, 4, 8)
	flat := filepath.Join(dir, "flat.idx")
	require.NoError(t, ix.Save(flat))
	v1 := filepath.Join("testdata", "persist", "small_v1.idx")
	known := filepath.Join(dir, "known.idx")
	require.NoError(t, ix.SaveExtended(known, Extension{Kind: "test-store", Data: []byte{9, 8, 7}}))
	unknown := filepath.Join(dir, "unknown.idx")
	require.NoError(t, ix.SaveExtended(unknown, Extension{Kind: "hnsw-from-mars", Data: []byte{1}}))

	for _, path := range []string{flat, v1} {
		s, err := Open(path, WithMmap())
		require.NoError(t, err)
		got, ok := s.(*Index)
		require.True(t, ok, "a flat file opens as *Index, got %T", s)
		require.True(t, got.readOnly, "options are passed on")
		require.NoError(t, s.Close())
	}

	s, err := Open(known, WithMmap(), nil)
	require.NoError(t, err)
	ts, ok := s.(*testStore)
	require.True(t, ok, "got %T", s)
	require.Equal(t, Extension{Kind: "test-store", Data: []byte{9, 8, 7}}, ts.ext)
	require.Equal(t, 2, ts.opts)
	requireSameIndex(t, ix, ts.Index)
	res, err := s.Similar(context.Background(), ix.ids[0], 3)
	require.NoError(t, err)
	require.Len(t, res, 3)
	require.NoError(t, s.Close())

	_, err = Open(unknown)
	require.ErrorIs(t, err, ErrUnknownKind)
	require.Contains(t, err.Error(), `"hnsw-from-mars"`)
	require.Contains(t, err.Error(), unknown)
	require.Contains(t, err.Error(), "import")
	// Load still reads it as its plain index.
	got, err := Load(unknown)
	require.NoError(t, err)
	requireSameIndex(t, ix, got)

	// Errors of the file itself name it and keep their sentinels.
	_, err = Open(filepath.Join(dir, "missing.idx"))
	require.ErrorIs(t, err, os.ErrNotExist)
	junk := filepath.Join(dir, "junk.idx")
	require.NoError(t, os.WriteFile(junk, []byte("PINREC"), 0o644))
	_, err = Open(junk)
	require.ErrorIs(t, err, ErrBadFormat)
	require.Contains(t, err.Error(), junk)
	_, err = Open(dir)
	require.ErrorIs(t, err, ErrBadFormat)
}

func TestRegisterKindPanics(t *testing.T) {
	registerTestKind()
	open := func(string, ...LoadOption) (Store, error) { return nil, errors.New("unused") }
	for _, tc := range []struct {
		kind string
		open Opener
	}{
		{"", open}, {"Bad", open}, {"flat", open}, {"test-store", open}, {"fine-kind", nil},
	} {
		require.Panics(t, func() { RegisterKind(tc.kind, tc.open) }, "%q", tc.kind)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"pinrec"
	"pinrec/ann"
)

// servedFile saves an index of n random vectors (seeded) at path, flat or hnsw.
func servedFile(t *testing.T, path, kind string, n int, seed uint64) *pinrec.Index {
	t.Helper()
	ix, err := pinrec.NewIndex(32)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(seed, 3))
	for i := range n {
		v := make([]float32, 32)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		require.NoError(t, ix.Add(pinrec.Item{ID: fmt.Sprintf("p%03d", i), Vector: v}))
	}
	if kind == pinrec.KindFlat {
		require.NoError(t, ix.Save(path))
		return ix
	}
	// An efSearch as large as the index: its searches scan every item exactly, so the tests
	// can compare answers with the exact index's whatever graph the parallel build draws (a
	// calibrated efSearch on 200 random 32-d vectors misses one of the top 5 now and then).
	a, err := ann.Build(context.Background(), ix, ann.WithEfSearch(n))
	require.NoError(t, err)
	require.NoError(t, a.Save(path))
	return ix
}

// rewriteInPlace writes b over path as cp does: the same file, truncated, then written.
func rewriteInPlace(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// TestServedIndexChangedInPlace: a served index whose file is truncated in place answers from
// memory (flat) or refuses with errIndexChanged naming the file (hnsw, mapped: the fault of
// reading a page cut off the file is recovered, not fatal); the watcher then reloads the file
// once it is whole again, and answers match an exact search of it.
// similarIDs builds a handler that answers the 5 items most similar to the request's pin
// (id picks it), one ID a line, or 500 with the error.
func similarIDs(id func(*http.Request) string) func(*servedIndex) (http.Handler, error) {
	return func(ix *servedIndex) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			res, err := ix.Similar(r.Context(), id(r), 5)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			for _, x := range res {
				fmt.Fprintln(w, x.ID)
			}
		}), nil
	}
}

func TestServedIndexChangedInPlace(t *testing.T) {
	old := watchEvery
	watchEvery = 10 * time.Millisecond
	t.Cleanup(func() { watchEvery = old })
	for _, kind := range []string{pinrec.KindFlat, ann.Kind} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "pins.idx")
			exact := servedFile(t, path, kind, 200, 1)
			other := filepath.Join(dir, "other.idx")
			exactOther := servedFile(t, other, kind, 200, 2)
			next, err := os.ReadFile(other)
			require.NoError(t, err)

			ix, err := openServed(path, true)
			require.NoError(t, err)
			assert.Equal(t, kind != pinrec.KindFlat, ix.mapped)
			var logs bytes.Buffer
			var logMu sync.Mutex
			rh := &reloadingHandler{path: path, logger: log.New(lockedBuffer{&logs, &logMu}, "", 0),
				check: func(*servedIndex) error { return nil },
				build: similarIDs(func(r *http.Request) string { return r.URL.Query().Get("id") })}
			h, err := rh.build(ix)
			require.NoError(t, err)
			rh.live.Store(&liveIndex{ix: ix, h: h})
			ctx, cancel := context.WithCancel(context.Background())
			defer func() { cancel(); rh.current().Close() }()

			want := func(src *pinrec.Index, id string) string {
				res, err := src.Similar(context.Background(), id, 5)
				require.NoError(t, err)
				var b strings.Builder
				for _, x := range res {
					fmt.Fprintln(&b, x.ID)
				}
				return b.String()
			}
			ask := func(id string) (int, string) {
				rec := httptest.NewRecorder()
				rh.ServeHTTP(rec, httptest.NewRequest("GET", "/?id="+id, nil))
				return rec.Code, rec.Body.String()
			}
			code, body := ask("p001")
			require.Equal(t, http.StatusOK, code, body)
			require.Equal(t, want(exact, "p001"), body)

			// Truncated to its header: before the watcher runs, the searches see it.
			require.NoError(t, os.Truncate(path, 4096))
			for i, id := range []string{"p002", "p003", "p004"} {
				code, body = ask(id)
				if i == 0 && kind != pinrec.KindFlat {
					// The first read of a page cut off the file faulted, and serve lived.
					assert.Contains(t, body, "reading its memory-mapped vectors faulted")
				}
				if kind == pinrec.KindFlat {
					assert.Equal(t, http.StatusOK, code, body)
					assert.Equal(t, want(exact, id), body)
				} else {
					assert.GreaterOrEqual(t, code, 500, body)
					assert.Contains(t, body, path)
					assert.Contains(t, body, "changed on disk")
				}
			}
			go rh.watchIndex(ctx)
			// Then the other index, written in place; the watcher loads it when it is whole.
			rewriteInPlace(t, path, next)
			var got string
			for range 500 {
				if code, got = ask("p005"); code == http.StatusOK && got == want(exactOther, "p005") {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			assert.Equal(t, want(exactOther, "p005"), got)
			assert.False(t, rh.current().mapped, "a reloaded index is read into memory")
			logMu.Lock()
			defer logMu.Unlock()
			assert.Contains(t, logs.String(), "pinrec serve: index "+path+" changed on disk")
			assert.Contains(t, logs.String(), "pinrec serve: reloaded index "+path+": 200 items")
		})
	}
}

// lockedBuffer is a bytes.Buffer safe for the watcher's logger and the test.
type lockedBuffer struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestServedIndexVerifiesInBackground: a mapped index opens without reading its vectors and
// answers; verify then reads the file against its checksum. A whole file stays served; a
// file with one vector value changed on disk (still finite, so only the checksum tells) makes
// the index answer 503 naming the file and errIndexCorrupt, and the log says so, until the file
// is replaced by a whole one, which the watcher loads.
func TestServedIndexVerifiesInBackground(t *testing.T) {
	old := watchEvery
	watchEvery = 10 * time.Millisecond
	t.Cleanup(func() { watchEvery = old })
	cases := []struct {
		name    string
		corrupt bool
	}{
		{"whole", false},
		{"vector changed on disk", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "pins.idx")
			exact := servedFile(t, path, ann.Kind, 200, 1)
			whole, err := os.ReadFile(path)
			require.NoError(t, err)
			if tc.corrupt {
				// The bytes of p007's vector, found in the file: its first value's low
				// mantissa bit flipped.
				it, err := exact.Get("p007")
				require.NoError(t, err)
				vb := make([]byte, 4*len(it.Vector))
				for i, x := range it.Vector {
					binary.LittleEndian.PutUint32(vb[4*i:], math.Float32bits(x))
				}
				at := bytes.Index(whole, vb)
				require.Positive(t, at)
				bad := bytes.Clone(whole)
				bad[at] ^= 1
				require.NoError(t, os.WriteFile(path, bad, 0o644))
			}
			ix, err := openServed(path, true)
			require.NoError(t, err)
			require.True(t, ix.mapped)
			assert.False(t, ix.verified.Load(), "a mapped index opens without reading its vectors")
			var logs bytes.Buffer
			var logMu sync.Mutex
			rh := &reloadingHandler{path: path, logger: log.New(lockedBuffer{&logs, &logMu}, "", 0),
				check: func(*servedIndex) error { return nil },
				build: similarIDs(func(*http.Request) string { return "p001" })}
			h, err := rh.build(ix)
			require.NoError(t, err)
			rh.live.Store(&liveIndex{ix: ix, h: h})
			ask := func() (int, string) {
				rec := httptest.NewRecorder()
				rh.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				return rec.Code, rec.Body.String()
			}
			code, body := ask()
			require.Equal(t, http.StatusOK, code, "answers before the check: %s", body)

			done := make(chan struct{})
			go func() { rh.verifyLive(); close(done) }() // as serve runs it: on a goroutine of its own
			<-done
			code, body = ask()
			logMu.Lock()
			logged := logs.String()
			logMu.Unlock()
			if !tc.corrupt {
				assert.True(t, ix.verified.Load())
				assert.Equal(t, http.StatusOK, code, body)
				assert.Contains(t, logged, "pinrec serve: index "+path+" matches its checksum")
				require.NoError(t, ix.Close())
				return
			}
			assert.False(t, ix.verified.Load())
			assert.Equal(t, http.StatusServiceUnavailable, code)
			assert.Contains(t, body, path)
			assert.Contains(t, body, errIndexCorrupt.Error())
			assert.Contains(t, body, "checksum")
			assert.ErrorIs(t, ix.changedError(), errIndexCorrupt)
			_, err = ix.Get("p001")
			assert.ErrorIs(t, err, errIndexCorrupt)
			assert.Contains(t, logged, "pinrec serve: ERROR: index "+path+" "+errIndexCorrupt.Error())

			// Replaced by the whole file (a rename, as pinrec's saves do): reloaded, answering.
			ctx, cancel := context.WithCancel(context.Background())
			defer func() { cancel(); rh.current().Close() }()
			go rh.watchIndex(ctx)
			tmp := filepath.Join(dir, "pins.idx.new")
			require.NoError(t, os.WriteFile(tmp, whole, 0o644))
			require.NoError(t, os.Rename(tmp, path))
			for range 500 {
				if code, body = ask(); code == http.StatusOK {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			assert.Equal(t, http.StatusOK, code, body)
			assert.True(t, rh.current().verified.Load())
		})
	}
}

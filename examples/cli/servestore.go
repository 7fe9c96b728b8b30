package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"pinrec"
	"pinrec/dupes"
	"pinrec/web"
)

// What serve does when its index file changes on disk.
//
// A flat index is read into memory: serve answers from that copy whatever happens to the
// file. An index of another kind (hnsw) is memory-mapped, so that a large one starts at once;
// a file overwritten or truncated in place under a mapping changes what the mapping holds, or
// makes reading it fault (SIGBUS). So every operation on a mapped index runs with faults
// turned into panics (runtime/debug.SetPanicOnFault) that are recovered, and checks afterwards
// that the file's size and modification time are still those it had when it was opened (a
// write or truncation changes them before it changes the data). An operation that faulted or
// ran while the file changed returns errIndexChanged instead of its answer, and from then on
// serve answers 503 with a message naming the file, rather than answer from a file that is
// being rewritten.
//
// Meanwhile the watcher (watchIndex) looks at the file every watchEvery; once it has changed
// and stayed the same for one look, serve loads it, verifying its checksum, into memory (a
// reload never maps: a file rewritten in place once may be again). A file that does not load
// (truncated, half-written, not an index, built with another model) is logged and left
// alone; serve goes on answering from what it has (or 503) until the file changes again.
// Files replaced by a rename (pinrec's own saves, mv) are picked up the same way; the old
// mapping is never disturbed by a rename.
//
// A mapped index opens without reading its vectors (pinrec.WithoutVectorChecksum: at a million
// 2048-d vectors the pass over 8 GB takes seconds), and serve verifies the file against its
// checksum in the background once it listens (verify). Until then it answers from the file as
// it is; if the file fails, serve logs it and answers 503 naming the file and the reason,
// until the file is replaced by one that loads (the watcher reloads it, verifying it first).

// watchEvery is how often serve looks at its index file.
var watchEvery = 500 * time.Millisecond

// errIndexChanged is what an operation on a mapped index returns once the file changed
// under it.
var errIndexChanged = errors.New("changed on disk while served (overwritten or truncated in place)")

// errIndexCorrupt is what an operation on a mapped index returns once the background check
// found that its file does not match its checksum.
var errIndexCorrupt = errors.New("is corrupt on disk (it does not match its checksum)")

// fileState is what serve compares to see that a file changed.
type fileState struct {
	fi    os.FileInfo
	size  int64
	mtime time.Time
}

func stateOf(fi os.FileInfo) fileState {
	return fileState{fi: fi, size: fi.Size(), mtime: fi.ModTime()}
}

// same reports whether two looks saw the same file with the same size and time.
func (a fileState) same(b fileState) bool {
	return a.fi != nil && b.fi != nil && os.SameFile(a.fi, b.fi) && a.size == b.size && a.mtime.Equal(b.mtime)
}

// servedIndex is one loaded index file: a pinrec.Store that, when mapped, refuses to answer
// once its file changed. Safe for concurrent use.
type servedIndex struct {
	path   string
	store  pinrec.Store
	mapped bool
	f      *os.File  // the file, open while mapped, to fstat it after each operation
	state  fileState // the file as it was loaded
	loaded time.Time

	mu       sync.RWMutex // operations hold it shared; Close exclusively
	closed   bool
	broken   atomic.Pointer[brokenState] // why a mapped index stopped answering
	verified atomic.Bool                 // the file matched its checksum (always, unless mapped)
}

// brokenState is why a mapped index stopped answering: errIndexChanged or errIndexCorrupt,
// and the details.
type brokenState struct {
	kind error
	why  string
}

// openServed loads the index file at path: mapped when mmap is set and the file is not flat,
// else into memory.
func openServed(path string, mmap bool) (*servedIndex, error) {
	kind, err := pinrec.FileKind(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", path, errors.Unwrap(err))
	}
	before, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("index %s: %w", path, err)
	}
	s := &servedIndex{path: path, mapped: mmap && kind != pinrec.KindFlat, f: f, state: stateOf(before), loaded: time.Now()}
	if s.mapped {
		err = s.guard(func() error {
			s.store, err = pinrec.Open(path, pinrec.WithMmap(), pinrec.WithoutVectorChecksum())
			return err
		})
	} else {
		s.store, err = pinrec.Open(path)
		s.verified.Store(true)
	}
	if err != nil {
		if s.store != nil { // opened, but the file changed meanwhile
			s.store.Close()
		}
		f.Close()
		return nil, err
	}
	if after, err := f.Stat(); err != nil || !s.state.same(stateOf(after)) {
		s.store.Close()
		f.Close()
		return nil, fmt.Errorf("index %s: %w", path, errIndexChanged)
	}
	if !s.mapped {
		f.Close()
		s.f = nil
	}
	return s, nil
}

// brokenWhy is why a mapped index stopped answering, or "".
func (s *servedIndex) brokenWhy() string {
	if p := s.broken.Load(); p != nil {
		return p.why
	}
	return ""
}

// markBroken stops a mapped index answering because its file changed; the first reason stays.
func (s *servedIndex) markBroken(why string) {
	s.broken.CompareAndSwap(nil, &brokenState{kind: errIndexChanged, why: why})
}

// changedError is the error of an operation refused because the file changed or is corrupt.
func (s *servedIndex) changedError() error {
	b := s.broken.Load()
	if b == nil {
		return nil
	}
	return fmt.Errorf("index %s %w: %s; serve answers again once it holds a whole index", s.path, b.kind, b.why)
}

// verifyShare is the share of one core the background check of a mapped index takes: at a
// million 2048-d items (8 GB, about 3.5 s of one core) it ends some 14 s after serve listens.
// (Running it at a lower OS priority instead slowed requests: the held-back thread kept one
// of GOMAXPROCS. At a million, 4 clients on 2 cores: 310 requests/s, p99 43 ms that way; 451/s,
// 32 ms this way.)
const verifyShare = 0.25

// verify checks the file of a mapped index, opened without reading its vectors, against its
// checksum (pinrec.VerifyFile: all of it, on the calling goroutine), once; on a mismatch the index stops answering (errIndexCorrupt) and verify returns the
// error. It returns nil at once for an index read into memory (verified as it loaded), and
// nil without a verdict when the file at the path is no longer the one mapped (the watcher
// deals with that).
func (s *servedIndex) verify() error {
	if s.verified.Load() || s.brokenWhy() != "" {
		return nil
	}
	unchanged := func() bool {
		fi, err := os.Stat(s.path)
		if err != nil || !s.state.same(stateOf(fi)) {
			return false
		}
		fi, err = s.f.Stat()
		return err == nil && s.state.same(stateOf(fi))
	}
	if !unchanged() {
		return nil
	}
	err := pinrec.VerifyFile(s.path, pinrec.WithShare(verifyShare))
	if !unchanged() { // what was read may not be what is mapped
		return nil
	}
	if err != nil {
		s.broken.CompareAndSwap(nil, &brokenState{kind: errIndexCorrupt, why: err.Error()})
		return err
	}
	s.verified.Store(true)
	return nil
}

// guard runs op; on a mapped index, a fault while reading the mapping, or a change of the
// file while op ran, turns into errIndexChanged (and marks the index broken).
func (s *servedIndex) guard(op func() error) (err error) {
	if !s.mapped {
		return op()
	}
	if s.brokenWhy() != "" {
		return s.changedError()
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			s.markBroken(fmt.Sprintf("reading its memory-mapped vectors faulted (%v)", r))
			err = s.changedError()
		}
	}()
	err = op()
	if errors.Is(err, pinrec.ErrFileChanged) { // a fault the library turned into an error
		s.markBroken(fmt.Sprintf("reading its memory-mapped vectors faulted (%v)", err))
		return s.changedError()
	}
	if s.f != nil {
		if fi, serr := s.f.Stat(); serr != nil || !s.state.same(stateOf(fi)) {
			s.markBroken("its size or modification time changed")
			return s.changedError()
		}
	}
	return err
}

// read runs a read under the shared lock, guarded.
func (s *servedIndex) read(op func() error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("index %s: closed (a reload replaced it); ask again", s.path)
	}
	return s.guard(op)
}

func (s *servedIndex) Search(ctx context.Context, q []float32, k int, opts ...pinrec.SearchOption) (res []pinrec.Result, err error) {
	err = s.read(func() error { res, err = s.store.Search(ctx, q, k, opts...); return err })
	return res, err
}

func (s *servedIndex) SearchBatch(ctx context.Context, qs [][]float32, k int, opts ...pinrec.SearchOption) (res [][]pinrec.Result, err error) {
	err = s.read(func() error { res, err = s.store.SearchBatch(ctx, qs, k, opts...); return err })
	return res, err
}

func (s *servedIndex) Similar(ctx context.Context, id string, k int, opts ...pinrec.SearchOption) (res []pinrec.Result, err error) {
	err = s.read(func() error { res, err = s.store.Similar(ctx, id, k, opts...); return err })
	return res, err
}

func (s *servedIndex) Get(id string) (it pinrec.Item, err error) {
	err = s.read(func() error { it, err = s.store.Get(id); return err })
	return it, err
}

// collapser is dupes.Collapser over the store under s, run as one guarded read: the file is
// checked once for a whole result list instead of once for each result's vector (48 for a
// page of 20).
func (s *servedIndex) collapser(threshold float32) web.Collapser {
	var src dupes.VectorSource = s.store
	if ex := exactIndex(s.store); ex != nil {
		src = ex // its AppendVector reads vectors into one buffer instead of a Get each
	}
	c := dupes.Collapser(src, threshold)
	return func(ctx context.Context, results []pinrec.Result) (kept []pinrec.Result, hidden int, err error) {
		err = s.read(func() error { kept, hidden, err = c(ctx, results); return err })
		return kept, hidden, err
	}
}

// Matching is [pinrec.Index.Matching] of the exact index under the store (an hnsw index's
// too): IDs and metadata, no vector read, so it needs no guard. The web server lists every
// item's metadata through it at start. A store of another kind answers through Get.
func (s *servedIndex) Matching(opts ...pinrec.SearchOption) []string {
	if ex := exactIndex(s.store); ex != nil {
		return ex.Matching(opts...)
	}
	p := pinrec.NewSearchParams(opts...)
	var out []string
	for _, id := range s.store.IDs() {
		if it, err := s.Get(id); err == nil && p.Keep(id, it.Meta) {
			out = append(out, id)
		}
	}
	return out
}

// exactIndex is the exact index a store is, or holds (an hnsw index's), or nil.
func exactIndex(st pinrec.Store) *pinrec.Index {
	switch x := st.(type) {
	case *pinrec.Index:
		return x
	case interface{ Exact() *pinrec.Index }:
		return x.Exact()
	}
	return nil
}

// IDs, metadata and sizes are held in memory even for a mapped index.
func (s *servedIndex) Len() int                       { return s.store.Len() }
func (s *servedIndex) Dim() int                       { return s.store.Dim() }
func (s *servedIndex) Has(id string) bool             { return s.store.Has(id) }
func (s *servedIndex) IDs() []string                  { return s.store.IDs() }
func (s *servedIndex) Info() map[string]string        { return s.store.Info() }
func (s *servedIndex) SetInfo(key, value string)      { s.store.SetInfo(key, value) }
func (s *servedIndex) Add(items ...pinrec.Item) error { return s.store.Add(items...) }
func (s *servedIndex) Remove(ids ...string) error     { return s.store.Remove(ids...) }
func (s *servedIndex) Kind() string                   { return storeKind(s.store) }
func (s *servedIndex) Stats() map[string]string       { return storeStats(s.store) }

// Close waits for the operations in flight, then releases the index and its mapping.
func (s *servedIndex) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.f != nil {
		s.f.Close()
	}
	return s.store.Close()
}

// liveIndex is the index serve answers from and the handler built over it.
type liveIndex struct {
	ix *servedIndex
	h  http.Handler
}

// reloadingHandler answers from the live index, which watchIndex replaces when the file
// changes.
type reloadingHandler struct {
	path   string
	logger *log.Logger
	build  func(*servedIndex) (http.Handler, error)
	check  func(*servedIndex) error // refuses an index serve cannot use (another model)
	live   atomic.Pointer[liveIndex]
}

func (rh *reloadingHandler) current() *servedIndex { return rh.live.Load().ix }

func (rh *reloadingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l := rh.live.Load()
	if l.ix.brokenWhy() != "" {
		b, _ := json.Marshal(map[string]string{"error": l.ix.changedError().Error()})
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write(append(b, '\n'))
		return
	}
	l.h.ServeHTTP(w, r)
}

// verifyLive verifies the live index's file in the background (servedIndex.verify), taking
// verifyShare of one core, and logs the verdict: a corrupt file loudly, for serve then answers
// 503 until it is replaced.
func (rh *reloadingHandler) verifyLive() {
	ix := rh.current()
	if ix.verified.Load() {
		return
	}
	t := time.Now()
	var err error
	err = ix.verify() // the requests first: at a million, 8 GB to read
	if err != nil {
		rh.logger.Printf("pinrec serve: ERROR: index %s %v (%v); answering 503 until the file is replaced by a whole index", rh.path, errIndexCorrupt, err)
		return
	}
	if ix.verified.Load() {
		rh.logger.Printf("pinrec serve: index %s matches its checksum (read in the background, on a quarter of one core, in %.1f s)", rh.path, time.Since(t).Seconds())
	}
}

// watchIndex reloads the index file when it changes, until ctx ends; see the top of this file.
func (rh *reloadingHandler) watchIndex(ctx context.Context) {
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	var prev, failed fileState // the last look; a state that did not load
	var told string            // the last message logged, not repeated
	say := func(format string, args ...any) {
		if m := fmt.Sprintf(format, args...); m != told {
			told = m
			rh.logger.Print(m)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := rh.current()
		fi, err := os.Stat(rh.path)
		if err != nil {
			say("pinrec serve: index %s: %v; still answering from the index loaded at %s", rh.path, errors.Unwrap(err), cur.loaded.Format(time.TimeOnly))
			prev = fileState{}
			continue
		}
		now := stateOf(fi)
		if now.same(cur.state) {
			prev = now
			continue
		}
		if cur.mapped {
			cur.markBroken("the watcher saw its size or modification time change")
		}
		if !now.same(prev) || now.same(failed) { // still being written, or known not to load
			if !now.same(failed) {
				until := "answering from the index loaded at " + cur.loaded.Format(time.TimeOnly)
				if cur.brokenWhy() != "" {
					until = "answering 503"
				}
				say("pinrec serve: index %s changed on disk; loading it once it is whole (until then %s)", rh.path, until)
			}
			prev = now
			continue
		}
		next, err := openServed(rh.path, false)
		if err == nil {
			if err = rh.check(next); err != nil {
				next.Close()
			}
		}
		var h http.Handler
		if err == nil {
			if h, err = rh.build(next); err != nil {
				next.Close()
			}
		}
		if err != nil {
			failed = now
			until := "answering from the index loaded at " + cur.loaded.Format(time.TimeOnly)
			if cur.brokenWhy() != "" {
				until = "answering 503"
			}
			say("pinrec serve: index %s changed on disk and does not load (%v); %s until it changes again", rh.path, err, until)
			continue
		}
		rh.live.Store(&liveIndex{ix: next, h: h})
		say("pinrec serve: reloaded index %s: %d items (read into memory)", rh.path, next.Len())
		// Requests in flight may still use the old index: it closes after the grace serve
		// gives them at shutdown.
		time.AfterFunc(shutdownGrace, func() { cur.Close() })
	}
}

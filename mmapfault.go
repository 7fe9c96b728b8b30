package pinrec

// Faults on a memory-mapped index: a file truncated (or, on some systems, rewritten) in place
// while it is mapped makes reading the gone pages raise SIGBUS, which would end the process.
// Every read of a mapping runs with faults turned into panics (runtime/debug.SetPanicOnFault),
// on the caller's goroutine and on every worker goroutine, and such a panic becomes an error
// wrapping ErrFileChanged.

import (
	"errors"
	"fmt"
	"runtime/debug"

	"pinrec/internal/fsio"
)

// ErrFileChanged is wrapped by the errors of an index opened with [WithMmap] whose file was
// truncated or rewritten in place while it was mapped: reading the mapping faulted. The index
// cannot be trusted any more; close it and load the file again (save files by rename, as
// [Index.Save] does, so that a mapped index keeps its own copy).
var ErrFileChanged = errors.New("index file changed on disk while mapped")

// mappedFile is the mapping of a loaded index and the path of its file, for errors.
type mappedFile struct {
	*fsio.Mapping
	path string
}

// isFault reports whether p, a recovered panic value, is a memory fault that
// debug.SetPanicOnFault turned into a panic: such runtime errors carry the faulting address.
// Other panics (a caller's filter, a nil dereference) are not faults.
func isFault(p any) bool {
	_, ok := p.(interface{ Addr() uintptr })
	return ok
}

// faultError is the error for a fault p while reading the mapping of file ("" when the caller
// names the file itself).
func faultError(file string, p any) error {
	if file == "" {
		return fmt.Errorf("%w (%v)", ErrFileChanged, p)
	}
	return fmt.Errorf("%s: %w (%v)", file, ErrFileChanged, p)
}

// recoverFault is deferred (directly) by code that reads a mapping after
// debug.SetPanicOnFault(true): it turns a fault into *err and re-raises any other panic.
func recoverFault(err *error) {
	if p := recover(); p != nil {
		if !isFault(p) {
			panic(p)
		}
		*err = faultError("", p)
	}
}

// faultGuard makes faults on an index's mapping errors on the caller's goroutine. Use
//
//	g := ix.guardFaults() // the caller holds ix.mu
//	defer g.end(&err)
//
// It costs one call to debug.SetPanicOnFault on a mapped index and nothing on others.
type faultGuard struct {
	file string
	prev bool
	on   bool
}

// guardFaults starts a faultGuard; the caller holds ix.mu.
func (ix *Index) guardFaults() faultGuard {
	mf, ok := ix.mapping.(*mappedFile)
	if !ok {
		return faultGuard{}
	}
	return faultGuard{file: mf.path, prev: debug.SetPanicOnFault(true), on: true}
}

// mappedPath returns the path of the file that ix maps, and whether it maps one; the caller
// holds ix.mu.
func (ix *Index) mappedPath() (string, bool) {
	mf, ok := ix.mapping.(*mappedFile)
	if !ok {
		return "", false
	}
	return mf.path, true
}

// end restores the fault setting and turns a fault into *err; it must be deferred directly.
// Other panics go on.
func (g faultGuard) end(err *error) {
	if !g.on {
		return
	}
	debug.SetPanicOnFault(g.prev)
	if p := recover(); p != nil {
		if !isFault(p) {
			panic(p)
		}
		*err = faultError(g.file, p)
	}
}

// withFaultsAsErrors runs fn with faults turned into an error wrapping ErrFileChanged, for
// reading a mapping on the caller's goroutine while loading (the caller names the file).
func withFaultsAsErrors(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverFault(&err)
	return fn()
}

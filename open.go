package pinrec

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// Opener opens an index file of one kind as a [Store]; see [RegisterKind].
type Opener func(path string, opts ...LoadOption) (Store, error)

var kinds struct {
	mu      sync.RWMutex
	openers map[string]Opener
}

// RegisterKind makes [Open] open files of the given kind with open. A package that saves its
// own kind of index with [Index.SaveExtended] calls it from its init function, so that a
// program that imports the package opens such files with Open.
//
// It panics, as database/sql.Register does, if kind is not 1 to 15 bytes of [a-z0-9-], is
// [KindFlat], is already registered, or open is nil: these are errors in the registering
// package, found when the program starts.
func RegisterKind(kind string, open Opener) {
	if err := checkKind(kind); err != nil {
		panic("pinrec: RegisterKind: " + err.Error())
	}
	if kind == KindFlat || open == nil {
		panic(fmt.Sprintf("pinrec: RegisterKind(%q): flat kind or nil opener", kind))
	}
	kinds.mu.Lock()
	defer kinds.mu.Unlock()
	if _, dup := kinds.openers[kind]; dup {
		panic(fmt.Sprintf("pinrec: RegisterKind(%q) called twice", kind))
	}
	if kinds.openers == nil {
		kinds.openers = make(map[string]Opener)
	}
	kinds.openers[kind] = open
}

// Open opens the index file at path as a [Store] of the kind its header names: a "flat" file
// (and every version 1 file) as the [*Index] that [Load] returns, another kind with the
// [Opener] its package registered ([RegisterKind]), passing opts on. For a kind that no
// imported package registered, the error wraps [ErrUnknownKind] and names the kind; the
// program must import the package that provides it. Other errors are those of [Load], or of
// the kind's Opener.
func Open(path string, opts ...LoadOption) (Store, error) {
	kind, err := fileKind(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if kind == KindFlat {
		ix, err := Load(path, opts...)
		if err != nil {
			return nil, err
		}
		return ix, nil
	}
	kinds.mu.RLock()
	open := kinds.openers[kind]
	kinds.mu.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("open %s: kind %q: %w (the program must import the package that registers it)", path, kind, ErrUnknownKind)
	}
	return open(path, opts...)
}

// fileKind reads the header of the file at path and returns the kind it names.
func fileKind(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", badFormat("not a regular file (%v)", fi.Mode().Type())
	}
	var b [headerSize]byte
	n, err := io.ReadFull(f, b[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", err
	}
	h, err := parseHeader(b[:n], fi.Size())
	if err != nil {
		return "", err
	}
	return h.kind, nil
}

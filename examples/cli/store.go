package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"pinrec"
)

// Every command reaches its items through openStore, as a pinrec.Store (a pinrec.Searcher
// that can also be listed and changed). A new kind of index or a remote backend is one case
// here plus its package: the commands themselves never name a concrete type.

// storeFlags names the store a command works on.
type storeFlags struct {
	// index is -index FILE: an index file of any kind that pinrec.Open reads.
	index string
	// backend is -backend URL: a Weaviate collection (weaviate://HOST:PORT/COLLECTION).
	backend string
	// mmap opens an index file read-only with its vectors memory-mapped (serve): it starts in
	// the time it takes to read the graph of an hnsw file, not all the vectors.
	mmap bool
}

// register adds the store's flags to fs; what says what the command does with the index.
func (f *storeFlags) register(fs interface {
	StringVar(p *string, name, value, usage string)
}, what string) {
	fs.StringVar(&f.index, "index", "", "index `file` "+what)
	fs.StringVar(&f.backend, "backend", "", backendUsage+" (instead of -index)")
}

// check returns a usage error when no store was named.
func (f storeFlags) check() error {
	if f.backend != "" {
		if f.index != "" {
			return usagef("-index and -backend name two stores: give one")
		}
		return nil
	}
	return requireIndexFlag(f.index)
}

// String names the store in messages.
func (f storeFlags) String() string {
	if f.backend != "" {
		return f.backend
	}
	return f.index
}

// openStore opens the store every command works on. With create > 0, a missing index file
// is a new, empty flat index of that dimension (the index command); otherwise the file must
// exist. An existing file is opened as the kind its header names (pinrec.Open), provided the
// package of that kind is linked in: pinrec/ann registers "hnsw" when imported.
func openStore(ctx context.Context, f storeFlags, create int) (pinrec.Store, error) {
	switch {
	case f.backend != "":
		return openBackend(ctx, f.backend, create)
	case f.index == "":
		return nil, usagef("-index FILE is required")
	}
	if _, err := os.Stat(f.index); err != nil {
		if create > 0 && errors.Is(err, os.ErrNotExist) {
			return pinrec.NewIndex(create)
		}
		return nil, fmt.Errorf("index %s: %w", f.index, errors.Unwrap(err))
	}
	if f.mmap {
		return pinrec.Open(f.index, pinrec.WithMmap())
	}
	return pinrec.Open(f.index) // dispatches on the kind the file's header names
}

// fileStore is a store kept in one file, saved by the index command during and after a run.
// *pinrec.Index is one; a store that persists each change itself (a remote backend) is not.
type fileStore interface {
	Save(path string) error
}

// saveStore writes a store kept in a file to the file named by f; other stores keep their
// changes already. After a save it removes the temporary files that saves of this index
// killed before this process started left behind (staletemp.go), and says so on stderr.
func saveStore(s pinrec.Store, f storeFlags) error {
	if fs, ok := s.(fileStore); ok && f.index != "" {
		if err := fs.Save(f.index); err != nil {
			return err
		}
		for _, m := range removeStaleTemps(f.index) {
			fmt.Fprintf(os.Stderr, "pinrec: removed %s, left by a save that was killed\n", m)
		}
	}
	return nil
}

// Optional methods a store may have, which stats prints.
type (
	// kinded names the kind of store, as its file header does ("flat", "hnsw") or as a
	// backend names itself ("weaviate").
	kinded interface{ Kind() string }
	// statser reports what is particular to its kind: graph parameters, a server's address
	// and collection, sizes. Keys are short lower-case words; stats prints them sorted.
	statser interface{ Stats() map[string]string }
)

// storeKind names the kind of s.
func storeKind(s pinrec.Store) string {
	if k, ok := s.(kinded); ok {
		return k.Kind()
	}
	if _, ok := s.(*pinrec.Index); ok {
		return "flat"
	}
	return fmt.Sprintf("%T", s)
}

// storeStats is what s reports about itself, or nil.
func storeStats(s pinrec.Store) map[string]string {
	if st, ok := s.(statser); ok {
		return st.Stats()
	}
	return nil
}

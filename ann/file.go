package ann

import (
	"errors"
	"fmt"
	"slices"

	"pinrec"
)

// Kind is the kind of index file this package writes and registers with [pinrec.RegisterKind].
const Kind = "hnsw"

// ErrWrongKind: the file is a pinrec index file of another kind (a plain "flat" index, say).
var ErrWrongKind = errors.New("ann: not an hnsw index file")

func init() {
	pinrec.RegisterKind(Kind, func(path string, opts ...pinrec.LoadOption) (pinrec.Store, error) {
		a, err := Load(path, WithLoad(opts...))
		if err != nil {
			return nil, err
		}
		return a, nil
	})
}

// Kind returns "hnsw" (the CLI's stats prints it).
func (a *Index) Kind() string { return Kind }

// Save writes the index to path as a pinrec index file of kind "hnsw": the exact index
// (float32 vectors, IDs, metadata) and, after it, the graph section ([Index.Marshal]), in one
// atomic, checksummed file ([pinrec.Index.SaveExtended]). Searches may run meanwhile; Add and
// Remove wait. [pinrec.Load] reads the file as its exact index.
func (a *Index) Save(path string) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if err := a.ix.SaveExtended(path, pinrec.Extension{Kind: Kind, Data: a.marshal()}); err != nil {
		return fmt.Errorf("ann: %w", err)
	}
	return nil
}

// Load opens an "hnsw" index file written by [Index.Save]. Options: [WithLoad] passes
// options to the exact index's loader (with [pinrec.WithMmap] the float32 vectors stay in the
// file's mapping, the re-rank reads them from there, and the index is read-only; the graph
// and codes are always copied into RAM); [WithEfSearch], [WithRerank] and [WithWorkers]
// replace what the file recorded (the graph's M, efConstruction and codec stay, and options
// of the build such as [WithTargetRecall] are ignored). Errors: those of
// [pinrec.LoadExtended], [ErrWrongKind] for a file of another kind, [ErrCorrupt] for a
// malformed graph section (which the file's checksum should have caught).
func Load(path string, opts ...Option) (*Index, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	ix, ext, err := pinrec.LoadExtended(path, c.load...)
	if err != nil {
		return nil, fmt.Errorf("ann: %w", err)
	}
	if ext.Kind != Kind {
		ix.Close()
		return nil, fmt.Errorf("ann: load %s: kind %q: %w", path, ext.Kind, ErrWrongKind)
	}
	a, err := Unmarshal(ext.Data, ix, opts...)
	if err != nil {
		ix.Close()
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return a, nil
}

// WithLoad passes options to the loader of the exact index under an hnsw file ([Load]), such
// as [pinrec.WithMmap]. Other constructors ignore it.
func WithLoad(opts ...pinrec.LoadOption) Option {
	opts = slices.Clone(opts)
	return func(c *config) { c.load = append(c.load, opts...) }
}

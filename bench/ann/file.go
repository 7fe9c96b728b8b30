package main

import (
	"os"
	"path/filepath"

	"pinrec"
	"pinrec/ann"
)

// saveANN writes the ANN index: for now the exact index's own file stays (exact.idx) and
// the graph section goes beside it; openANN maps the one and decodes the other.
func saveANN(a *ann.Index, path string) error {
	return os.WriteFile(path, a.Marshal(), 0o644)
}

// openANN opens the index saved by saveANN; opts override the section's search options
// (ann.WithRerank, ann.WithEfSearch).
func openANN(path string, opts ...ann.Option) (*ann.Index, error) {
	ix, err := pinrec.Load(filepath.Join(filepath.Dir(path), "exact.idx"), pinrec.WithMmap(), pinrec.WithoutVectorChecksum())
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ann.Unmarshal(b, ix, opts...)
}

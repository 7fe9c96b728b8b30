//go:build !cgo || notensorflow

package pinrec

import "fmt"

// NewEmbedder opens the model in modelDir. This build of pinrec has no TensorFlow (it was built
// with CGO_ENABLED=0 or the notensorflow tag), so it always returns an error wrapping
// ErrNoTensorFlow. Everything else in the package works without TensorFlow.
func NewEmbedder(modelDir string, opts ...EmbedderOption) (*Embedder, error) {
	return nil, fmt.Errorf("open model %s: %w", modelDir, ErrNoTensorFlow)
}

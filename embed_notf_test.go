//go:build !cgo || notensorflow

package pinrec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Without TensorFlow, opening an Embedder fails clearly, whatever the directory.
func TestNoTensorFlow(t *testing.T) {
	for _, dir := range []string{"models/resnet50", t.TempDir()} {
		e, err := NewEmbedder(dir, WithTensorFlowThreads(1, 1))
		require.Error(t, err)
		assert.Nil(t, e)
		assert.ErrorIs(t, err, ErrNoTensorFlow)
		assert.Contains(t, err.Error(), dir)
	}
}

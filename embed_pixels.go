package pinrec

import (
	"fmt"
	"slices"
)

// PixelWeights is the Weights of the ModelInfo of NewPixelEmbedder's Embedder.
const PixelWeights = "none: raw pixels, the baseline"

// NewPixelEmbedder returns an Embedder without a network: an image's vector is its pixels,
// resized to side x side RGB, scaled to [-1, 1] (ModeTF) and flattened, side*side*3 floats.
// It is the baseline that a learnt embedding has to beat (pinrec's demo compares the two), and
// it works in every build, with TensorFlow or without. Its methods (Embed, EmbedFiles,
// EmbedStream, ...) behave as those of a model's Embedder; WithTensorFlowThreads does not apply.
// It returns an error for side < 1 or side > 4096.
func NewPixelEmbedder(side int, opts ...EmbedderOption) (*Embedder, error) {
	if side < 1 || side > 4096 {
		return nil, fmt.Errorf("pinrec: pixel embedder side %d, want 1..4096", side)
	}
	cfg := defaultEmbedderConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	info := ModelInfo{
		Architecture: fmt.Sprintf("raw pixels (%dx%d RGB, flattened)", side, side),
		InputSize:    side,
		Mode:         ModeTF,
		Dim:          side * side * 3,
		Weights:      PixelWeights,
	}
	return newEmbedder(info, cfg, pixelRunner{}), nil
}

// pixelRunner is the identity network: the input tensor is the embedding.
type pixelRunner struct{}

func (pixelRunner) run(in []float32, _ int) ([]float32, error) { return slices.Clone(in), nil }
func (pixelRunner) close() error                               { return nil }

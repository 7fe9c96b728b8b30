package pinrec

import (
	"context"
	"errors"
	"fmt"
	"image"
	"runtime"
	"sync"
)

// Errors of the Embedder, compared with errors.Is. Errors returned by NewEmbedder and the
// Embed methods wrap them with the operation and the model directory or file.
var (
	// ErrNoTensorFlow is returned by NewEmbedder when pinrec was built without TensorFlow
	// (CGO_ENABLED=0 or the notensorflow build tag). Everything but the Embedder still works.
	ErrNoTensorFlow = errors.New("pinrec: built without TensorFlow (needs cgo and libtensorflow)")
	// ErrBadModel is returned by NewEmbedder when the model directory is not a usable pinrec
	// model: missing or invalid pinrec.json, no SavedModel, or a serving signature that does not
	// take one batch of images to one batch of vectors of the declared sizes.
	ErrBadModel = errors.New("pinrec: bad model")
	// ErrClosed is returned by the methods of an Embedder after Close.
	ErrClosed = errors.New("pinrec: embedder closed")
	// ErrBadInput is returned by EmbedInputs for a tensor whose length is not the model's
	// InputSize*InputSize*3.
	ErrBadInput = errors.New("pinrec: bad input tensor")
)

// EmbedderOption configures NewEmbedder.
type EmbedderOption func(*embedderConfig)

type embedderConfig struct {
	intra, inter int // TensorFlow thread pools; 0: TensorFlow's default (one thread per core)
	batch        int // images per session run
	workers      int // decoding/preprocessing goroutines of the pipelined paths

	fast    bool         // WithFastMode: oneDNN bfloat16 auto mixed precision
	regions regionConfig // WithRegions (regions_embed.go)
}

func defaultEmbedderConfig() embedderConfig {
	return embedderConfig{batch: 8, workers: runtime.GOMAXPROCS(0)}
}

// WithTensorFlowThreads sets TensorFlow's intra-op (within one operation, e.g. a convolution)
// and inter-op (independent operations) thread pools. 0 leaves TensorFlow's default, one thread
// per core. Negative values are treated as 0.
//
// Options follow one naming: Threads for TensorFlow's own thread pools (this one), Workers for
// the goroutines pinrec runs ([WithDecodeWorkers] here, [WithWorkers] for a search, ann's
// WithWorkers for a build).
func WithTensorFlowThreads(intra, inter int) EmbedderOption {
	return func(c *embedderConfig) {
		c.intra, c.inter = max(intra, 0), max(inter, 0)
	}
}

// WithBatchSize sets how many images go through the network in one session run (default 8).
// Larger batches need more memory for activations and may give more throughput on many cores;
// values below 1 mean 1.
func WithBatchSize(n int) EmbedderOption {
	return func(c *embedderConfig) { c.batch = max(n, 1) }
}

// WithDecodeWorkers sets how many goroutines decode and preprocess images in Embed and
// EmbedFiles while the network runs (default GOMAXPROCS). Values below 1 mean 1.
func WithDecodeWorkers(n int) EmbedderOption {
	return func(c *embedderConfig) { c.workers = max(n, 1) }
}

// Precisions of ModelInfo.Precision.
const (
	// PrecisionFloat32 is TensorFlow's float32 arithmetic throughout (the default).
	PrecisionFloat32 = "float32"
	// PrecisionFast is WithFastMode: TensorFlow's oneDNN auto mixed precision runs the
	// convolutions and matrix products in bfloat16 (8-bit mantissa) and the rest in float32.
	PrecisionFast = "bfloat16-mixed"
)

// WithFastMode runs the network with TensorFlow's oneDNN bfloat16 auto mixed precision (the
// session's rewriter option auto_mixed_precision_onednn_bfloat16): faster on CPUs with native
// bfloat16 arithmetic (AVX-512 BF16, AMX), and at best no faster elsewhere. Its vectors differ
// slightly from float32 ones; see the README's "Fast mode" section for the measured fidelity
// and when vectors of both precisions may share an index. Off by default.
func WithFastMode() EmbedderOption {
	return func(c *embedderConfig) { c.fast = true }
}

// runner runs the network: in holds n preprocessed images back to back (n*InputLen floats),
// the result n embeddings back to back (n*Dim floats). It is safe for concurrent use.
type runner interface {
	run(in []float32, n int) ([]float32, error)
	close() error
}

// Embedder turns images into embeddings with a TensorFlow SavedModel (by default Keras
// ResNet50 without its classifier: 224x224 RGB in, 2048 floats out). Get one from NewEmbedder
// (the zero value is not usable) and Close it when done:
//
//	e, err := pinrec.NewEmbedder("models/resnet50", pinrec.WithTensorFlowThreads(4, 1))
//	if err != nil { ... }  // errors.Is(err, pinrec.ErrNoTensorFlow) in builds without cgo
//	defer e.Close()
//	vecs, err := e.EmbedFiles(ctx, paths)  // one 2048-float vector per file
//
// An Embedder is safe for concurrent use by multiple goroutines: TensorFlow sessions run
// concurrent calls in parallel, each call works on its own buffers, and Close waits for the
// session runs in progress. Within one call, Embed and EmbedFiles overlap decoding and
// preprocessing (WithDecodeWorkers goroutines) with inference, one batch (WithBatchSize) ahead.
//
// Close releases the TensorFlow session; a finalizer does so too, as a safety net only.
type Embedder struct {
	info ModelInfo
	cfg  embedderConfig

	mu     sync.RWMutex // read-held during each session run; write-held by Close
	r      runner
	closed bool
}

// newEmbedder wraps a runner; the build-specific NewEmbedder calls it.
func newEmbedder(info ModelInfo, cfg embedderConfig, r runner) *Embedder {
	e := &Embedder{info: info, cfg: cfg, r: r}
	runtime.SetFinalizer(e, func(e *Embedder) { _ = e.Close() })
	return e
}

// Info returns the description of the model.
func (e *Embedder) Info() ModelInfo { return e.info }

// Dim returns the length of the embeddings.
func (e *Embedder) Dim() int { return e.info.Dim }

// Preprocess turns img into the model's input tensor: RGB, resized to InputSize x InputSize,
// in the model's preprocessing mode (see the package function Preprocess).
func (e *Embedder) Preprocess(img image.Image) []float32 {
	return Preprocess(img, e.info.InputSize, e.info.Mode)
}

// Close releases the TensorFlow session, after the session runs in progress end. Later calls
// return ErrClosed; closing twice returns nil.
func (e *Embedder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	runtime.SetFinalizer(e, nil)
	if err := e.r.close(); err != nil {
		return fmt.Errorf("close embedder %s: %w", e.info.Dir, err)
	}
	return nil
}

// runBatch runs n images held back to back in in, returning n vectors.
func (e *Embedder) runBatch(in []float32, n int) ([][]float32, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	flat, err := e.r.run(in, n)
	if err != nil {
		return nil, fmt.Errorf("embed with %s: %w", e.info.Dir, err)
	}
	d := e.info.Dim
	if len(flat) != n*d {
		return nil, fmt.Errorf("embed with %s: %w: got %d floats for %d images of dim %d", e.info.Dir, ErrBadModel, len(flat), n, d)
	}
	out := make([][]float32, n)
	for i := range out {
		out[i] = flat[i*d : (i+1)*d : (i+1)*d]
	}
	return out, nil
}

func (e *Embedder) checkOpen() error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return ErrClosed
	}
	return nil
}

// EmbedInputs embeds preprocessed input tensors (as Preprocess makes them: InputSize*InputSize*3
// floats each, row-major height x width x channel), in batches of WithBatchSize. It returns one
// vector of Dim floats per input, in order. A tensor of the wrong length gives ErrBadInput; ctx
// is checked between batches.
func (e *Embedder) EmbedInputs(ctx context.Context, inputs [][]float32) ([][]float32, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	il := e.info.InputLen()
	for i, in := range inputs {
		if len(in) != il {
			return nil, fmt.Errorf("embed input %d: %w: %d floats, want %d (%dx%dx3)", i, ErrBadInput, len(in), il, e.info.InputSize, e.info.InputSize)
		}
	}
	out := make([][]float32, 0, len(inputs))
	bs := e.cfg.batch
	buf := make([]float32, min(bs, len(inputs))*il)
	for start := 0; start < len(inputs); start += bs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(bs, len(inputs)-start)
		for j := range n {
			copy(buf[j*il:(j+1)*il], inputs[start+j])
		}
		vecs, err := e.runBatch(buf[:n*il], n)
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

// Embed embeds images: each is preprocessed for the model (in parallel with the inference of
// the previous batch) and run in batches of WithBatchSize. It returns one vector per image, in
// order. ctx is checked between batches.
func (e *Embedder) Embed(ctx context.Context, imgs ...image.Image) ([][]float32, error) {
	out := make([][]float32, len(imgs))
	err := e.pipeline(ctx, len(imgs), func(i int, dst []float32) error {
		PreprocessInto(dst, imgs[i], e.info.InputSize, e.info.Mode)
		return nil
	}, func(i int, vec []float32, _ error) error {
		out[i] = vec
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EmbedFile decodes the image file at path (see DecodeFile; opts are its options) and embeds
// it. A file that cannot be read or decoded gives a *FileError.
func (e *Embedder) EmbedFile(ctx context.Context, path string, opts ...DecodeOption) ([]float32, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	in := make([]float32, e.info.InputLen())
	if err := e.prepareFile(in, path, opts); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	vecs, err := e.runBatch(in, 1)
	if err != nil {
		return nil, fmt.Errorf("embed %s: %w", path, err)
	}
	return vecs[0], nil
}

// EmbedFiles decodes and embeds the image files at paths through EmbedStream, decoding and
// preprocessing (WithDecodeWorkers goroutines) while the network runs the previous batch. It
// returns one vector per path, in order.
//
// A file that cannot be read or decoded does not stop the others: its vector is nil and its
// *FileError is joined into the returned error with errors.Join. So when the error is not nil,
// the vectors are still returned and callers that tolerate bad files skip the nil ones. A
// failure of the model, ErrClosed or ctx's error stops the call and returns nil vectors.
func (e *Embedder) EmbedFiles(ctx context.Context, paths []string, opts ...DecodeOption) ([][]float32, error) {
	out := make([][]float32, len(paths))
	var fileErrs []error
	err := e.EmbedStream(ctx, paths, func(r EmbedResult) error {
		out[r.Index] = r.Vector
		if r.Err != nil {
			fileErrs = append(fileErrs, r.Err)
		}
		return nil
	}, opts...)
	if err != nil {
		return nil, err
	}
	return out, errors.Join(fileErrs...)
}

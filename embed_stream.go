package pinrec

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"sync"
)

// FileError is the error for one image file that could not be used: it could not be read,
// or not decoded. [Embedder.EmbedStream] reports one per bad file, [Embedder.EmbedFiles]
// joins them. Err is the cause without the path: errors.Is sees through a FileError to
// fs.ErrNotExist, ErrUnsupportedFormat, ErrCorruptImage or ErrTooLarge.
type FileError struct {
	// Path is the file, as given.
	Path string
	// Err says why the file could not be used.
	Err error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *FileError) Unwrap() error { return e.Err }

// EmbedResult is what [Embedder.EmbedStream] reports for one file.
type EmbedResult struct {
	// Index is the file's position in the paths given to EmbedStream.
	Index int
	// Path is the file, as given.
	Path string
	// Vector is the file's embedding (Dim floats), or nil when Err is set. It is the
	// caller's to keep.
	Vector []float32
	// Err is a *FileError when the file could not be read or decoded; nil otherwise.
	Err error
	// Regions are the image's region items with an Embedder made WithRegions: boxes in the
	// image's source pixels and vectors in the space of Vector (see [Regions]); nil otherwise.
	Regions []Region
}

// EmbedStream decodes and embeds the image files at paths and calls fn once per file, in
// the order of paths, with the file's vector or its *FileError. Decoding and preprocessing
// (WithDecodeWorkers goroutines) run one batch ahead of the network (WithBatchSize), as in
// EmbedFiles; fn is called from the calling goroutine, a batch at a time after the batch ran,
// so a callback that is slow (saving a checkpoint) holds up inference but needs no locking.
// Counting its calls gives the progress.
//
// A bad file does not stop the stream. EmbedStream stops, and returns the error, when fn
// returns one, when the model fails, when the Embedder is closed (ErrClosed) or when ctx is
// done (ctx's error); the results reported before stay reported. opts are DecodeFile's options.
func (e *Embedder) EmbedStream(ctx context.Context, paths []string, fn func(EmbedResult) error, opts ...DecodeOption) error {
	if e.cfg.regions.n > 0 {
		return e.embedStreamRegions(ctx, paths, fn, opts) // WithRegions (regions_embed.go)
	}
	return e.pipeline(ctx, len(paths), func(i int, dst []float32) error {
		return e.prepareFile(dst, paths[i], opts)
	}, func(i int, vec []float32, err error) error {
		return fn(EmbedResult{Index: i, Path: paths[i], Vector: vec, Err: err})
	})
}

// prepareFile reads, decodes and preprocesses the file at path into dst, or returns a
// *FileError.
func (e *Embedder) prepareFile(dst []float32, path string, opts []DecodeOption) error {
	_, err := e.prepareFileImage(dst, path, opts)
	return err
}

// prepareFileImage is prepareFile returning the decoded image too.
func (e *Embedder) prepareFileImage(dst []float32, path string, opts []DecodeOption) (img image.Image, err error) {
	defer func() {
		// Decode promises not to panic; this keeps one bad file from ending a long run if a
		// decoder ever does.
		if p := recover(); p != nil {
			err = &FileError{Path: path, Err: fmt.Errorf("%w: decoder panic: %v", ErrCorruptImage, p)}
		}
	}()
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == path {
			err = fmt.Errorf("%s: %w", pe.Op, pe.Err) // the path is the FileError's
		}
		return nil, &FileError{Path: path, Err: err}
	}
	img, err = decodeBytes(data, opts)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	PreprocessInto(dst, img, e.info.InputSize, e.info.Mode)
	return img, nil
}

// pipeline embeds n items: prep(i, dst) writes item i's input tensor into dst, or returns the
// error that leaves the item out. Workers prepare items into batch buffers while the calling
// goroutine runs full batches through the network; emit(i, vec, err) is then called for each
// item of the batch in order, from the calling goroutine, with its vector or prep's error. An
// error from emit stops the pipeline and is returned.
func (e *Embedder) pipeline(ctx context.Context, n int, prep func(i int, dst []float32) error, emit func(i int, vec []float32, err error) error) error {
	return e.pipelineWith(ctx, n, prep, nil, emit)
}

// pipelineWith is pipeline with the network run by run(buf, m, items) (items: the item
// numbers of buf's m tensors) instead of runBatch when run is not nil.
func (e *Embedder) pipelineWith(ctx context.Context, n int, prep func(i int, dst []float32) error,
	run func(buf []float32, m int, items []int) ([][]float32, error), emit func(i int, vec []float32, err error) error) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	il := e.info.InputLen()
	bs := e.cfg.batch
	nb := (n + bs - 1) / bs
	workers := min(e.cfg.workers, n)

	// A batch is filled by the workers, then run. Two batches in flight (one running, one
	// filling) bound memory while keeping decoders busy during inference.
	type batch struct {
		start, count int
		buf          []float32
		errs         []error
		wg           sync.WaitGroup
	}
	free := make(chan *batch, 2)
	for range 2 {
		free <- &batch{buf: make([]float32, min(bs, n)*il), errs: make([]error, min(bs, n))}
	}
	type job struct {
		b *batch
		j int
	}
	jobs := make(chan job, 2*bs)
	ready := make(chan *batch, 2)

	var workerWG sync.WaitGroup
	for range workers {
		workerWG.Add(1)
		go func() {
			defer workerWG.Done()
			for jb := range jobs {
				b := jb.b
				if ctx.Err() == nil {
					b.errs[jb.j] = prep(b.start+jb.j, b.buf[jb.j*il:(jb.j+1)*il])
				}
				b.wg.Done()
			}
		}()
	}
	// The feeder hands out the items of each batch, then passes the batch on once complete.
	go func() {
		defer close(ready)
		defer close(jobs)
		for k := range nb {
			var b *batch
			select {
			case b = <-free:
			case <-ctx.Done():
				return
			}
			b.start, b.count = k*bs, min(bs, n-k*bs)
			b.wg.Add(b.count)
			for j := range b.count {
				select {
				case jobs <- job{b, j}:
				case <-ctx.Done():
					b.wg.Add(j - b.count) // the items never handed out
					b.wg.Wait()
					return
				}
			}
			b.wg.Wait()
			select {
			case ready <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer workerWG.Wait()

	var runErr error
	for b := range ready {
		if runErr == nil {
			runErr = ctx.Err()
		}
		if runErr == nil {
			runErr = e.runReady(b.buf, b.errs[:b.count], b.start, run, emit)
		}
		if runErr != nil {
			cancel()
			continue // drain
		}
		free <- b
	}
	if runErr == nil {
		runErr = ctx.Err()
	}
	return runErr
}

// runReady compacts the items of a batch buffer that prep did not fail, runs them, and emits
// every item of the batch in order.
func (e *Embedder) runReady(buf []float32, errs []error, start int, run func([]float32, int, []int) ([][]float32, error), emit func(int, []float32, error) error) error {
	il := e.info.InputLen()
	m := 0
	for j, err := range errs {
		if err != nil {
			continue
		}
		if m != j {
			copy(buf[m*il:(m+1)*il], buf[j*il:(j+1)*il])
		}
		m++
	}
	var vecs [][]float32
	if m > 0 {
		var err error
		if run != nil {
			var items []int
			for j, err := range errs {
				if err == nil {
					items = append(items, start+j)
				}
			}
			vecs, err = run(buf[:m*il], m, items)
		} else {
			vecs, err = e.runBatch(buf[:m*il], m)
		}
		if err != nil {
			return err
		}
	}
	k := 0
	for j, err := range errs {
		var vec []float32
		if err == nil {
			vec = vecs[k]
			k++
		}
		if err := emit(start+j, vec, err); err != nil {
			return err
		}
	}
	return nil
}

package pinrec

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync"
)

// ErrNoFeatureMap is returned (wrapped) by [Embedder.EmbedFeatures] when the model's export has
// no "features" signature: exports made before region items existed. `make setup` (or
// tools/export_model.py) re-exports it.
var ErrNoFeatureMap = errors.New("pinrec: the model has no feature-map signature (re-export it: make setup)")

// featuresSignature names the features signature of pinrec.json and its two outputs.
type featuresSignature struct {
	key, emb, fmap string
}

func featuresOf(m modelMeta) featuresSignature {
	if m.FeaturesKey == "" || len(m.FeatureMapShape) != 3 {
		return featuresSignature{}
	}
	f := featuresSignature{key: m.FeaturesKey, emb: m.FeaturesEmb, fmap: m.FeaturesMap}
	if f.emb == "" {
		f.emb = "embeddings"
	}
	if f.fmap == "" {
		f.fmap = "feature_map"
	}
	return f
}

func featureMapShape(m modelMeta) [3]int {
	s := m.FeatureMapShape
	if m.FeaturesKey == "" || len(s) != 3 || s[0] < 1 || s[1] < 1 || s[2] != m.Dim || s[0] > 1024 || s[1] > 1024 {
		return [3]int{}
	}
	return [3]int{s[0], s[1], s[2]}
}

// featureRunner is a runner that also runs the features signature: n images in, n embeddings
// and n feature maps (H*W*C floats each) out, from one forward pass.
type featureRunner interface {
	runFeatures(in []float32, n int, info ModelInfo) (emb, fmap []float32, err error)
}

// Features is what the network computes for one image: its embedding (the vector an index
// holds for the image) and the feature map it is pooled from.
type Features struct {
	Vector []float32
	Map    FeatureMap
}

// HasFeatureMaps reports whether the model has the features signature that
// [Embedder.EmbedFeatures] (and so region items) need.
func (e *Embedder) HasFeatureMaps() bool {
	_, ok := e.r.(featureRunner)
	return ok && e.info.features.key != "" && e.info.FeatureMap[0] > 0
}

// EmbedFeatures embeds images and returns, for each, its embedding and its feature map, from one
// forward pass per batch (the embedding is the same as [Embedder.Embed]'s). Feature maps
// record the size of their image (SourceW, SourceH), so that boxes map to cells. It runs in
// batches of WithBatchSize, preprocessing a batch in WithDecodeWorkers goroutines; ctx is
// checked between batches. The error wraps [ErrNoFeatureMap] when the model lacks the features
// signature.
//
// Region items are made from the result with [Regions] and [RegionItems]:
//
//	fs, err := e.EmbedFeatures(ctx, img)
//	regions, err := pinrec.Regions(img, fs[0].Map, 8, nil) // nil: the built-in proposals
//	err = pinrec.PutPin(ix, pinrec.Item{ID: id, Vector: fs[0].Vector}, regions)
func (e *Embedder) EmbedFeatures(ctx context.Context, imgs ...image.Image) ([]Features, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	if !e.HasFeatureMaps() {
		return nil, fmt.Errorf("embed features with %s: %w", e.info.Dir, ErrNoFeatureMap)
	}
	il := e.info.InputLen()
	bs := e.cfg.batch
	buf := make([]float32, min(bs, len(imgs))*il)
	out := make([]Features, 0, len(imgs))
	for start := 0; start < len(imgs); start += bs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch := imgs[start:min(start+bs, len(imgs))]
		var wg sync.WaitGroup
		next := make(chan int, len(batch))
		for j := range batch {
			next <- j
		}
		close(next)
		for range min(e.cfg.workers, len(batch)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range next {
					PreprocessInto(buf[j*il:(j+1)*il], batch[j], e.info.InputSize, e.info.Mode)
				}
			}()
		}
		wg.Wait()
		fs, err := e.runFeatureBatch(buf[:len(batch)*il], batch)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

// runFeatureBatch runs the features signature on n preprocessed images.
func (e *Embedder) runFeatureBatch(in []float32, imgs []image.Image) ([]Features, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	n := len(imgs)
	fr := e.r.(featureRunner)
	emb, fmap, err := fr.runFeatures(in, n, e.info)
	if err != nil {
		return nil, fmt.Errorf("embed features with %s: %w", e.info.Dir, err)
	}
	d := e.info.Dim
	h, w, c := e.info.FeatureMap[0], e.info.FeatureMap[1], e.info.FeatureMap[2]
	fl := h * w * c
	if len(emb) != n*d || len(fmap) != n*fl {
		return nil, fmt.Errorf("embed features with %s: %w: got %d and %d floats for %d images", e.info.Dir, ErrBadModel, len(emb), len(fmap), n)
	}
	out := make([]Features, n)
	for i, img := range imgs {
		b := img.Bounds()
		out[i] = Features{
			Vector: emb[i*d : (i+1)*d : (i+1)*d],
			Map: FeatureMap{H: h, W: w, C: c, Data: fmap[i*fl : (i+1)*fl : (i+1)*fl],
				SourceW: max(b.Dx(), 1), SourceH: max(b.Dy(), 1)},
		}
	}
	return out, nil
}

// EmbedCrop embeds the part r of img (in pixels from img's top-left corner; for a decoded
// file, after the EXIF orientation that [Decode] applies) exactly as the crop saved as a
// lossless file would be embedded: crop first, then the usual resize and preprocessing (see
// [Crop]). The error wraps [ErrBadRect] when r is empty, has a negative corner or reaches
// outside the image.
func (e *Embedder) EmbedCrop(ctx context.Context, img image.Image, r Rect) ([]float32, error) {
	c, err := Crop(img, r)
	if err != nil {
		return nil, fmt.Errorf("embed crop: %w", err)
	}
	vecs, err := e.Embed(ctx, c)
	if err != nil {
		return nil, err
	}
	return vecs[0], nil
}

// regionConfig is what WithRegions sets.
type regionConfig struct {
	n    int
	prop RegionProposer
}

// WithRegions makes [Embedder.EmbedStream] (and so the CLI's index -regions N) report up to n
// regions of each image in [EmbedResult.Regions], proposed by prop (nil: [DefaultProposer])
// on the feature map of the same forward pass as the image's vector. The model must have the
// features signature ([Embedder.HasFeatureMaps]); EmbedStream returns an error wrapping
// [ErrNoFeatureMap] otherwise. n <= 0 turns regions off.
func WithRegions(n int, prop RegionProposer) EmbedderOption {
	return func(c *embedderConfig) { c.regions = regionConfig{n: max(n, 0), prop: prop} }
}

// embedStreamRegions is EmbedStream with regions: the decoded images are kept from decoding
// until their batch has run, the batch runs the features signature, and each image's regions
// are proposed and pooled before it is reported.
func (e *Embedder) embedStreamRegions(ctx context.Context, paths []string, fn func(EmbedResult) error, opts []DecodeOption) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	if !e.HasFeatureMaps() {
		return fmt.Errorf("embed with regions, %s: %w", e.info.Dir, ErrNoFeatureMap)
	}
	imgs := make([]image.Image, len(paths)) // set by the workers, read after the batch is complete
	regions := make([][]Region, len(paths))
	prep := func(i int, dst []float32) error {
		img, err := e.prepareFileImage(dst, paths[i], opts)
		imgs[i] = img
		return err
	}
	run := func(buf []float32, m int, items []int) ([][]float32, error) {
		batch := make([]image.Image, m)
		for j, i := range items {
			batch[j] = imgs[i]
		}
		fs, err := e.runFeatureBatch(buf, batch)
		if err != nil {
			return nil, err
		}
		vecs := make([][]float32, m)
		for j, i := range items {
			vecs[j] = fs[j].Vector
			regs, err := Regions(imgs[i], fs[j].Map, e.cfg.regions.n, e.cfg.regions.prop)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", paths[i], err)
			}
			regions[i] = regs
		}
		return vecs, nil
	}
	return e.pipelineWith(ctx, len(paths), prep, run, func(i int, vec []float32, err error) error {
		r := EmbedResult{Index: i, Path: paths[i], Vector: vec, Err: err, Regions: regions[i]}
		imgs[i], regions[i] = nil, nil
		return fn(r)
	})
}

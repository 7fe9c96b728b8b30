package main

import (
	"fmt"
	"path/filepath"
	"strconv"

	"pinrec"
	"pinrec/examples/cli/internal/tfquiet"
)

// Index-level info keys the CLI writes (pinrec.Store.SetInfo) and reads back.
const (
	infoEmbedding = "embedding"  // "model" (the ResNet50 SavedModel) or "pixels" (the raw-pixel baseline)
	infoModel     = "model"      // absolute model folder
	infoWeights   = "weights"    // weights source, from the model's pinrec.json
	infoPretrain  = "pretrained" // "true" for ImageNet weights, "false" for seeded random ones
	infoDim       = "dim"        // vector dimension
	infoInputSize = "input_size" // side of the square input, in pixels
	infoMode      = "mode"       // preprocessing mode (caffe, tf, torch)
	infoTF        = "tensorflow" // TensorFlow version the model was exported with
	infoKeras     = "keras"      // Keras version the model was exported with
	infoRoot      = "root"       // absolute folder that was indexed
	// infoPrecision is pinrec.ModelInfo.Precision: float32, or bfloat16-mixed (index -fast).
	// Indexes made before it have none, which means float32.
	infoPrecision = "precision"
)

// Values of infoEmbedding (the index command's -embedding).
const (
	embedModel  = "model"
	embedPixels = "pixels"
)

// pixelSize is the side of the raw-pixel baseline: images are resized to pixelSize x pixelSize
// RGB and flattened (768 values in [-1, 1]).
const pixelSize = 16

// compatKeys are the info keys that must match between an index and an embedder for their
// vectors to be comparable. The model folder may move; these may not change.
// The precision is one of them: fast-mode vectors move by up to ~5% of the distance between
// neighbouring images (README, "Fast mode"), so the modes are not mixed in one index.
var compatKeys = []string{infoEmbedding, infoWeights, infoDim, infoInputSize, infoMode, infoPrecision}

// compatible returns an error naming the first difference between an index's info and an
// embedder's.
func compatible(indexPath string, have, want map[string]string) error {
	for _, k := range compatKeys {
		if have[k] == want[k] || k == infoPrecision && precisionOf(have) == precisionOf(want) {
			continue
		}
		hint := "build a new index"
		if have[infoModel] != "" && have[infoEmbedding] == want[infoEmbedding] {
			hint += ", or pass the index's model: -model " + have[infoModel]
		}
		return fmt.Errorf("index %s was built with %s %q, not %q (%s)", indexPath, k, have[k], want[k], hint)
	}
	return nil
}

// precisionOf is an index's precision; none recorded means float32.
func precisionOf(info map[string]string) string {
	if p := info[infoPrecision]; p != "" {
		return p
	}
	return pinrec.PrecisionFloat32
}

// embeddingInfo is what an index records about the embedding: kind is embedModel (mi read
// from the model folder dir) or embedPixels.
func embeddingInfo(kind, dir string, mi pinrec.ModelInfo) map[string]string {
	info := map[string]string{
		infoEmbedding: kind,
		infoWeights:   mi.Weights,
		infoDim:       strconv.Itoa(mi.Dim),
		infoInputSize: strconv.Itoa(mi.InputSize),
		infoMode:      mi.Mode.String(),
	}
	if kind == embedModel {
		info[infoModel] = dir
		info[infoPretrain] = strconv.FormatBool(mi.Pretrained)
		info[infoTF] = mi.TensorFlowVersion
		info[infoKeras] = mi.KerasVersion
	}
	return info
}

// wantInfo is what an index built with the embedding kind records, read without loading the
// model (which takes seconds): the model's pinrec.json, through the library's reader.
func wantInfo(kind, modelDir string) (map[string]string, error) {
	if kind == embedPixels {
		e, err := pinrec.NewPixelEmbedder(pixelSize)
		if err != nil {
			return nil, err
		}
		defer e.Close()
		return embeddingInfo(embedPixels, "", e.Info()), nil
	}
	abs, err := filepath.Abs(modelDir)
	if err != nil {
		return nil, err
	}
	mi, err := pinrec.ReadModelInfo(abs)
	if err != nil {
		return nil, fmt.Errorf("%w (make setup exports the model; -model or $PINREC_MODEL name another)", err)
	}
	return embeddingInfo(embedModel, abs, mi), nil
}

// embedderOptions are the index command's tuning flags; zero values leave pinrec's defaults.
type embedderOptions struct {
	threads, batch, workers int
	regions                 int // index -regions N (regions.go)

	fast bool // index -fast: pinrec.WithFastMode
}

// openEmbedder opens the embedding kind: the model in modelDir, or the pixel baseline.
func openEmbedder(kind, modelDir string, o embedderOptions) (*pinrec.Embedder, error) {
	var opts []pinrec.EmbedderOption
	if o.batch > 0 {
		opts = append(opts, pinrec.WithBatchSize(o.batch))
	}
	if o.workers > 0 {
		opts = append(opts, pinrec.WithDecodeWorkers(o.workers))
	}
	if kind == embedPixels {
		return pinrec.NewPixelEmbedder(pixelSize, opts...)
	}
	if o.threads > 0 {
		opts = append(opts, pinrec.WithTensorFlowThreads(o.threads, o.threads))
	}
	if o.fast {
		opts = append(opts, pinrec.WithFastMode())
	}
	if o.regions > 0 {
		opts = append(opts, pinrec.WithRegions(o.regions, nil))
	}
	abs, err := filepath.Abs(modelDir)
	if err != nil {
		return nil, err
	}
	var emb *pinrec.Embedder
	tfquiet.Do(func() { emb, err = pinrec.NewEmbedder(abs, opts...) }) // errors name the model folder
	return emb, err
}

// embedderFor opens the embedder an existing index was built with: the pixel baseline, or
// the model in modelDir, which must match the index. It reads the model's pinrec.json before
// loading the network, so a mismatch is reported at once.
func embedderFor(indexPath string, ix pinrec.Store, modelDir string, threads int) (*pinrec.Embedder, error) {
	return embedderForInfo(indexPath, ix.Info(), modelDir, threads)
}

// embedderForInfo is embedderFor for an index whose metadata is have (pinrec.ReadInfo).
func embedderForInfo(indexPath string, have map[string]string, modelDir string, threads int) (*pinrec.Embedder, error) {
	kind := embedModel
	if have[infoEmbedding] == embedPixels {
		kind = embedPixels
	}
	want, err := wantInfo(kind, modelDir)
	if err != nil {
		return nil, err
	}
	if err := compatible(indexPath, have, want); err != nil {
		return nil, err
	}
	// Queries are embedded with the index's precision.
	return openEmbedder(kind, modelDir, embedderOptions{threads: threads, fast: precisionOf(have) == pinrec.PrecisionFast})
}

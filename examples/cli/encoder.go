package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strconv"

	"pinrec"
)

// Index-level info keys the CLI writes (pinrec.Index.SetInfo) and reads back.
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
)

// encoder turns decoded images into vectors: prepare runs in the decoding goroutines, encode
// in batches. The model encoder runs the Embedder; the pixel encoder is the raw-pixel baseline.
type encoder interface {
	prepare(img image.Image) []float32
	encode(ctx context.Context, inputs [][]float32) ([][]float32, error)
	dim() int
	// info is what the index records about the encoder; compatible compares it.
	info() map[string]string
	Close() error
}

// compatKeys are the info keys that must match between an index and an encoder for their
// vectors to be comparable. The model folder may move; these may not change.
var compatKeys = []string{infoEmbedding, infoWeights, infoDim, infoInputSize, infoMode}

// compatible returns an error naming the first difference between an index's info and an
// encoder's.
func compatible(indexPath string, have, want map[string]string) error {
	for _, k := range compatKeys {
		if have[k] == want[k] {
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

// modelEncoder embeds with the ResNet50 SavedModel.
type modelEncoder struct {
	emb *pinrec.Embedder
	dir string
}

// openModel opens the model folder; threads sizes TensorFlow's intra- and inter-op thread pools (0: its default).
func openModel(dir string, threads, batch int) (*modelEncoder, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	opts := []pinrec.EmbedderOption{pinrec.WithBatchSize(batch)}
	if threads > 0 {
		opts = append(opts, pinrec.WithThreads(threads, threads))
	}
	emb, err := pinrec.NewEmbedder(abs, opts...)
	if err != nil {
		return nil, err // names the model folder
	}
	return &modelEncoder{emb: emb, dir: abs}, nil
}

func (m *modelEncoder) prepare(img image.Image) []float32 { return m.emb.Preprocess(img) }

func (m *modelEncoder) encode(ctx context.Context, inputs [][]float32) ([][]float32, error) {
	return m.emb.EmbedInputs(ctx, inputs)
}

func (m *modelEncoder) dim() int { return m.emb.Dim() }

func (m *modelEncoder) info() map[string]string {
	mi := m.emb.Info()
	return map[string]string{
		infoEmbedding: "model",
		infoModel:     m.dir,
		infoWeights:   mi.Weights,
		infoPretrain:  strconv.FormatBool(mi.Pretrained),
		infoDim:       strconv.Itoa(m.emb.Dim()),
		infoInputSize: strconv.Itoa(mi.InputSize),
		infoMode:      mi.Mode.String(),
		infoTF:        mi.TensorFlowVersion,
		infoKeras:     mi.KerasVersion,
	}
}

func (m *modelEncoder) Close() error { return m.emb.Close() }

// readModelInfo reads what the index records about a model from its pinrec.json, without
// loading the SavedModel (which takes seconds): the same values as modelEncoder.info.
func readModelInfo(dir string) (map[string]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(abs, pinrec.ModelInfoFile)
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w (make setup exports the model; -model or $PINREC_MODEL name another)", abs, errors.Unwrap(err))
	}
	var meta struct {
		InputSize  int    `json:"input_size"`
		Preprocess string `json:"preprocess"`
		Dim        int    `json:"dim"`
		Weights    string `json:"weights"`
		Pretrained bool   `json:"pretrained"`
		TF         string `json:"tensorflow_version"`
		Keras      string `json:"keras_version"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return nil, fmt.Errorf("model %s: %w", file, err)
	}
	mode, err := pinrec.ParsePreprocessMode(meta.Preprocess)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", file, err)
	}
	if meta.Dim < 1 || meta.InputSize < 1 {
		return nil, fmt.Errorf("model %s: %w: dim %d, input_size %d", file, pinrec.ErrBadModel, meta.Dim, meta.InputSize)
	}
	return map[string]string{
		infoEmbedding: "model",
		infoModel:     abs,
		infoWeights:   meta.Weights,
		infoPretrain:  strconv.FormatBool(meta.Pretrained),
		infoDim:       strconv.Itoa(meta.Dim),
		infoInputSize: strconv.Itoa(meta.InputSize),
		infoMode:      mode.String(),
		infoTF:        meta.TF,
		infoKeras:     meta.Keras,
	}, nil
}

// pixelSize is the side of the raw-pixel baseline: images are resized to pixelSize x pixelSize
// RGB and flattened (768 values in [-1, 1]).
const pixelSize = 16

// pixelEncoder is the raw-pixel baseline: the preprocessed pixels are the vector.
type pixelEncoder struct{}

func (pixelEncoder) prepare(img image.Image) []float32 {
	return pinrec.Preprocess(img, pixelSize, pinrec.ModeTF)
}

func (pixelEncoder) encode(_ context.Context, inputs [][]float32) ([][]float32, error) {
	return inputs, nil
}

func (pixelEncoder) dim() int { return pixelSize * pixelSize * 3 }

func (p pixelEncoder) info() map[string]string {
	return map[string]string{
		infoEmbedding: "pixels",
		infoWeights:   "none: raw pixels, the baseline",
		infoDim:       strconv.Itoa(p.dim()),
		infoInputSize: strconv.Itoa(pixelSize),
		infoMode:      pinrec.ModeTF.String(),
	}
}

func (pixelEncoder) Close() error { return nil }

// encoderFor opens the encoder an existing index was built with: the pixel baseline, or the
// model in modelDir, which must match the index.
func encoderFor(indexPath string, ix *pinrec.Index, modelDir string, threads int) (encoder, error) {
	have := ix.Info()
	if have[infoEmbedding] == "pixels" {
		var p pixelEncoder
		return p, compatible(indexPath, have, p.info())
	}
	m, err := openModel(modelDir, threads, 8)
	if err != nil {
		return nil, err
	}
	if err := compatible(indexPath, have, m.info()); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

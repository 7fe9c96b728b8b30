package pinrec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The model folder's metadata: pinrec.json, written by tools/export_model.py beside the
// SavedModel, read by ReadModelInfo without TensorFlow and by NewEmbedder.

// ModelFormatVersion is the newest version of pinrec.json (ModelInfoFile) that this package
// reads. tools/export_model.py records it as "format": "pinrec-model/1"; a pinrec.json
// without "format" (written before the field existed) is read as version 1. A model folder
// written for a newer version is refused with ErrModelVersion rather than half understood.
const ModelFormatVersion = 1

// modelFormatPrefix is the part of pinrec.json's "format" before the version number.
const modelFormatPrefix = "pinrec-model/"

// ErrModelVersion is returned by ReadModelInfo and NewEmbedder (wrapped together with
// ErrBadModel) for a model folder whose pinrec.json has a format version newer than
// ModelFormatVersion: it was exported by a newer pinrec.
var ErrModelVersion = errors.New("pinrec: unsupported model format version")

// ReadModelInfo reads and checks the pinrec.json of the model folder dir without loading the
// SavedModel (which takes seconds), so that a program can say what a model is, or compare it
// with what an index was built with, before it needs the network. The tensor names, which only
// the SavedModel knows, are left empty. Errors wrap ErrBadModel (and ErrModelVersion for a
// newer format) and name the file. It needs no TensorFlow.
func ReadModelInfo(dir string) (ModelInfo, error) {
	_, info, err := readModelMeta(dir)
	return info, err
}

// checkModelFormat checks pinrec.json's "format" value and returns its version.
func checkModelFormat(format string) (int, error) {
	if format == "" {
		return 1, nil
	}
	rest, ok := strings.CutPrefix(format, modelFormatPrefix)
	v, err := strconv.Atoi(rest)
	if !ok || err != nil || v < 1 {
		return 0, fmt.Errorf("%w: format %q, want %s%d", ErrBadModel, format, modelFormatPrefix, ModelFormatVersion)
	}
	if v > ModelFormatVersion {
		return 0, fmt.Errorf("%w: %w: format %q was written by a newer pinrec, this one reads up to version %d (update pinrec, or export the model with this version's tools/export_model.py)",
			ErrBadModel, ErrModelVersion, format, ModelFormatVersion)
	}
	return v, nil
}

// ModelInfoFile is the name of the metadata file that tools/export_model.py writes beside the
// SavedModel, and that NewEmbedder reads.
const ModelInfoFile = "pinrec.json"

// ModelInfo describes the model an Embedder runs, as recorded in pinrec.json by
// tools/export_model.py and checked against the SavedModel's serving signature.
type ModelInfo struct {
	// Dir is the model directory as given to NewEmbedder.
	Dir string
	// Architecture names the network, e.g. "keras.applications.ResNet50(include_top=False, pooling='avg')".
	Architecture string
	// InputSize is the side of the square input image, 224 for ResNet50.
	InputSize int
	// Mode is the Keras preprocess_input mode the model expects ("caffe" for ResNet50).
	Mode PreprocessMode
	// Dim is the length of the embeddings, 2048 for ResNet50.
	Dim int
	// Weights says where the weights come from: "imagenet", or
	// "random (seed N): NOT pretrained, for testing only".
	Weights string
	// Pretrained is true for ImageNet weights, false for seeded random ones.
	Pretrained bool
	// TensorFlowVersion and KerasVersion are those of the Python export.
	TensorFlowVersion, KerasVersion string
	// SignatureKey is the SavedModel signature the Embedder runs ("serving_default").
	SignatureKey string
	// InputTensor and OutputTensor are the graph tensors ("op:index") that the signature maps
	// its input and output to, as found in the SavedModel.
	InputTensor, OutputTensor string
	// Precision is how the Embedder runs the network: PrecisionFloat32, or PrecisionFast with
	// WithFastMode. Record it beside vectors (the CLI writes it into the index info).
	Precision string
	// FeatureMap is the shape (H, W, C) of the feature map that the model's "features" signature
	// returns beside the embedding (7, 7, 2048 for ResNet50 at 224), all zero when the export
	// has no such signature (see [Embedder.EmbedFeatures]).
	FeatureMap [3]int
	// features names the features signature and its outputs (regions_tf.go).
	features featuresSignature
}

// InputLen returns the length of one preprocessed input tensor: InputSize*InputSize*3.
func (m ModelInfo) InputLen() int { return m.InputSize * m.InputSize * 3 }

// modelMeta is the JSON layout of pinrec.json.
type modelMeta struct {
	Format            string   `json:"format"`
	Architecture      string   `json:"architecture"`
	InputSize         int      `json:"input_size"`
	Channels          int      `json:"channels"`
	Preprocess        string   `json:"preprocess"`
	Dim               int      `json:"dim"`
	Weights           string   `json:"weights"`
	Pretrained        bool     `json:"pretrained"`
	TensorFlowVersion string   `json:"tensorflow_version"`
	KerasVersion      string   `json:"keras_version"`
	Tags              []string `json:"saved_model_tags"`
	SignatureKey      string   `json:"signature_key"`
	SignatureInput    string   `json:"signature_input"`
	SignatureOutput   string   `json:"signature_output"`
	// The features signature (tools/export_model.py; region items, regions_embed.go).
	FeaturesKey     string `json:"features_signature_key"`
	FeaturesEmb     string `json:"features_output_embeddings"`
	FeaturesMap     string `json:"features_output_map"`
	FeatureMapShape []int  `json:"feature_map_shape"`
}

// readModelMeta reads and checks dir/pinrec.json. Errors wrap ErrBadModel and name the file.
func readModelMeta(dir string) (modelMeta, ModelInfo, error) {
	path := filepath.Join(dir, ModelInfoFile)
	var m modelMeta
	raw, err := os.ReadFile(path)
	if err != nil {
		return m, ModelInfo{}, fmt.Errorf("open model %s: %w: %w", dir, ErrBadModel, err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, ModelInfo{}, fmt.Errorf("read %s: %w: %w", path, ErrBadModel, err)
	}
	if _, err := checkModelFormat(m.Format); err != nil {
		return m, ModelInfo{}, fmt.Errorf("read %s: %w", path, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("read %s: %w: %s", path, ErrBadModel, fmt.Sprintf(format, args...))
	}
	if m.InputSize <= 0 || m.InputSize > 4096 {
		return m, ModelInfo{}, bad("input_size %d", m.InputSize)
	}
	if m.Channels != 0 && m.Channels != 3 {
		return m, ModelInfo{}, bad("channels %d, want 3", m.Channels)
	}
	if m.Dim <= 0 || m.Dim > 1<<20 {
		return m, ModelInfo{}, bad("dim %d", m.Dim)
	}
	mode, err := ParsePreprocessMode(m.Preprocess)
	if err != nil {
		return m, ModelInfo{}, bad("preprocess %q: %v", m.Preprocess, err)
	}
	if m.Weights == "" {
		return m, ModelInfo{}, bad("no weights source")
	}
	if m.SignatureKey == "" {
		m.SignatureKey = "serving_default"
	}
	if len(m.Tags) == 0 {
		m.Tags = []string{"serve"}
	}
	info := ModelInfo{
		Dir:               dir,
		Architecture:      m.Architecture,
		InputSize:         m.InputSize,
		Mode:              mode,
		Dim:               m.Dim,
		Weights:           m.Weights,
		Pretrained:        m.Pretrained,
		TensorFlowVersion: m.TensorFlowVersion,
		KerasVersion:      m.KerasVersion,
		SignatureKey:      m.SignatureKey,
		FeatureMap:        featureMapShape(m),
		features:          featuresOf(m),
	}
	return m, info, nil
}

//go:build cgo && !notensorflow

package pinrec

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	corepb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// NewEmbedder opens the model in modelDir: a TensorFlow SavedModel with the pinrec.json that
// tools/export_model.py writes beside it. The input and output tensors come from the SavedModel's
// serving signature (pinrec.json's signature_key, "serving_default"), the preprocessing from
// pinrec.json. Errors wrap ErrBadModel (with the path) when the directory is not such a model.
//
// The model is loaded through the TensorFlow Go bindings that tfgo is built on
// (github.com/galeone/tensorflow/tensorflow/go), whose errors are returned, not panicked; any
// panic from the bindings is recovered and returned as an error.
func NewEmbedder(modelDir string, opts ...EmbedderOption) (*Embedder, error) {
	cfg := defaultEmbedderConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	meta, info, err := readModelMeta(modelDir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(modelDir, "saved_model.pb")); err != nil {
		return nil, fmt.Errorf("open model %s: %w: no SavedModel: %w", modelDir, ErrBadModel, err)
	}
	r, err := loadTFRunner(modelDir, meta, &info, cfg)
	if err != nil {
		return nil, err
	}
	return newEmbedder(info, cfg, r), nil
}

// tfRunner runs the serving signature of a SavedModel. Its session is safe for concurrent use
// (TF_SessionRun may be called from several threads); Close waits for runs in progress.
type tfRunner struct {
	model   *tf.SavedModel
	in, out tf.Output
	size    int
	dim     int
}

func loadTFRunner(dir string, meta modelMeta, info *ModelInfo, cfg embedderConfig) (r *tfRunner, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("open model %s: tensorflow: %v", dir, p)
		}
	}()
	cp := &corepb.ConfigProto{
		IntraOpParallelismThreads: int32(cfg.intra),
		InterOpParallelismThreads: int32(cfg.inter),
	}
	info.Precision = PrecisionFloat32
	if cfg.fast {
		cp.GraphOptions = &corepb.GraphOptions{RewriteOptions: &corepb.RewriterConfig{
			AutoMixedPrecisionOnednnBfloat16: corepb.RewriterConfig_ON,
		}}
		info.Precision = PrecisionFast
	}
	config, err := proto.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("open model %s: session config: %w", dir, err)
	}
	model, err := tf.LoadSavedModel(dir, meta.Tags, &tf.SessionOptions{Config: config})
	if err != nil {
		return nil, fmt.Errorf("open model %s: %w: %w", dir, ErrBadModel, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = model.Session.Close()
		}
	}()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("open model %s: %w: signature %q: %s", dir, ErrBadModel, meta.SignatureKey, fmt.Sprintf(format, args...))
	}
	sig, found := model.Signatures[meta.SignatureKey]
	if !found {
		keys := make([]string, 0, len(model.Signatures))
		for k := range model.Signatures {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return nil, bad("not found (signatures: %s)", strings.Join(keys, ", "))
	}
	inInfo, err := pickTensor(sig.Inputs, meta.SignatureInput)
	if err != nil {
		return nil, bad("input: %v", err)
	}
	outInfo, err := pickTensor(sig.Outputs, meta.SignatureOutput)
	if err != nil {
		return nil, bad("output: %v", err)
	}
	if inInfo.DType != tf.Float || outInfo.DType != tf.Float {
		return nil, bad("want float32 tensors, got %v -> %v", inInfo.DType, outInfo.DType)
	}
	s := int64(info.InputSize)
	if !shapeMatches(inInfo.Shape, []int64{-1, s, s, 3}) {
		return nil, bad("input shape %v, want [?, %d, %d, 3]", inInfo.Shape, s, s)
	}
	if !shapeMatches(outInfo.Shape, []int64{-1, int64(info.Dim)}) {
		return nil, bad("output shape %v, want [?, %d]", outInfo.Shape, info.Dim)
	}
	in, err := graphOutput(model.Graph, inInfo.Name)
	if err != nil {
		return nil, bad("input: %v", err)
	}
	out, err := graphOutput(model.Graph, outInfo.Name)
	if err != nil {
		return nil, bad("output: %v", err)
	}
	info.InputTensor, info.OutputTensor = inInfo.Name, outInfo.Name
	ok = true
	return &tfRunner{model: model, in: in, out: out, size: info.InputSize, dim: info.Dim}, nil
}

// pickTensor returns the one tensor of a signature's inputs or outputs, or the one named want.
func pickTensor(m map[string]tf.TensorInfo, want string) (tf.TensorInfo, error) {
	if want != "" {
		ti, ok := m[want]
		if !ok {
			return ti, fmt.Errorf("no tensor %q", want)
		}
		return ti, nil
	}
	if len(m) != 1 {
		return tf.TensorInfo{}, fmt.Errorf("%d tensors, want 1", len(m))
	}
	for _, ti := range m {
		return ti, nil
	}
	panic("unreachable")
}

// shapeMatches reports whether a signature shape fits want, where -1 in want is any size.
func shapeMatches(s tf.Shape, want []int64) bool {
	if s.NumDimensions() != len(want) {
		return false
	}
	for i, w := range want {
		if d := s.Size(i); w >= 0 && d >= 0 && d != w {
			return false
		}
	}
	return true
}

// graphOutput resolves a tensor name "op:index" (or "op") in the graph.
func graphOutput(g *tf.Graph, name string) (tf.Output, error) {
	opName, idx := name, 0
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		n, err := strconv.Atoi(name[i+1:])
		if err != nil {
			return tf.Output{}, fmt.Errorf("tensor name %q", name)
		}
		opName, idx = name[:i], n
	}
	op := g.Operation(opName)
	if op == nil {
		return tf.Output{}, fmt.Errorf("no operation %q in the graph", opName)
	}
	if idx < 0 || idx >= op.NumOutputs() {
		return tf.Output{}, fmt.Errorf("operation %q has %d outputs, want output %d", opName, op.NumOutputs(), idx)
	}
	return op.Output(idx), nil
}

func (r *tfRunner) run(in []float32, n int) (vecs []float32, err error) {
	defer func() {
		if p := recover(); p != nil {
			vecs, err = nil, fmt.Errorf("tensorflow: %v", p)
		}
	}()
	s := int64(r.size)
	t, err := tf.ReadTensor(tf.Float, []int64{int64(n), s, s, 3}, bytes.NewReader(tfFloatBytes(in)))
	if err != nil {
		return nil, fmt.Errorf("input tensor: %w", err)
	}
	res, err := r.model.Session.Run(map[tf.Output]*tf.Tensor{r.in: t}, []tf.Output{r.out}, nil)
	if err != nil {
		return nil, fmt.Errorf("tensorflow: %w", err)
	}
	o := res[0]
	if o.DataType() != tf.Float || !slices.Equal(o.Shape(), []int64{int64(n), int64(r.dim)}) {
		return nil, fmt.Errorf("tensorflow: output %v %v, want float [%d %d]", o.DataType(), o.Shape(), n, r.dim)
	}
	vecs = make([]float32, n*r.dim)
	w := tfSliceWriter{b: tfFloatBytes(vecs)}
	if _, err := o.WriteContentsTo(&w); err != nil {
		return nil, fmt.Errorf("output tensor: %w", err)
	}
	if len(w.b) != 0 {
		return nil, fmt.Errorf("output tensor: %d bytes short", len(w.b))
	}
	return vecs, nil
}

func (r *tfRunner) close() error {
	return r.model.Session.Close()
}

// tfFloatBytes views f's memory as bytes (native byte order, as TensorFlow's tensors are).
func tfFloatBytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), len(f)*4)
}

// tfSliceWriter fills b from the front.
type tfSliceWriter struct{ b []byte }

func (w *tfSliceWriter) Write(p []byte) (int, error) {
	if len(p) > len(w.b) {
		return 0, fmt.Errorf("%d bytes more than expected", len(p)-len(w.b))
	}
	n := copy(w.b, p)
	w.b = w.b[n:]
	return n, nil
}

//go:build cgo && !notensorflow

package pinrec

import (
	"bytes"
	"fmt"
	"slices"

	tf "github.com/galeone/tensorflow/tensorflow/go"
)

// runFeatures runs the features signature (resolved from the SavedModel on each call: map
// lookups, nothing next to a forward pass) and returns both outputs.
func (r *tfRunner) runFeatures(in []float32, n int, info ModelInfo) (emb, fmap []float32, err error) {
	defer func() {
		if p := recover(); p != nil {
			emb, fmap, err = nil, nil, fmt.Errorf("tensorflow: %v", p)
		}
	}()
	fs := info.features
	sig, ok := r.model.Signatures[fs.key]
	if !ok {
		return nil, nil, fmt.Errorf("%w: no signature %q", ErrNoFeatureMap, fs.key)
	}
	inInfo, err := pickTensor(sig.Inputs, "")
	if err != nil {
		return nil, nil, fmt.Errorf("%w: signature %q input: %v", ErrBadModel, fs.key, err)
	}
	var outs [2]tf.Output
	for i, name := range []string{fs.emb, fs.fmap} {
		ti, err := pickTensor(sig.Outputs, name)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: signature %q output: %v", ErrBadModel, fs.key, err)
		}
		if outs[i], err = graphOutput(r.model.Graph, ti.Name); err != nil {
			return nil, nil, fmt.Errorf("%w: signature %q output: %v", ErrBadModel, fs.key, err)
		}
	}
	inOut, err := graphOutput(r.model.Graph, inInfo.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: signature %q input: %v", ErrBadModel, fs.key, err)
	}
	s := int64(r.size)
	t, err := tf.ReadTensor(tf.Float, []int64{int64(n), s, s, 3}, bytes.NewReader(tfFloatBytes(in)))
	if err != nil {
		return nil, nil, fmt.Errorf("input tensor: %w", err)
	}
	res, err := r.model.Session.Run(map[tf.Output]*tf.Tensor{inOut: t}, outs[:], nil)
	if err != nil {
		return nil, nil, fmt.Errorf("tensorflow: %w", err)
	}
	h, w, c := int64(info.FeatureMap[0]), int64(info.FeatureMap[1]), int64(info.FeatureMap[2])
	wantShapes := [2][]int64{{int64(n), int64(r.dim)}, {int64(n), h, w, c}}
	var got [2][]float32
	for i, o := range res {
		if o.DataType() != tf.Float || !slices.Equal(o.Shape(), wantShapes[i]) {
			return nil, nil, fmt.Errorf("tensorflow: output %v %v, want float %v", o.DataType(), o.Shape(), wantShapes[i])
		}
		size := int64(1)
		for _, d := range wantShapes[i] {
			size *= d
		}
		got[i] = make([]float32, size)
		wr := tfSliceWriter{b: tfFloatBytes(got[i])}
		if _, err := o.WriteContentsTo(&wr); err != nil {
			return nil, nil, fmt.Errorf("output tensor: %w", err)
		}
		if len(wr.b) != 0 {
			return nil, nil, fmt.Errorf("output tensor: %d bytes short", len(wr.b))
		}
	}
	return got[0], got[1], nil
}

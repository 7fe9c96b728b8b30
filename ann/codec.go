package ann

import (
	"fmt"
	"math"
	"math/rand/v2"
	"unsafe"

	"gonum.org/v1/gonum/mat"

	"pinrec/internal/sq8"
)

// Codec names accepted by [WithCodec].
const (
	// CodecSQ8 stores one byte per dimension: x[t] quantised to 256 steps between a minimum
	// and a maximum trained per dimension (4x smaller than float32).
	CodecSQ8 = "sq8"
	// CodecPCASQ8 projects onto the 512 principal axes of a training sample, then applies SQ8,
	// plus four bytes for the squared norm of what the projection drops (16x smaller at
	// d=2048). Dimensions up to 512 are kept whole (plain SQ8 on rotated axes).
	CodecPCASQ8 = "pca512-sq8"
	// CodecNone keeps the float32 vectors in RAM (the graph's distances are exact).
	CodecNone = "none"
)

type codecKind uint8

const (
	kindNone codecKind = iota
	kindSQ8
	kindPCASQ8
)

func (k codecKind) String() string {
	switch k {
	case kindNone:
		return CodecNone
	case kindSQ8:
		return CodecSQ8
	case kindPCASQ8:
		return CodecPCASQ8
	}
	return fmt.Sprintf("codec(%d)", uint8(k))
}

func parseCodec(name string) (codecKind, error) {
	switch name {
	case CodecNone:
		return kindNone, nil
	case CodecSQ8, "":
		return kindSQ8, nil
	case CodecPCASQ8:
		return kindPCASQ8, nil
	}
	return 0, fmt.Errorf("codec %q (want %s, %s or %s): %w", name, CodecSQ8, CodecPCASQ8, CodecNone, ErrBadOption)
}

// pcaDim is the number of principal axes CodecPCASQ8 keeps.
const pcaDim = 512

// codec turns float32 vectors into the compact codes the graph's distances run on.
// It is immutable once trained, so any number of goroutines may use it.
type codec struct {
	kind codecKind
	dim  int // input dimension
	pdim int // dimension after the projection (== dim without one)

	// PCA: y = proj·(x - mean); proj holds pdim orthonormal rows of length dim.
	mean, proj []float32

	// SQ8, per (projected) dimension t: code = round((y[t]-lo[t])/step[t]) clamped to 0..255.
	// inv = 1/step and w = step² are derived.
	lo, step, inv, w []float32

	// pw and pws: w rounded to integers, w[t] ≈ pws·pw[t], for the integer distance between
	// two codes (distCodes); nil when the rounding would distort w too much (see derive).
	pw  []int16
	pws float32
}

// codeSize returns the bytes per vector.
func (c *codec) codeSize() int {
	switch c.kind {
	case kindNone:
		return 4 * c.dim
	case kindPCASQ8:
		return c.pdim + 4
	}
	return c.pdim
}

// blockSize returns the bytes per node the graph keeps: the code, then for SQ8 and PCA the
// float32 norm Σ step[t]²·c[t]² (plus the PCA residual) of its reconstruction minus lo, which
// the integer distance needs (see dist). Files store codes without it.
func (c *codec) blockSize() int {
	if c.kind == kindNone {
		return c.codeSize()
	}
	return c.codeSize() + 4
}

// query is a vector in the form the distance kernels take, with its scratch space.
//
// For SQ8 (and PCA after the projection), with u = y - lo and a code c whose reconstruction
// is lo + step·c: |y - (lo + step·c)|² = |u|² - 2·Σ u[t]·step[t]·c[t] + Σ step[t]²·c[t]².
// The first term is the query's (qn), the last the code's (stored after it), and the middle
// one is an integer dot product: u·step quantised to int16 (qi, one scale per query,
// |qi[t]| <= sq8.MaxQuery(pdim) so the int32 sum cannot overflow) against the code's bytes,
// times qs = 2·scale.
type query struct {
	f   []float32 // none: the vector
	qi  []int16   // SQ8, PCA: round(u[t]·step[t]/scale)
	qs  float32   // 2·scale
	qn  float32   // |u|², plus the PCA residual of the query
	res float32   // PCA: squared norm of the part the projection drops
	y   []float32 // PCA scratch: the projection; SQ8: u·step
	raw []float32 // the float32 vector a caller passed (for the exact re-rank)
	// scratch: dim floats for prepare.
	scratch []float32
}

func (c *codec) newQuery() *query {
	q := &query{y: make([]float32, c.pdim), scratch: make([]float32, c.dim)}
	if c.kind == kindNone {
		q.f = make([]float32, c.pdim)
	} else {
		q.qi = make([]int16, c.pdim)
	}
	return q
}

// project writes proj·(x-mean) into y and returns the squared norm of the dropped part.
func (c *codec) project(x, y, scratch []float32) float32 {
	var total float32
	for t := range x {
		d := x[t] - c.mean[t]
		scratch[t] = d
		total += d * d
	}
	var kept float32
	for r := range y {
		y[r] = sq8.Dot(c.proj[r*c.dim:(r+1)*c.dim], scratch[:c.dim])
		kept += y[r] * y[r]
	}
	return max(0, total-kept)
}

// prepare sets q to the query form of x. x must have length dim; it is not copied for
// CodecNone and must then stay unchanged while q is used.
func (c *codec) prepare(x []float32, q *query) {
	q.raw = x
	switch c.kind {
	case kindNone:
		q.f = x
		return
	case kindPCASQ8:
		q.res = c.project(x, q.y, q.scratch)
		x = q.y
	}
	a := q.y
	var qn, amax float32
	for t := range c.pdim {
		u := x[t] - c.lo[t]
		qn += u * u
		a[t] = u * c.step[t] // in place for PCA: x[t] is read first
		amax = max(amax, a[t], -a[t])
	}
	q.qn = qn + q.res
	q.qs = 0
	if amax == 0 {
		clear(q.qi)
		return
	}
	lim := float32(sq8.MaxQuery(c.pdim))
	scale := amax / lim
	inv := lim / amax
	// Rounded half up through an offset that makes every value positive, so that the
	// conversion's truncation floors: |v·inv| <= lim (up to rounding) < 32768.
	qi := q.qi[:c.pdim]
	for t, v := range a[:c.pdim] {
		qi[t] = int16(int32(min(lim, max(-lim, v*inv))+32768.5) - 32768)
	}
	q.qs = 2 * scale
}

// dist returns the squared distance between a query and a node's block (code, then norm;
// approximate for SQ8 and PCA). pf, when not nil, is the block the caller reads next: the
// kernel asks the CPU to fetch it meanwhile.
func (c *codec) dist(q *query, block, pf []byte) float32 {
	if c.kind == kindNone {
		return sq8.L2F32(q.f, floats(block))
	}
	cs := len(block) - 4
	dot := sq8.DotU8(q.qi, block[:c.pdim], pf)
	return q.qn - q.qs*float32(dot) + residual(block[cs:])
}

// setNorm writes the norm after a block's code (see blockSize): Σ step[t]²·c[t]² plus, for PCA,
// the residual the code ends with.
func (c *codec) setNorm(block []byte) {
	if c.kind == kindNone {
		return
	}
	cs := len(block) - 4
	var s float64
	for t, v := range block[:c.pdim] {
		f := float64(c.step[t]) * float64(v)
		s += f * f
	}
	if c.kind == kindPCASQ8 {
		s += float64(residual(block[c.pdim:cs]))
	}
	b := math.Float32bits(float32(s))
	block[cs], block[cs+1], block[cs+2], block[cs+3] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
}

// distCodes returns the squared distance between two stored codes' reconstructions (for
// PCA, plus both dropped parts). a and b are codes or blocks.
func (c *codec) distCodes(a, b []byte) float32 {
	switch c.kind {
	case kindNone:
		return sq8.L2F32(floats(a), floats(b))
	case kindPCASQ8:
		return c.pairDist(a[:c.pdim], b[:c.pdim]) + residual(a[c.pdim:]) + residual(b[c.pdim:])
	}
	return c.pairDist(a[:c.pdim], b[:c.pdim])
}

// pairDist is Σ w[t]·(a[t]-b[t])² over two codes: on integer weights where derive made them
// (sq8.L2PairW16, 54 ns at d=2048 on AVX-512BW against 138 ns for the float32 sq8.L2Pair),
// else on float32.
func (c *codec) pairDist(a, b []byte) float32 {
	if c.pw != nil {
		return c.pws * float32(sq8.L2PairW16(a, b, c.pw))
	}
	return sq8.L2Pair(a, b, c.w)
}

// residual decodes the little-endian float32 a PCA code ends with.
func residual(b []byte) float32 {
	return math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
}

// encode writes the code of x (length dim) into dst (length codeSize, or blockSize: then with
// its norm). scratch has length dim and y length pdim.
func (c *codec) encode(x []float32, dst []byte, y, scratch []float32) {
	c.encodeCode(x, dst, y, scratch)
	if len(dst) == c.blockSize() {
		c.setNorm(dst)
	}
}

func (c *codec) encodeCode(x []float32, dst []byte, y, scratch []float32) {
	switch c.kind {
	case kindNone:
		copy(floats(dst), x)
		return
	case kindPCASQ8:
		res := c.project(x, y, scratch)
		b := math.Float32bits(res)
		dst[c.pdim], dst[c.pdim+1], dst[c.pdim+2], dst[c.pdim+3] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
		x = y
	}
	for t := 0; t < c.pdim; t++ {
		v := math.Round(float64((x[t] - c.lo[t]) * c.inv[t]))
		dst[t] = byte(min(255, max(0, v)))
	}
}

// floats views a code of CodecNone (4*dim bytes, 4-aligned: every code buffer is allocated by
// make([]byte) in large blocks, at offsets that are multiples of 4) as float32 values in the
// host's byte order.
func floats(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// maxTrain bounds the training sample.
const maxTrain = 20000

// trainCodec fits a codec of the given kind to a sample of vectors (each of length dim; a
// random subset of at most maxTrain is used). It needs at least one vector for SQ8 and PCA.
func trainCodec(kind codecKind, dim int, sample [][]float32, seed uint64) (*codec, error) {
	c := &codec{kind: kind, dim: dim, pdim: dim}
	if kind == kindNone {
		return c, nil
	}
	if len(sample) == 0 {
		return nil, fmt.Errorf("train %s: no vectors: %w", kind, ErrBadOption)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5138))
	if len(sample) > maxTrain {
		s := make([][]float32, len(sample))
		copy(s, sample)
		rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		sample = s[:maxTrain]
	}
	if kind == kindPCASQ8 {
		if err := c.trainPCA(sample); err != nil {
			return nil, err
		}
		proj := make([][]float32, len(sample))
		scratch := make([]float32, dim)
		for i, x := range sample {
			proj[i] = make([]float32, c.pdim)
			c.project(x, proj[i], scratch)
		}
		sample = proj
	}
	c.lo = make([]float32, c.pdim)
	c.step = make([]float32, c.pdim)
	for t := range c.lo {
		lo, hi := sample[0][t], sample[0][t]
		for _, x := range sample[1:] {
			lo, hi = min(lo, x[t]), max(hi, x[t])
		}
		c.lo[t] = lo
		c.step[t] = (hi - lo) / 255
	}
	c.derive()
	return c, nil
}

// pairWeightError bounds the distortion of the integer pair weights: derive keeps them only
// when Σ|w[t] - pws·pw[t]| <= pairWeightError·Σ w[t].
const pairWeightError = 0.02

// derive computes inv and w from step; a zero step (a constant dimension) becomes 1, which
// codes the constant exactly as 0. Then the integer pair weights: w scaled so that the
// largest is sq8.MaxPairWeight(pdim) (128 up to 2,064 dimensions) and rounded, kept when
// their total error is within pairWeightError of Σ w (at most 0.5 of a unit per weight, so
// the weights must not spread over much more than two orders of magnitude: the error is
// 0.54% on the synthetic 2048-d vectors of the benchmark, 0.03% on Fashion-MNIST's pixels;
// PCA axes, whose variances fall steeply, exceed it (4% and 10%) and keep the float32 kernel).
// Neighbour selection then compares codes under weights off by that much, which moves which
// links a node keeps, not what searches compute.
func (c *codec) derive() {
	c.inv = make([]float32, len(c.step))
	c.w = make([]float32, len(c.step))
	var wmax float64
	for t, s := range c.step {
		if !(s > 0) {
			s = 1
			c.step[t] = 1
		}
		c.inv[t] = 1 / s
		c.w[t] = s * s
		wmax = max(wmax, float64(c.w[t]))
	}
	c.pw, c.pws = nil, 0
	if len(c.w) == 0 || !(wmax > 0) {
		return
	}
	scale := wmax / float64(sq8.MaxPairWeight(len(c.w)))
	pw := make([]int16, len(c.w))
	var sum, errSum float64
	for t, w := range c.w {
		pw[t] = int16(math.Round(float64(w) / scale))
		sum += float64(w)
		errSum += math.Abs(float64(w) - scale*float64(pw[t]))
	}
	if errSum <= pairWeightError*sum {
		c.pw, c.pws = pw, float32(scale)
	}
}

// trainPCA sets mean and proj from the sample's covariance (float64, gonum's symmetric
// eigendecomposition): the top min(pcaDim, dim) eigenvectors. The d×d eigendecomposition takes
// O(d³) (tens of seconds at d=2048); samples smaller than d go through their Gram matrix.
func (c *codec) trainPCA(sample [][]float32) error {
	d, n := c.dim, len(sample)
	c.pdim = min(pcaDim, d)
	mean := make([]float64, d)
	for _, x := range sample {
		for t, v := range x {
			mean[t] += float64(v)
		}
	}
	for t := range mean {
		mean[t] /= float64(n)
	}
	centred := mat.NewDense(n, d, nil)
	for i, x := range sample {
		row := centred.RawRowView(i)
		for t, v := range x {
			row[t] = float64(v) - mean[t]
		}
	}
	c.mean = make([]float32, d)
	for t, v := range mean {
		c.mean[t] = float32(v)
	}
	c.proj = make([]float32, c.pdim*d)
	if n < d {
		// Fewer vectors than dimensions: the axes come from the n×n Gram matrix (its
		// eigenvectors u give the covariance's as Xᵀu/|Xᵀu|), O(n²d) instead of O(d³); the
		// axes past the sample's rank stay zero rows (nothing of the data lies along them).
		gram := mat.NewSymDense(n, nil)
		gram.SymRankK(gram, 1, centred)
		var eig mat.EigenSym
		if !eig.Factorize(gram, true) {
			return fmt.Errorf("train %s: eigendecomposition did not converge: %w", c.kind, ErrBadOption)
		}
		var u mat.Dense
		eig.VectorsTo(&u)
		vals := eig.Values(nil)
		var v mat.VecDense
		for r := 0; r < min(c.pdim, n); r++ {
			col := n - 1 - r
			if !(vals[col] > 1e-9*max(vals[n-1], 0)) || !(vals[col] > 0) {
				break
			}
			v.MulVec(centred.T(), u.ColView(col))
			norm := mat.Norm(&v, 2)
			for t := 0; t < d; t++ {
				c.proj[r*d+t] = float32(v.AtVec(t) / norm)
			}
		}
		return nil
	}
	cov := mat.NewSymDense(d, nil)
	cov.SymRankK(cov, 1/float64(max(1, n-1)), centred.T())
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		return fmt.Errorf("train %s: eigendecomposition did not converge: %w", c.kind, ErrBadOption)
	}
	var vecs mat.Dense
	eig.VectorsTo(&vecs) // columns, eigenvalues ascending
	for r := 0; r < c.pdim; r++ {
		col := d - 1 - r
		for t := 0; t < d; t++ {
			c.proj[r*d+t] = float32(vecs.At(t, col))
		}
	}
	return nil
}

package pinrec

import (
	"image"
	"math"
	"sync"
)

// resizeCoeffs holds the filter taps of one axis for an (in, out) size pair,
// computed as Pillow's precompute_coeffs (Resample.c) does, in float64 and
// stored as float32: output i reads inputs start[i] .. start[i]+count[i]-1.
// The weights are tabulated in w (w[i*stride+k]) unless the table would be
// larger than maxCoeffTable; then weight computes them on the fly, so that
// memory stays bounded for absurd aspect ratios (a 1x10,000,000 image).
type resizeCoeffs struct {
	start, count []int32
	sum          []float64 // normalisation of each output's taps
	w            []float32 // nil when computed on the fly
	stride       int       // the largest count
	scale, ss    float64   // in/out, and 1/max(scale, 1)
}

// maxCoeffTable bounds one tabulated axis (4 MiB); maxCoeffCache bounds all
// cached tables together (32 MiB). A typical pair such as 4000 -> 224 needs
// about 8K weights.
const (
	maxCoeffTable = 1 << 20
	maxCoeffCache = 8 << 20
)

var coeffCache struct {
	sync.RWMutex
	m       map[[2]int]*resizeCoeffs
	weights int
}

// coeffsFor returns the cached bilinear coefficients for in -> out.
func coeffsFor(in, out int) *resizeCoeffs {
	key := [2]int{in, out}
	coeffCache.RLock()
	c := coeffCache.m[key]
	coeffCache.RUnlock()
	if c != nil {
		return c
	}
	c = computeCoeffs(in, out)
	coeffCache.Lock()
	if coeffCache.m == nil || coeffCache.weights+len(c.w)+3*out > maxCoeffCache {
		coeffCache.m = make(map[[2]int]*resizeCoeffs)
		coeffCache.weights = 0
	}
	coeffCache.m[key] = c
	coeffCache.weights += len(c.w) + 3*out
	coeffCache.Unlock()
	return c
}

func computeCoeffs(in, out int) *resizeCoeffs {
	scale := float64(in) / float64(out)
	filterScale := math.Max(scale, 1)
	support := 1.0 * filterScale // the bilinear (triangle) filter's support is 1
	c := &resizeCoeffs{
		start: make([]int32, out),
		count: make([]int32, out),
		sum:   make([]float64, out),
		scale: scale,
		ss:    1 / filterScale,
	}
	for i := 0; i < out; i++ {
		center := (float64(i) + 0.5) * scale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), in)
		if xmax <= xmin { // cannot happen for in, out >= 1; keep one pixel
			xmin, xmax = min(int(center), in-1), min(int(center), in-1)+1
		}
		c.start[i], c.count[i] = int32(xmin), int32(xmax-xmin)
		c.stride = max(c.stride, xmax-xmin)
		var sum float64
		for x := xmin; x < xmax; x++ {
			sum += c.tri(i, x)
		}
		if sum == 0 {
			sum = 1
		}
		c.sum[i] = sum
	}
	if out*c.stride <= maxCoeffTable {
		c.w = make([]float32, out*c.stride)
		for i := 0; i < out; i++ {
			for k := 0; k < int(c.count[i]); k++ {
				c.w[i*c.stride+k] = float32(c.tri(i, int(c.start[i])+k) / c.sum[i])
			}
		}
	}
	return c
}

// tri is the unnormalised weight of input x for output i.
func (c *resizeCoeffs) tri(i, x int) float64 {
	center := (float64(i) + 0.5) * c.scale
	t := math.Abs((float64(x) - center + 0.5) * c.ss)
	if t < 1 {
		return 1 - t
	}
	return 0
}

// weights returns the count[i] weights of output i, from the table or
// computed into buf.
func (c *resizeCoeffs) weights(i int, buf []float32) []float32 {
	n := int(c.count[i])
	if c.w != nil {
		return c.w[i*c.stride : i*c.stride+n]
	}
	buf = buf[:n]
	s := int(c.start[i])
	for k := range buf {
		buf[k] = float32(c.tri(i, s+k) / c.sum[i])
	}
	return buf
}

// weight returns the weight of input start[i]+k for output i.
func (c *resizeCoeffs) weight(i, k int) float32 {
	if c.w != nil {
		return c.w[i*c.stride+k]
	}
	return float32(c.tri(i, int(c.start[i])+k) / c.sum[i])
}

// scratch buffers of Preprocess, reused when small.
var (
	bytePool  = sync.Pool{New: func() any { return new([]uint8) }}
	floatPool = sync.Pool{New: func() any { return new([]float32) }}
)

const maxPooled = 1 << 20

func getBytes(n int) *[]uint8 {
	p := bytePool.Get().(*[]uint8)
	if cap(*p) < n {
		*p = make([]uint8, n)
	}
	*p = (*p)[:n]
	return p
}

func putBytes(p *[]uint8) {
	if cap(*p) <= maxPooled {
		bytePool.Put(p)
	}
}

func getFloats(n int) *[]float32 {
	p := floatPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

func putFloats(p *[]float32) {
	if cap(*p) <= maxPooled {
		floatPool.Put(p)
	}
}

// resizeRGB writes the outW x outH bilinear resize of img (bounds b, RGB with
// alpha on white, values in [0, 255]) into dst as interleaved RGB float32.
//
// As in Pillow the horizontal pass runs first; each filtered source row is
// then added, with its vertical weight, into the (at most three when
// shrinking) output rows whose window holds it, in source order, so the sums
// are those of Pillow's vertical pass without a buffer of all filtered rows.
// Memory is O(width + outW*outH).
func resizeRGB(dst []float32, img image.Image, b image.Rectangle, outW, outH int) {
	inW, inH := b.Dx(), b.Dy()
	hc := coeffsFor(inW, outW)
	vc := coeffsFor(inH, outH)
	rowLen := outW * 3

	rowp := getBytes(inW * 3)
	row := *rowp
	hrowp := getFloats(rowLen)
	hrow := *hrowp
	var hbufp *[]float32
	var hbuf []float32
	if hc.w == nil {
		hbufp = getFloats(hc.stride)
		hbuf = *hbufp
	}
	dst = dst[:outH*rowLen]
	clear(dst)

	htab, hstride := hc.w, hc.stride
	read := rowReader(img, b)
	j0 := 0 // the first output row whose window has not ended
	for y := 0; y < inH; y++ {
		for j0 < outH && int(vc.start[j0]+vc.count[j0]) <= y {
			j0++
		}
		if j0 == outH {
			break
		}
		if int(vc.start[j0]) > y {
			continue // no output reads this row
		}
		read(row, y)
		for x := 0; x < outW; x++ {
			s, n := int(hc.start[x]), int(hc.count[x])
			var w []float32
			if htab != nil {
				w = htab[x*hstride : x*hstride+n]
			} else {
				w = hc.weights(x, hbuf)
			}
			src := row[s*3 : (s+n)*3]
			w = w[:len(src)/3]
			var r, g, bl float32
			for k, wk := range w {
				p := src[k*3 : k*3+3 : k*3+3]
				r += wk * float32(p[0])
				g += wk * float32(p[1])
				bl += wk * float32(p[2])
			}
			o := hrow[x*3 : x*3+3 : x*3+3]
			o[0], o[1], o[2] = r, g, bl
		}
		// Window ends are non-decreasing, so every j >= j0 with start <= y
		// holds row y.
		for j := j0; j < outH && int(vc.start[j]) <= y; j++ {
			wk := vc.weight(j, y-int(vc.start[j]))
			out := dst[j*rowLen : (j+1)*rowLen]
			out = out[:len(hrow)]
			for i, v := range hrow {
				out[i] += wk * v
			}
		}
	}
	putBytes(rowp)
	putFloats(hrowp)
	if hbufp != nil {
		putFloats(hbufp)
	}
}

// Package ycc converts Y'CbCr images to 8-bit RGB rows the way the reference C decoders do:
// libjpeg-turbo's integer conversion and "fancy" chroma upsampling for JPEG (as Pillow decodes
// it), libwebp's BT.601 studio-swing conversion for lossy WebP. Go's color.YCbCrToRGB and
// image.YCbCr.At round differently and replicate chroma instead of interpolating it.
package ycc

import (
	"image"
)

// Tables converts Y'CbCr to RGB the way a reference C decoder does, with
// integer tables: R = clamp((y[Y] + rCr[Cr]) >> shift),
// G = clamp((y[Y] + gCb[Cb] + gCr[Cr]) >> shift), B = clamp((y[Y] + bCb[Cb]) >> shift).
type Tables struct {
	y, rCr, gCb, gCr, bCb [256]int32
	shift                 uint
}

// JPEG is libjpeg's full-range JFIF conversion (jdcolor.c, 16-bit fixed
// point), which Pillow uses; Go's color.YCbCrToRGB rounds differently.
// WebP is libwebp's BT.601 studio-swing conversion (dsp/yuv.h, 14-bit):
// golang.org/x/image/webp returns the planes as an image.YCbCr, whose At would
// wrongly read them as full range.
var JPEG, WebP Tables // read-only after init

func init() {
	const half = 1 << 15
	fix := func(x float64) int32 { return int32(x*(1<<16) + 0.5) }
	JPEG.shift = 16
	WebP.shift = 6
	for i := int32(0); i < 256; i++ {
		x := i - 128
		JPEG.y[i] = i << 16
		JPEG.rCr[i] = ((fix(1.40200)*x + half) >> 16) << 16
		JPEG.bCb[i] = ((fix(1.77200)*x + half) >> 16) << 16
		JPEG.gCr[i] = -fix(0.71414) * x
		JPEG.gCb[i] = -fix(0.34414)*x + half

		WebP.y[i] = (i * 19077) >> 8
		WebP.rCr[i] = (i*26149)>>8 - 14234
		WebP.gCb[i] = -((i * 6419) >> 8)
		WebP.gCr[i] = -((i * 13320) >> 8) + 8708
		WebP.bCb[i] = (i*33050)>>8 - 17685
	}
}

// clampTab[v+clampOffset] is v clamped to [0, 255], for v in [-384, 639]:
// after the shift both conversions stay within [-300, 560].
var clampTab [1024]uint8

const clampOffset = 384

func init() {
	for i := range clampTab {
		clampTab[i] = uint8(min(max(i-clampOffset, 0), 255))
	}
}

// clampShift is clamp(v >> shift) to [0, 255] through clampTab.
func clampShift(v int32, shift uint) uint8 {
	return clampTab[((v>>shift)+clampOffset)&1023]
}

// RowReader is the row reader of a Y'CbCr image (with an optional alpha
// plane, composited on white). Subsampled chroma is upsampled as libjpeg-turbo
// does by default ("fancy upsampling", jdsample.c): a triangle filter, 3/4 of
// the nearer chroma sample and 1/4 of the next one, along each subsampled axis,
// with libjpeg's rounding and edge replication; 4:1:1 and 4:1:0 chroma, and
// chroma planes at most 2 samples wide, are replicated as libjpeg does too.
// It returns nil for geometries it does not handle (negative origins, unknown
// ratios), which take the generic path.
func RowReader(m *image.YCbCr, alpha []uint8, astride int, b image.Rectangle, t *Tables) func(dst []uint8, y int) {
	if m.Rect.Min.X < 0 || m.Rect.Min.Y < 0 || !b.In(m.Rect) {
		return nil
	}
	var hs, vs uint
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	case image.YCbCrSubsampleRatio411:
		hs = 2
	case image.YCbCrSubsampleRatio410:
		hs, vs = 2, 1
	default:
		return nil
	}
	w := b.Dx()
	// Chroma sample columns and rows of the whole image (edges replicate
	// against the image, not against b).
	cx0, cx1 := m.Rect.Min.X>>hs, (m.Rect.Max.X-1)>>hs
	cy0, cy1 := m.Rect.Min.Y>>vs, (m.Rect.Max.Y-1)>>vs
	cw := cx1 - cx0 + 1
	fancyH := hs == 1 && cw > 2
	fancyV := vs == 1 && (hs == 0 || (hs == 1 && cw > 2))
	// Column sums of the two contributing chroma rows (3*near + far when
	// filtering vertically), and the upsampled chroma of the whole image row.
	sumCb := make([]int32, cw)
	sumCr := make([]int32, cw)
	fullW := m.Rect.Dx()
	cbFull := make([]uint8, fullW)
	crFull := make([]uint8, fullW)
	xoff := (cx0 << hs) - m.Rect.Min.X // position of chroma sample 0's first pixel in the row
	bx := b.Min.X - m.Rect.Min.X
	return func(dst []uint8, y int) {
		yy := b.Min.Y + y
		cy := yy >> vs
		near := (cy - cy0) * m.CStride
		cbNear, crNear := m.Cb[near:near+cw], m.Cr[near:near+cw]
		if fancyV {
			fy := cy - 1 // the next nearest chroma row: above for even rows
			if yy&1 == 1 {
				fy = cy + 1
			}
			fy = min(max(fy, cy0), cy1)
			far := (fy - cy0) * m.CStride
			cbFar, crFar := m.Cb[far:far+cw], m.Cr[far:far+cw]
			for i := range sumCb {
				sumCb[i] = 3*int32(cbNear[i]) + int32(cbFar[i])
				sumCr[i] = 3*int32(crNear[i]) + int32(crFar[i])
			}
		} else {
			for i := range sumCb {
				sumCb[i] = int32(cbNear[i])
				sumCr[i] = int32(crNear[i])
			}
		}
		var bias int32 // h1v2 rounding: 1 for even rows (row above), 2 for odd rows
		if fancyV && !fancyH {
			bias = 1 + int32(yy&1)
		}
		upsampleChroma(cbFull, sumCb, hs, xoff, fancyH, fancyV, bias)
		upsampleChroma(crFull, sumCr, hs, xoff, fancyH, fancyV, bias)

		yrow := m.Y[(yy-m.Rect.Min.Y)*m.YStride+bx:]
		yrow = yrow[:w]
		cbRow, crRow := cbFull[bx:bx+w], crFull[bx:bx+w]
		dst = dst[:3*w]
		sh := t.shift
		for x, yv := range yrow {
			yt := t.y[yv]
			cb, cr := cbRow[x], crRow[x]
			d := dst[x*3 : x*3+3 : x*3+3]
			d[0] = clampShift(yt+t.rCr[cr], sh)
			d[1] = clampShift(yt+t.gCb[cb]+t.gCr[cr], sh)
			d[2] = clampShift(yt+t.bCb[cb], sh)
		}
		if alpha != nil {
			arow := alpha[(yy-m.Rect.Min.Y)*astride+bx:]
			arow = arow[:w]
			for x, a := range arow {
				if a != 0xff {
					d := dst[x*3 : x*3+3 : x*3+3]
					d[0], d[1], d[2] = overWhite8(d[0], a), overWhite8(d[1], a), overWhite8(d[2], a)
				}
			}
		}
	}
}

// upsampleChroma writes one row of full-resolution chroma into out from the
// column sums of RowReader: sample i covers pixels xoff + i<<hs onwards.
// It follows libjpeg-turbo's jdsample.c: h2v2_fancy_upsample (fancyH and
// fancyV, sums are 3*near+far), h2v1_fancy_upsample (fancyH),
// h1v2_fancy_upsample (fancyV alone, with bias) and plain replication.
func upsampleChroma(out []uint8, sum []int32, hs uint, xoff int, fancyH, fancyV bool, bias int32) {
	n := len(sum)
	put := func(x int, v int32) {
		if x >= 0 && x < len(out) {
			out[x] = uint8(v)
		}
	}
	switch {
	case fancyH && fancyV:
		// Interior samples, then the two edges.
		for i := 1; i < n-1; i++ {
			x := xoff + 2*i
			this := sum[i] * 3
			if x >= 0 && x+1 < len(out) {
				out[x] = uint8((this + sum[i-1] + 8) >> 4)
				out[x+1] = uint8((this + sum[i+1] + 7) >> 4)
				continue
			}
			put(x, (this+sum[i-1]+8)>>4)
			put(x+1, (this+sum[i+1]+7)>>4)
		}
		put(xoff, (sum[0]*4+8)>>4)
		put(xoff+1, (sum[0]*3+sum[1]+7)>>4)
		put(xoff+2*(n-1), (sum[n-1]*3+sum[n-2]+8)>>4)
		put(xoff+2*(n-1)+1, (sum[n-1]*4+7)>>4)
	case fancyH:
		for i := 1; i < n-1; i++ {
			x := xoff + 2*i
			this := sum[i] * 3
			if x >= 0 && x+1 < len(out) {
				out[x] = uint8((this + sum[i-1] + 1) >> 2)
				out[x+1] = uint8((this + sum[i+1] + 2) >> 2)
				continue
			}
			put(x, (this+sum[i-1]+1)>>2)
			put(x+1, (this+sum[i+1]+2)>>2)
		}
		put(xoff, sum[0])
		put(xoff+1, (sum[0]*3+sum[1]+2)>>2)
		put(xoff+2*(n-1), (sum[n-1]*3+sum[n-2]+1)>>2)
		put(xoff+2*(n-1)+1, sum[n-1])
	default:
		rep := 1 << hs
		for i, s := range sum {
			v := s
			if fancyV {
				v = (s + bias) >> 2
			}
			x := xoff + i*rep
			if x >= 0 && x+rep <= len(out) {
				for k := 0; k < rep; k++ {
					out[x+k] = uint8(v)
				}
				continue
			}
			for k := 0; k < rep; k++ {
				put(x+k, v)
			}
		}
	}
}

// overWhite8 composites colour value c of alpha a (not premultiplied) on white, rounding to
// nearest: the formula of package pinrec's row readers (pixels.go), so that Y'CbCr images with
// alpha come out as every other image does.
func overWhite8(c, a uint8) uint8 {
	return uint8((uint32(c)*uint32(a) + 255*(255-uint32(a)) + 127) / 255)
}

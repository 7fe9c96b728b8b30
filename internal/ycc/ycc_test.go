package ycc

import (
	"image"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestChromaUpsampling(t *testing.T) {
	// Tables that pass chroma through: R = Cr, G = Cb, B = 0.
	var id Tables
	id.shift = 16
	for i := int32(0); i < 256; i++ {
		id.rCr[i], id.gCb[i] = i<<16, i<<16
	}
	chroma := func(m *image.YCbCr) (cr [][]uint8) {
		b := m.Bounds()
		read := RowReader(m, nil, 0, b, &id)
		row := make([]uint8, b.Dx()*3)
		for y := 0; y < b.Dy(); y++ {
			read(row, y)
			var r []uint8
			for x := 0; x < b.Dx(); x++ {
				r = append(r, row[3*x])
			}
			cr = append(cr, r)
		}
		return cr
	}
	// 4:2:2, one row: jdsample.c h2v1_fancy_upsample by hand.
	m := image.NewYCbCr(image.Rect(0, 0, 6, 1), image.YCbCrSubsampleRatio422)
	copy(m.Cr, []uint8{0, 64, 128})
	assert.Equal(t, [][]uint8{{0, (0*3 + 64 + 2) >> 2, (64*3 + 0 + 1) >> 2, (64*3 + 128 + 2) >> 2, (128*3 + 64 + 1) >> 2, 128}}, chroma(m))
	// 4:2:0, 6x4 over 3x2 chroma: h2v2_fancy_upsample by hand.
	m = image.NewYCbCr(image.Rect(0, 0, 6, 4), image.YCbCrSubsampleRatio420)
	copy(m.Cr[0:], []uint8{0, 40, 80})
	copy(m.Cr[m.CStride:], []uint8{160, 200, 240})
	col := func(near, far int) int { return 3*near + far }
	h := func(this, other int, bias int) uint8 { return uint8((3*this + other + bias) >> 4) }
	// Row 0: nearest chroma row 0, next nearest row 0 (replicated edge).
	c0 := []int{col(0, 0), col(40, 40), col(80, 80)}
	// Row 1: nearest row 0, next nearest row 1 (below).
	c1 := []int{col(0, 160), col(40, 200), col(80, 240)}
	want := func(c []int) []uint8 {
		return []uint8{uint8((c[0]*4 + 8) >> 4), h(c[0], c[1], 7), h(c[1], c[0], 8), h(c[1], c[2], 7), h(c[2], c[1], 8), uint8((c[2]*4 + 7) >> 4)}
	}
	got := chroma(m)
	assert.Equal(t, want(c0), got[0])
	assert.Equal(t, want(c1), got[1])
	// 4:4:0: vertical only, rounding bias 1 above and 2 below.
	m = image.NewYCbCr(image.Rect(0, 0, 1, 4), image.YCbCrSubsampleRatio440)
	copy(m.Cr[0:], []uint8{0})
	copy(m.Cr[m.CStride:], []uint8{100})
	assert.Equal(t, [][]uint8{{0}, {(0 + 100 + 2) >> 2}, {(300 + 0 + 1) >> 2}, {100}}, chroma(m))
	// Chroma two samples wide is replicated, as libjpeg does.
	m = image.NewYCbCr(image.Rect(0, 0, 4, 1), image.YCbCrSubsampleRatio422)
	copy(m.Cr, []uint8{10, 250})
	assert.Equal(t, [][]uint8{{10, 10, 250, 250}}, chroma(m))
}

package pinrec

import (
	"image"
	"image/color"
	"pinrec/internal/ycc"
)

// rowReader returns a function that writes row y (0-based within b) of img
// into dst as 8-bit RGB with alpha composited on white. Common image types
// take fast paths that read their pixel slices directly.
func rowReader(img image.Image, b image.Rectangle) func(dst []uint8, y int) {
	w := b.Dx()
	switch m := img.(type) {
	case *cropImage:
		// b lies in the crop, so the source's reader gives the crop's rows, converted with the
		// pixels around the crop in view (rect.go).
		return rowReader(m.src, b)
	case *image.YCbCr:
		if r := ycc.RowReader(m, nil, 0, b, &ycc.JPEG); r != nil {
			return r
		}
	case *image.RGBA:
		return func(dst []uint8, y int) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				p := src[x*4 : x*4+4 : x*4+4]
				d := dst[x*3 : x*3+3 : x*3+3]
				if a := p[3]; a == 0xff {
					d[0], d[1], d[2] = p[0], p[1], p[2]
				} else {
					// Premultiplied: c + 255*(1-alpha).
					d[0], d[1], d[2] = premulOverWhite8(p[0], a), premulOverWhite8(p[1], a), premulOverWhite8(p[2], a)
				}
			}
		}
	case *image.NRGBA:
		return func(dst []uint8, y int) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				p := src[x*4 : x*4+4 : x*4+4]
				d := dst[x*3 : x*3+3 : x*3+3]
				if a := p[3]; a == 0xff {
					d[0], d[1], d[2] = p[0], p[1], p[2]
				} else {
					d[0], d[1], d[2] = overWhite8(p[0], a), overWhite8(p[1], a), overWhite8(p[2], a)
				}
			}
		}
	case *image.Gray:
		return func(dst []uint8, y int) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				v := src[x]
				d := dst[x*3 : x*3+3 : x*3+3]
				d[0], d[1], d[2] = v, v, v
			}
		}
	case *image.Gray16:
		return func(dst []uint8, y int) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				v := src[x*2] // high byte, as Pillow keeps it
				d := dst[x*3 : x*3+3 : x*3+3]
				d[0], d[1], d[2] = v, v, v
			}
		}
	case *image.Paletted:
		var lut [256][3]uint8
		for i := range lut {
			c := color.Color(color.Black)
			if i < len(m.Palette) {
				c = m.Palette[i]
			}
			if nc, ok := c.(color.NRGBA); ok && nc.A != 0xff {
				lut[i] = [3]uint8{overWhite8(nc.R, nc.A), overWhite8(nc.G, nc.A), overWhite8(nc.B, nc.A)}
				continue
			}
			lut[i] = compositeWhite(c)
		}
		return func(dst []uint8, y int) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				p := &lut[src[x]]
				d := dst[x*3 : x*3+3 : x*3+3]
				d[0], d[1], d[2] = p[0], p[1], p[2]
			}
		}
	case *image.CMYK:
		return func(dst []uint8, y int) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				p := src[x*4 : x*4+4 : x*4+4]
				r, g, bl := cmykToRGB(p[0], p[1], p[2], p[3]) // Pillow's rounding (jpeg.go)
				d := dst[x*3 : x*3+3 : x*3+3]
				d[0], d[1], d[2] = r, g, bl
			}
		}
	case *image.RGBA64:
		return func(dst []uint8, y int) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				p := src[x*8 : x*8+8 : x*8+8]
				a := uint32(p[6])<<8 | uint32(p[7])
				d := dst[x*3 : x*3+3 : x*3+3]
				for c := 0; c < 3; c++ {
					v := uint32(p[2*c])<<8 | uint32(p[2*c+1])
					d[c] = uint8(min(v+0xffff-a, 0xffff) >> 8)
				}
			}
		}
	case *image.NRGBA64:
		return func(dst []uint8, y int) {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				p := src[x*8 : x*8+8 : x*8+8]
				a := uint32(p[6])<<8 | uint32(p[7])
				d := dst[x*3 : x*3+3 : x*3+3]
				if a == 0xffff {
					d[0], d[1], d[2] = p[0], p[2], p[4]
					continue
				}
				for c := 0; c < 3; c++ {
					v := uint32(p[2*c])<<8 | uint32(p[2*c+1])
					d[c] = uint8((v*a/0xffff + 0xffff - a) >> 8)
				}
			}
		}
	case *image.NYCbCrA:
		if r := ycc.RowReader(&m.YCbCr, m.A, m.AStride, b, &ycc.JPEG); r != nil {
			return r
		}
	}
	return genericRow(img, b)
}

// genericRow is the slow path through image.Image.At for any other type.
func genericRow(img image.Image, b image.Rectangle) func(dst []uint8, y int) {
	return func(dst []uint8, y int) {
		for x := 0; x < b.Dx(); x++ {
			p := compositeWhite(img.At(b.Min.X+x, b.Min.Y+y))
			copy(dst[x*3:x*3+3], p[:])
		}
	}
}

// compositeWhite converts any colour to 8-bit RGB over a white background.
func compositeWhite(c color.Color) [3]uint8 {
	r, g, b, a := c.RGBA() // premultiplied, 16-bit
	return [3]uint8{uint8(min(r+0xffff-a, 0xffff) >> 8), uint8(min(g+0xffff-a, 0xffff) >> 8), uint8(min(b+0xffff-a, 0xffff) >> 8)}
}

// premulOverWhite8 composites a premultiplied 8-bit channel value with alpha a
// over white: c + 255 - a, clamped for invalid premultiplied input.
func premulOverWhite8(c, a uint8) uint8 {
	return uint8(min(uint32(c)+255-uint32(a), 255))
}

// overWhite8 composites a non-premultiplied 8-bit channel value with alpha a
// over white, rounded: (c*a + 255*(255-a)) / 255.
func overWhite8(c, a uint8) uint8 {
	return uint8((uint32(c)*uint32(a) + 255*(255-uint32(a)) + 127) / 255)
}

package pinrec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"pinrec/internal/ycc"

	"golang.org/x/image/webp"
)

// decodeWebP decodes a still WebP, or the first frame of an animated one
// (golang.org/x/image/webp reads no animations), and converts lossy Y'CbCr to
// RGB as libwebp does (see webpToRGB).
func decodeWebP(b []byte, ic image.Config, maxPixels int64) (image.Image, error) {
	if frame, at, ok := webpFirstFrame(b); ok {
		// The frame has its own header: check it too.
		fc, err := webp.DecodeConfig(bytes.NewReader(frame))
		if err != nil {
			return nil, fmt.Errorf("first frame of an animated WebP: %w", err)
		}
		if n := int64(fc.Width) * int64(fc.Height); n > maxPixels {
			return nil, fmt.Errorf("%w: webp first frame declares %dx%d = %d pixels, limit %d",
				ErrTooLarge, fc.Width, fc.Height, n, maxPixels)
		}
		img, err := webp.Decode(bytes.NewReader(frame))
		if err != nil {
			return nil, fmt.Errorf("first frame of an animated WebP: %w", err)
		}
		img = webpToRGB(img)
		if fb := img.Bounds(); fb.Min != at {
			img = &offsetImage{img, at.Sub(fb.Min)}
		}
		return onCanvas(img, ic), nil
	}
	img, err := webp.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return webpToRGB(img), nil
}

// offsetImage shifts an image's coordinates by d.
type offsetImage struct {
	image.Image
	d image.Point
}

func (o *offsetImage) Bounds() image.Rectangle { return o.Image.Bounds().Add(o.d) }
func (o *offsetImage) At(x, y int) color.Color { return o.Image.At(x-o.d.X, y-o.d.Y) }

// webpFirstFrame finds the first ANMF frame of an animated WebP (VP8X with the
// animation flag) and returns it rewrapped as a still WebP file, with the
// frame's offset on the canvas.
func webpFirstFrame(b []byte) (still []byte, at image.Point, ok bool) {
	le24 := func(p []byte) int { return int(p[0]) | int(p[1])<<8 | int(p[2])<<16 }
	animated := false
	for i := 12; i+8 <= len(b); {
		fourcc := string(b[i : i+4])
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		if n < 0 || n > len(b)-i-8 {
			return nil, image.Point{}, false
		}
		p := b[i+8 : i+8+n]
		switch fourcc {
		case "VP8X":
			if len(p) < 10 || p[0]&(1<<1) == 0 {
				return nil, image.Point{}, false
			}
			animated = true
		case "ANMF":
			if !animated || len(p) < 16 {
				return nil, image.Point{}, false
			}
			at = image.Pt(2*le24(p[0:]), 2*le24(p[3:]))
			w, h := 1+le24(p[6:]), 1+le24(p[9:])
			frame := p[16:]
			var chunks []byte
			if bytes.HasPrefix(frame, []byte("ALPH")) {
				// Alpha needs a VP8X header with the alpha flag and the frame size.
				chunks = append(chunks, "VP8X"...)
				chunks = binary.LittleEndian.AppendUint32(chunks, 10)
				chunks = append(chunks, 1<<4, 0, 0, 0,
					byte(w-1), byte((w-1)>>8), byte((w-1)>>16),
					byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
			}
			chunks = append(chunks, frame...)
			still = append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(chunks)))...)
			still = append(append(still, "WEBP"...), chunks...)
			return still, at, true
		}
		i += 8 + n + n&1
	}
	return nil, image.Point{}, false
}

// webpToRGB converts the Y'CbCr planes golang.org/x/image/webp returns for a
// lossy WebP into RGB with libwebp's conversion and upsampling: *image.RGBA
// for an opaque image, *image.NRGBA (alpha kept) for *image.NYCbCrA.
func webpToRGB(img image.Image) image.Image {
	var (
		m      *image.YCbCr
		alpha  []uint8
		astrde int
	)
	switch v := img.(type) {
	case *image.YCbCr:
		m = v
	case *image.NYCbCrA:
		m, alpha, astrde = &v.YCbCr, v.A, v.AStride
	default:
		return img
	}
	b := m.Bounds()
	read := ycc.RowReader(m, nil, 0, b, &ycc.WebP)
	if read == nil {
		return img
	}
	row := make([]uint8, b.Dx()*3)
	if alpha == nil {
		out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		for y := 0; y < b.Dy(); y++ {
			read(row, y)
			o := out.Pix[y*out.Stride:]
			for x := 0; x < b.Dx(); x++ {
				o[4*x], o[4*x+1], o[4*x+2], o[4*x+3] = row[3*x], row[3*x+1], row[3*x+2], 0xff
			}
		}
		return out
	}
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		read(row, y)
		o := out.Pix[y*out.Stride:]
		a := alpha[(y+b.Min.Y-m.Rect.Min.Y)*astrde+(b.Min.X-m.Rect.Min.X):]
		for x := 0; x < b.Dx(); x++ {
			o[4*x], o[4*x+1], o[4*x+2], o[4*x+3] = row[3*x], row[3*x+1], row[3*x+2], a[x]
		}
	}
	return out
}

package pinrec

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/draw"
	"pinrec/internal/ycc"
)

// exifOrientation returns the EXIF orientation (1..8) stored in an image file
// of format f, or 1 when there is none or it cannot be read. It looks in JPEG
// APP1 "Exif" segments, a TIFF file's first IFD, the PNG eXIf chunk and the
// WebP EXIF chunk. It only reads within data: any malformed length ends the
// search.
func exifOrientation(f imageFormat, data []byte) int {
	switch f {
	case formatJPEG:
		return jpegOrientation(data)
	case formatTIFF:
		return tiffOrientation(data)
	case formatPNG:
		return pngOrientation(data)
	case formatWebP:
		return webpOrientation(data)
	}
	return 1
}

var exifHeader = []byte("Exif\x00\x00")

func jpegOrientation(b []byte) int {
	i := 2 // after SOI
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return 1
		}
		marker := b[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7):
			i += 2
			continue
		case marker == 0xDA || marker == 0xD9: // start of scan, end of image
			return 1
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return 1
		}
		seg := b[i+4 : i+2+n]
		if marker == 0xE1 && bytes.HasPrefix(seg, exifHeader) {
			return tiffOrientation(seg[len(exifHeader):])
		}
		i += 2 + n
	}
	return 1
}

func pngOrientation(b []byte) int {
	i := 8 // after the signature
	for i+8 <= len(b) {
		n := int(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		if n < 0 || n > len(b)-i-12 {
			return 1
		}
		switch typ {
		case "eXIf":
			// Some writers keep the JPEG-style "Exif\0\0" prefix.
			return tiffOrientation(bytes.TrimPrefix(b[i+8:i+8+n], exifHeader))
		case "IEND":
			return 1
		}
		i += 12 + n // length, type, data, CRC
	}
	return 1
}

func webpOrientation(b []byte) int {
	i := 12 // after "RIFF" size "WEBP"
	for i+8 <= len(b) {
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		if n < 0 || n > len(b)-i-8 {
			return 1
		}
		if string(b[i:i+4]) == "EXIF" {
			seg := b[i+8 : i+8+n]
			// Some writers keep the JPEG-style "Exif\0\0" prefix.
			return tiffOrientation(bytes.TrimPrefix(seg, exifHeader))
		}
		i += 8 + n + n&1 // chunks are padded to an even size
	}
	return 1
}

// tiffOrientation reads tag 0x0112 (Orientation) from the first IFD of the
// TIFF structure in b (which starts with "II*\0" or "MM\0*").
func tiffOrientation(b []byte) int {
	if len(b) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(b[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 1
	}
	off := int64(bo.Uint32(b[4:]))
	if off < 8 || off+2 > int64(len(b)) {
		return 1
	}
	n := int64(bo.Uint16(b[off:]))
	for e := off + 2; e+12 <= int64(len(b)) && n > 0; e, n = e+12, n-1 {
		if bo.Uint16(b[e:]) != 0x0112 {
			continue
		}
		var v int
		switch bo.Uint16(b[e+2:]) {
		case 3: // SHORT
			v = int(bo.Uint16(b[e+8:]))
		case 4: // LONG, seen in some writers
			v = int(bo.Uint32(b[e+8:]))
		default:
			return 1
		}
		if v < 1 || v > 8 {
			return 1
		}
		return v
	}
	return 1
}

// toRGBA converts an opaque Y'CbCr image to RGBA through its fast row reader
// (libjpeg's upsampling and rounding); any other image through image/draw.
func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	if m, ok := img.(*image.YCbCr); ok {
		if read := ycc.RowReader(m, nil, 0, b, &ycc.JPEG); read != nil {
			row := make([]uint8, b.Dx()*3)
			for y := 0; y < b.Dy(); y++ {
				read(row, y)
				o := out.Pix[y*out.Stride:]
				for x := 0; x < b.Dx(); x++ {
					o[4*x], o[4*x+1], o[4*x+2], o[4*x+3] = row[3*x], row[3*x+1], row[3*x+2], 0xff
				}
			}
			return out
		}
	}
	draw.Draw(out, out.Rect, img, b.Min, draw.Src)
	return out
}

// orient applies EXIF orientation o (2..8) and returns an upright image whose
// bounds start at (0, 0). Gray, Gray16, RGBA, NRGBA, RGBA64, NRGBA64, CMYK and
// Paletted images keep their type; others (YCbCr, NYCbCrA, ...) become RGBA.
func orient(img image.Image, o int) image.Image {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.Gray:
		pix, stride, r := orientPix(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, 1, b.Dx(), b.Dy(), o)
		return &image.Gray{Pix: pix, Stride: stride, Rect: r}
	case *image.Gray16:
		pix, stride, r := orientPix(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, 2, b.Dx(), b.Dy(), o)
		return &image.Gray16{Pix: pix, Stride: stride, Rect: r}
	case *image.RGBA:
		pix, stride, r := orientPix(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, 4, b.Dx(), b.Dy(), o)
		return &image.RGBA{Pix: pix, Stride: stride, Rect: r}
	case *image.NRGBA:
		pix, stride, r := orientPix(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, 4, b.Dx(), b.Dy(), o)
		return &image.NRGBA{Pix: pix, Stride: stride, Rect: r}
	case *image.RGBA64:
		pix, stride, r := orientPix(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, 8, b.Dx(), b.Dy(), o)
		return &image.RGBA64{Pix: pix, Stride: stride, Rect: r}
	case *image.NRGBA64:
		pix, stride, r := orientPix(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, 8, b.Dx(), b.Dy(), o)
		return &image.NRGBA64{Pix: pix, Stride: stride, Rect: r}
	case *image.CMYK:
		pix, stride, r := orientPix(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, 4, b.Dx(), b.Dy(), o)
		return &image.CMYK{Pix: pix, Stride: stride, Rect: r}
	case *image.Paletted:
		pix, stride, r := orientPix(m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, 1, b.Dx(), b.Dy(), o)
		return &image.Paletted{Pix: pix, Stride: stride, Rect: r, Palette: m.Palette}
	}
	return orient(toRGBA(img), o)
}

// orientPix transforms a w x h block of bpp-byte pixels (row 0 at pix[0],
// rows stride bytes apart) by EXIF orientation o into a fresh tight buffer.
// Output pixel (x, y) reads source pixel (sx, sy):
//
//	2 mirror:     (w-1-x, y)       6 rotate 90° clockwise:        (y, h-1-x)
//	3 rotate 180: (w-1-x, h-1-y)   7 transverse (anti-diagonal):  (w-1-y, h-1-x)
//	4 flip:       (x, h-1-y)       8 rotate 90° counterclockwise: (w-1-y, x)
//	5 transpose:  (y, x)
func orientPix(pix []byte, stride, bpp, w, h, o int) ([]byte, int, image.Rectangle) {
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := make([]byte, ow*oh*bpp)
	ostride := ow * bpp
	for y := 0; y < oh; y++ {
		orow := out[y*ostride : (y+1)*ostride]
		for x := 0; x < ow; x++ {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			default:
				sx, sy = x, y
			}
			si := sy*stride + sx*bpp
			copy(orow[x*bpp:x*bpp+bpp], pix[si:si+bpp])
		}
	}
	return out, ostride, image.Rect(0, 0, ow, oh)
}

package pinrec

import (
	"encoding/binary"
	"image"
	"image/color"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeOrientation(t *testing.T) {
	// Every file stores the same upright 64x48 picture (red block top-left,
	// green top-right, blue bottom-left, white bottom-right) transformed so
	// that its EXIF orientation brings it back upright.
	red, green, blue, white := [3]uint8{255, 0, 0}, [3]uint8{0, 255, 0}, [3]uint8{0, 0, 255}, [3]uint8{255, 255, 255}
	files := []string{"1.jpg", "2.jpg", "3.jpg", "4.jpg", "5.jpg", "6.jpg", "7.jpg", "8.jpg", "6.png", "8.webp", "3.tiff"}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			img, err := DecodeFile(filepath.Join(imagesDir, "edge", "exif-orientation-"+f))
			require.NoError(t, err)
			require.Equal(t, image.Rect(0, 0, 64, 48), img.Bounds())
			for _, p := range []struct {
				x, y int
				want [3]uint8
			}{{8, 8, red}, {56, 8, green}, {8, 40, blue}, {56, 40, white}} {
				got := compositeWhite(img.At(p.x, p.y))
				for c := 0; c < 3; c++ {
					assert.InDelta(t, float64(p.want[c]), float64(got[c]), 24, "pixel (%d,%d) = %v, want %v", p.x, p.y, got, p.want)
				}
			}
		})
	}
}

func TestDecodeOrientPixelMapping(t *testing.T) {
	// A 3x2 Gray image with distinct values; each orientation against the
	// transform written out by hand (EXIF 2.32, Orientation tag).
	src := &image.Gray{Pix: []uint8{1, 2, 3, 4, 5, 6}, Stride: 3, Rect: image.Rect(0, 0, 3, 2)}
	want := map[int][]uint8{ // upright pixels, row-major
		1: {1, 2, 3, 4, 5, 6},
		2: {3, 2, 1, 6, 5, 4},
		3: {6, 5, 4, 3, 2, 1},
		4: {4, 5, 6, 1, 2, 3},
		5: {1, 4, 2, 5, 3, 6},
		6: {4, 1, 5, 2, 6, 3},
		7: {6, 3, 5, 2, 4, 1},
		8: {3, 6, 2, 5, 1, 4},
	}
	for o := 1; o <= 8; o++ {
		got := orient(src, o).(*image.Gray)
		if o >= 5 {
			assert.Equal(t, image.Rect(0, 0, 2, 3), got.Rect, "orientation %d", o)
		}
		assert.Equal(t, want[o], got.Pix, "orientation %d", o)
	}
	// A sub-image with an offset origin, and a type without a fast path.
	big := image.NewRGBA(image.Rect(-2, -2, 5, 4))
	for y := 0; y < 2; y++ {
		for x := 0; x < 3; x++ {
			big.SetRGBA(x, y, color.RGBA{uint8(1 + y*3 + x), 0, 0, 255})
		}
	}
	sub := big.SubImage(image.Rect(0, 0, 3, 2))
	got := orient(sub, 6).(*image.RGBA)
	var reds []uint8
	for i := 0; i < len(got.Pix); i += 4 {
		reds = append(reds, got.Pix[i])
	}
	assert.Equal(t, want[6], reds)
	ycc := image.NewYCbCr(image.Rect(0, 0, 3, 2), image.YCbCrSubsampleRatio444)
	assert.Equal(t, image.Rect(0, 0, 2, 3), orient(ycc, 8).Bounds())
}

func TestDecodeEXIFParsers(t *testing.T) {
	ifd := func(bo binary.AppendByteOrder, magic string, typ uint16, v uint32) []byte {
		b := []byte(magic)
		b = bo.AppendUint32(b, 8)
		b = bo.AppendUint16(b, 2)
		b = bo.AppendUint16(b, 0x010F) // Make, skipped
		b = bo.AppendUint16(b, 2)
		b = bo.AppendUint32(b, 1)
		b = bo.AppendUint32(b, 0)
		b = bo.AppendUint16(b, 0x0112)
		b = bo.AppendUint16(b, typ)
		b = bo.AppendUint32(b, 1)
		if typ == 3 {
			b = bo.AppendUint16(b, uint16(v))
			b = bo.AppendUint16(b, 0)
		} else {
			b = bo.AppendUint32(b, v)
		}
		return bo.AppendUint32(b, 0)
	}
	cases := []struct {
		name string
		data []byte
		want int
	}{
		{"little-endian short", ifd(binary.LittleEndian, "II*\x00", 3, 6), 6},
		{"big-endian short", ifd(binary.BigEndian, "MM\x00*", 3, 8), 8},
		{"long", ifd(binary.BigEndian, "MM\x00*", 4, 3), 3},
		{"out of range", ifd(binary.LittleEndian, "II*\x00", 3, 9), 1},
		{"wrong type", ifd(binary.LittleEndian, "II*\x00", 2, 6), 1},
		{"truncated", ifd(binary.LittleEndian, "II*\x00", 3, 6)[:20], 1},
		{"bad offset", []byte("II*\x00\xff\xff\xff\xff"), 1},
		{"empty", nil, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, tiffOrientation(c.data))
			// The same payload inside each container.
			app1 := append([]byte("Exif\x00\x00"), c.data...)
			jpg := append([]byte{0xFF, 0xD8, 0xFF, 0xE1}, binary.BigEndian.AppendUint16(nil, uint16(len(app1)+2))...)
			jpg = append(append(jpg, app1...), 0xFF, 0xDA)
			assert.Equal(t, c.want, exifOrientation(formatJPEG, jpg))
			png := append([]byte("\x89PNG\r\n\x1a\n"), binary.BigEndian.AppendUint32(nil, uint32(len(c.data)))...)
			png = append(append(append(png, "eXIf"...), c.data...), 0, 0, 0, 0)
			assert.Equal(t, c.want, exifOrientation(formatPNG, png))
			webp := append([]byte("RIFF\x00\x00\x00\x00WEBPEXIF"), binary.LittleEndian.AppendUint32(nil, uint32(len(app1)))...)
			webp = append(webp, app1...)
			assert.Equal(t, c.want, exifOrientation(formatWebP, webp))
		})
	}
	// Lengths that point past the end end the search quietly.
	assert.Equal(t, 1, jpegOrientation([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E'}))
	assert.Equal(t, 1, pngOrientation([]byte("\x89PNG\r\n\x1a\n\xff\xff\xff\xffeXIf")))
	assert.Equal(t, 1, webpOrientation([]byte("RIFF\x00\x00\x00\x00WEBPEXIF\xff\xff\xff\x7f")))
}

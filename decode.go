package pinrec

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Errors returned by Decode and DecodeFile. They are wrapped with the
// operation, the file name and the decoder's own message: compare them with
// errors.Is.
var (
	// ErrUnsupportedFormat means the bytes are not an image in a format pinrec
	// decodes (JPEG, PNG, GIF, WebP, BMP, TIFF), or use a feature of that format
	// the decoder does not implement (for example arithmetic-coded JPEG).
	ErrUnsupportedFormat = errors.New("pinrec: unsupported image format")
	// ErrTooLarge means the image header declares more pixels than the limit
	// (see WithMaxPixels). Nothing beyond the header has been decoded.
	ErrTooLarge = errors.New("pinrec: image too large")
	// ErrCorruptImage means the bytes start like a supported format but cannot
	// be decoded: truncated, damaged, or empty (a zero-byte file).
	ErrCorruptImage = errors.New("pinrec: corrupt image")
)

// DefaultMaxPixels is the largest width*height Decode accepts unless
// WithMaxPixels says otherwise: 64 Mi pixels (about 8192x8192), which bounds
// the memory of one decode to a few hundred MB (about 700 MB for a progressive
// JPEG, whose decoder also keeps every DCT coefficient).
const DefaultMaxPixels = 64 << 20

type decodeConfig struct {
	maxPixels int64
}

// DecodeOption configures Decode and DecodeFile.
type DecodeOption func(*decodeConfig)

// WithMaxPixels sets the largest width*height accepted, checked from the
// image header before any pixel is decoded. n <= 0 restores DefaultMaxPixels.
func WithMaxPixels(n int) DecodeOption {
	return func(c *decodeConfig) {
		if n <= 0 {
			c.maxPixels = DefaultMaxPixels
			return
		}
		c.maxPixels = int64(n)
	}
}

// DecodeFile reads and decodes the image file at path; see Decode. Errors name
// the file: "decode PATH: pinrec: corrupt image (jpeg): unexpected EOF".
func DecodeFile(path string, opts ...DecodeOption) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	img, err := decodeBytes(data, opts)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return img, nil
}

// Decode reads an image from r until EOF (it holds the whole encoded file in
// memory) and decodes it.
//
// The format is sniffed from the bytes, never from a file name: JPEG (baseline,
// progressive, CMYK and YCCK, including Adobe inverted CMYK), PNG (8/16-bit,
// grey, paletted, alpha), GIF (the first frame, placed on its logical screen),
// WebP (lossy, lossless, alpha, and the first frame of an animation), BMP and
// TIFF. The header is read first, and an image declaring more than the pixel
// limit (DefaultMaxPixels, see WithMaxPixels) fails with ErrTooLarge before any
// pixel memory is allocated. The EXIF orientation (JPEG APP1, TIFF IFD0, PNG
// eXIf, WebP EXIF) is applied, so the returned image is upright; its bounds
// start at (0, 0) when it was reoriented. Lossy WebP comes back as RGB
// converted as libwebp does (golang.org/x/image/webp's Y'CbCr would be read as
// full-range JPEG colour). Alpha is kept: Preprocess composites it on white.
//
// Errors wrap ErrUnsupportedFormat, ErrTooLarge or ErrCorruptImage. No input
// makes Decode panic: a panic inside a decoder is returned as ErrCorruptImage.
// Decode is safe for concurrent use.
func Decode(r io.Reader, opts ...DecodeOption) (image.Image, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("pinrec: read image: %w", err)
	}
	return decodeBytes(data, opts)
}

// imageFormat is a format sniffed from the first bytes of a file.
type imageFormat string

const (
	formatUnknown imageFormat = ""
	formatJPEG    imageFormat = "jpeg"
	formatPNG     imageFormat = "png"
	formatGIF     imageFormat = "gif"
	formatWebP    imageFormat = "webp"
	formatBMP     imageFormat = "bmp"
	formatTIFF    imageFormat = "tiff"
)

// sniffFormat recognises a format from its magic bytes.
func sniffFormat(b []byte) imageFormat {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return formatJPEG
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return formatPNG
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return formatGIF
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return formatWebP
	case len(b) >= 14 && b[0] == 'B' && b[1] == 'M':
		return formatBMP
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return formatTIFF
	}
	return formatUnknown
}

func decodeConfigOf(f imageFormat, b []byte) (image.Config, error) {
	r := bytes.NewReader(b)
	switch f {
	case formatJPEG:
		return decodeJPEGConfig(b) // jpeg.go
	case formatPNG:
		return png.DecodeConfig(r)
	case formatGIF:
		return gif.DecodeConfig(r)
	case formatWebP:
		return webp.DecodeConfig(r)
	case formatBMP:
		return bmp.DecodeConfig(r)
	case formatTIFF:
		return tiff.DecodeConfig(r)
	}
	return image.Config{}, ErrUnsupportedFormat
}

// decodeImageOf decodes the image whose header gave ic.
func decodeImageOf(f imageFormat, b []byte, ic image.Config, maxPixels int64) (image.Image, error) {
	r := bytes.NewReader(b)
	switch f {
	case formatJPEG:
		return decodeJPEG(b, maxPixels) // jpeg.go: libjpeg-turbo as Pillow, or image/jpeg
	case formatPNG:
		return png.Decode(r)
	case formatGIF:
		img, err := gif.Decode(r)
		if err != nil {
			return nil, err
		}
		return onCanvas(img, ic), nil
	case formatWebP:
		return decodeWebP(b, ic, maxPixels)
	case formatBMP:
		return bmp.Decode(r)
	case formatTIFF:
		return tiff.Decode(r)
	}
	return nil, ErrUnsupportedFormat
}

// onCanvas returns img unchanged when it covers the canvas that ic declares;
// otherwise (a GIF or animated WebP whose first frame is smaller than the
// logical screen) it draws img at its position on a transparent canvas, which
// Preprocess then shows as white.
func onCanvas(img image.Image, ic image.Config) image.Image {
	screen := image.Rect(0, 0, ic.Width, ic.Height)
	if img.Bounds() == screen || ic.Width <= 0 || ic.Height <= 0 {
		return img
	}
	canvas := image.NewNRGBA(screen)
	draw.Draw(canvas, img.Bounds(), img, img.Bounds().Min, draw.Src)
	return canvas
}

// classifyError maps a decoder's error onto the package sentinels.
func classifyError(f imageFormat, err error) error {
	var (
		jpegUnsupported jpeg.UnsupportedError
		pngUnsupported  png.UnsupportedError
		tiffUnsupported tiff.UnsupportedError
	)
	switch {
	case errors.Is(err, ErrUnsupportedFormat), errors.Is(err, ErrCorruptImage), errors.Is(err, ErrTooLarge):
		return err
	case errors.As(err, &jpegUnsupported), errors.As(err, &pngUnsupported),
		errors.As(err, &tiffUnsupported), errors.Is(err, bmp.ErrUnsupported):
		return fmt.Errorf("%w (%s): %w", ErrUnsupportedFormat, f, err)
	case errors.Is(err, io.EOF):
		// Readers report a file cut right at a boundary as io.EOF.
		return fmt.Errorf("%w (%s): %w", ErrCorruptImage, f, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("%w (%s): %w", ErrCorruptImage, f, err)
}

// guard runs a third-party decoder step, turning a panic into ErrCorruptImage.
func guard[T any](f imageFormat, fn func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			var zero T
			v, err = zero, fmt.Errorf("%w (%s): decoder panic: %v", ErrCorruptImage, f, r)
		}
	}()
	return fn()
}

func decodeBytes(data []byte, opts []DecodeOption) (image.Image, error) {
	cfg := decodeConfig{maxPixels: DefaultMaxPixels}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty file", ErrCorruptImage)
	}
	f := sniffFormat(data)
	if f == formatUnknown {
		return nil, fmt.Errorf("%w: not a JPEG, PNG, GIF, WebP, BMP or TIFF file", ErrUnsupportedFormat)
	}
	ic, err := guard(f, func() (image.Config, error) { return decodeConfigOf(f, data) })
	if err != nil {
		return nil, classifyError(f, err)
	}
	if ic.Width <= 0 || ic.Height <= 0 {
		return nil, fmt.Errorf("%w (%s): header declares %dx%d pixels", ErrCorruptImage, f, ic.Width, ic.Height)
	}
	if n := int64(ic.Width) * int64(ic.Height); n > cfg.maxPixels {
		return nil, fmt.Errorf("%w: %s header declares %dx%d = %d pixels, limit %d",
			ErrTooLarge, f, ic.Width, ic.Height, n, cfg.maxPixels)
	}
	img, err := guard(f, func() (image.Image, error) { return decodeImageOf(f, data, ic, cfg.maxPixels) })
	if err != nil {
		return nil, classifyError(f, err)
	}
	if b := img.Bounds(); b.Empty() || int64(b.Dx())*int64(b.Dy()) > cfg.maxPixels {
		return nil, fmt.Errorf("%w (%s): decoded bounds %v", ErrCorruptImage, f, b)
	}
	if o := exifOrientation(f, data); o > 1 {
		img = orient(img, o)
	}
	return img, nil
}

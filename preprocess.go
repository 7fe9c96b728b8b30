package pinrec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"strings"
	"sync"

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

// PreprocessMode is the pixel normalisation a model expects, as Keras'
// imagenet_utils.preprocess_input defines it.
type PreprocessMode int

const (
	// ModeCaffe converts RGB to BGR and subtracts the ImageNet channel means
	// (103.939, 116.779, 123.68 in BGR order), without scaling. ResNet50 and
	// VGG use it. It is the zero value.
	ModeCaffe PreprocessMode = iota
	// ModeTF scales pixels to [-1, 1]: x/127.5 - 1 (MobileNet, Inception, Xception).
	ModeTF
	// ModeTorch scales pixels to [0, 1], then subtracts the ImageNet mean
	// (0.485, 0.456, 0.406) and divides by the standard deviation
	// (0.229, 0.224, 0.225), in RGB order (DenseNet).
	ModeTorch
)

// String returns "caffe", "tf" or "torch", the names Keras uses.
func (m PreprocessMode) String() string {
	switch m {
	case ModeCaffe:
		return "caffe"
	case ModeTF:
		return "tf"
	case ModeTorch:
		return "torch"
	}
	return fmt.Sprintf("PreprocessMode(%d)", int(m))
}

// ParsePreprocessMode parses the Keras name of a mode: "caffe", "tf" or
// "torch" (case-insensitive, surrounding spaces ignored).
func ParsePreprocessMode(s string) (PreprocessMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "caffe":
		return ModeCaffe, nil
	case "tf":
		return ModeTF, nil
	case "torch":
		return ModeTorch, nil
	}
	return 0, fmt.Errorf("pinrec: unknown preprocess mode %q (want caffe, tf or torch)", s)
}

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
		return jpeg.DecodeConfig(r)
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
		return jpeg.Decode(r)
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

// Preprocess turns img into a model input: RGB with alpha composited on white,
// resized to size x size (squashed, aspect ratio not kept, like Keras
// load_img(target_size=(size, size), interpolation="bilinear")) with a
// bilinear filter that reproduces Pillow's Image.resize(..., Image.BILINEAR)
// (antialiased: when shrinking, the triangle filter is widened by the scale
// factor), then normalised by mode as Keras' preprocess_input does. The result
// is NHWC row-major float32 of length size*size*3: pixel (x, y) channel c is at
// (y*size+x)*3+c, channels in BGR order for ModeCaffe and RGB order otherwise.
//
// Y'CbCr images (JPEG) are converted to RGB as libjpeg-turbo converts them for
// Pillow: subsampled chroma is upsampled with its "fancy" triangle filter, not
// replicated as image.YCbCr.At does. 16-bit samples keep their high byte, as
// Pillow does. The filter runs in float32 without Pillow's rounding to 8 bits
// after each pass. Against Pillow + preprocess_input on the same file, the
// difference is at most 1 (on the 0..255 scale) for losslessly stored images
// and about 3 for JPEG and lossy WebP, whose decoders are not bit-exact with
// libjpeg-turbo's and libwebp's (TestPreprocessMatchesPillow). Unlike Keras'
// load_img, DecodeFile applies the EXIF orientation, and alpha is composited
// on white rather than dropped.
//
// An image with empty bounds preprocesses as a white one. Preprocess is safe
// for concurrent use. It panics if size <= 0 or mode is not one of the Mode
// constants.
func Preprocess(img image.Image, size int, mode PreprocessMode) []float32 {
	if size <= 0 {
		panic(fmt.Sprintf("pinrec: Preprocess: size %d <= 0", size))
	}
	if mode != ModeCaffe && mode != ModeTF && mode != ModeTorch {
		panic(fmt.Sprintf("pinrec: Preprocess: unknown %v", mode))
	}
	dst := make([]float32, size*size*3)
	PreprocessInto(dst, img, size, mode)
	return dst
}

// PreprocessInto is Preprocess writing into dst[:size*size*3], for callers
// that fill a batch tensor in place; it allocates only small scratch buffers.
// It panics if size <= 0, len(dst) < size*size*3 or mode is not one of the
// Mode constants.
func PreprocessInto(dst []float32, img image.Image, size int, mode PreprocessMode) {
	if size <= 0 {
		panic(fmt.Sprintf("pinrec: PreprocessInto: size %d <= 0", size))
	}
	if mode != ModeCaffe && mode != ModeTF && mode != ModeTorch {
		panic(fmt.Sprintf("pinrec: PreprocessInto: unknown %v", mode))
	}
	n := size * size * 3
	if len(dst) < n {
		panic(fmt.Sprintf("pinrec: PreprocessInto: len(dst) = %d < %d", len(dst), n))
	}
	dst = dst[:n]
	b := img.Bounds()
	if b.Empty() {
		for i := range dst {
			dst[i] = 255
		}
	} else {
		resizeRGB(dst, img, b, size, size)
	}
	applyMode(dst, mode)
}

// applyMode normalises RGB values in [0, 255] in place.
func applyMode(v []float32, mode PreprocessMode) {
	switch mode {
	case ModeTF:
		for i := range v {
			v[i] = v[i]/127.5 - 1
		}
	case ModeTorch:
		mean := [3]float32{0.485, 0.456, 0.406}
		std := [3]float32{0.229, 0.224, 0.225}
		for i := 0; i+2 < len(v); i += 3 {
			p := v[i : i+3 : i+3]
			p[0] = (p[0]/255 - mean[0]) / std[0]
			p[1] = (p[1]/255 - mean[1]) / std[1]
			p[2] = (p[2]/255 - mean[2]) / std[2]
		}
	default: // ModeCaffe
		for i := 0; i+2 < len(v); i += 3 {
			p := v[i : i+3 : i+3]
			r, g, b := p[0], p[1], p[2]
			p[0] = b - 103.939
			p[1] = g - 116.779
			p[2] = r - 123.68
		}
	}
}

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

// rowReader returns a function that writes row y (0-based within b) of img
// into dst as 8-bit RGB with alpha composited on white. Common image types
// take fast paths that read their pixel slices directly.
func rowReader(img image.Image, b image.Rectangle) func(dst []uint8, y int) {
	w := b.Dx()
	switch m := img.(type) {
	case *image.YCbCr:
		if r := yccRowReader(m, nil, 0, b, &jpegYCC); r != nil {
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
				r, g, bl := color.CMYKToRGB(p[0], p[1], p[2], p[3])
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
		if r := yccRowReader(&m.YCbCr, m.A, m.AStride, b, &jpegYCC); r != nil {
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

// yccTables converts Y'CbCr to RGB the way a reference C decoder does, with
// integer tables: R = clamp((y[Y] + rCr[Cr]) >> shift),
// G = clamp((y[Y] + gCb[Cb] + gCr[Cr]) >> shift), B = clamp((y[Y] + bCb[Cb]) >> shift).
type yccTables struct {
	y, rCr, gCb, gCr, bCb [256]int32
	shift                 uint
}

// jpegYCC is libjpeg's full-range JFIF conversion (jdcolor.c, 16-bit fixed
// point), which Pillow uses; Go's color.YCbCrToRGB rounds differently.
// webpYCC is libwebp's BT.601 studio-swing conversion (dsp/yuv.h, 14-bit):
// golang.org/x/image/webp returns the planes as an image.YCbCr, whose At would
// wrongly read them as full range.
var jpegYCC, webpYCC yccTables

func init() {
	const half = 1 << 15
	fix := func(x float64) int32 { return int32(x*(1<<16) + 0.5) }
	jpegYCC.shift = 16
	webpYCC.shift = 6
	for i := int32(0); i < 256; i++ {
		x := i - 128
		jpegYCC.y[i] = i << 16
		jpegYCC.rCr[i] = ((fix(1.40200)*x + half) >> 16) << 16
		jpegYCC.bCb[i] = ((fix(1.77200)*x + half) >> 16) << 16
		jpegYCC.gCr[i] = -fix(0.71414) * x
		jpegYCC.gCb[i] = -fix(0.34414)*x + half

		webpYCC.y[i] = (i * 19077) >> 8
		webpYCC.rCr[i] = (i*26149)>>8 - 14234
		webpYCC.gCb[i] = -((i * 6419) >> 8)
		webpYCC.gCr[i] = -((i * 13320) >> 8) + 8708
		webpYCC.bCb[i] = (i*33050)>>8 - 17685
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

// yccRowReader is the row reader of a Y'CbCr image (with an optional alpha
// plane, composited on white). Subsampled chroma is upsampled as libjpeg-turbo
// does by default ("fancy upsampling", jdsample.c): a triangle filter, 3/4 of
// the nearer chroma sample and 1/4 of the next one, along each subsampled axis,
// with libjpeg's rounding and edge replication; 4:1:1 and 4:1:0 chroma, and
// chroma planes at most 2 samples wide, are replicated as libjpeg does too.
// It returns nil for geometries it does not handle (negative origins, unknown
// ratios), which take the generic path.
func yccRowReader(m *image.YCbCr, alpha []uint8, astride int, b image.Rectangle, t *yccTables) func(dst []uint8, y int) {
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
// column sums of yccRowReader: sample i covers pixels xoff + i<<hs onwards.
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
	read := yccRowReader(m, nil, 0, b, &webpYCC)
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

// toRGBA converts an opaque Y'CbCr image to RGBA through its fast row reader
// (libjpeg's upsampling and rounding); any other image through image/draw.
func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	if m, ok := img.(*image.YCbCr); ok {
		if read := yccRowReader(m, nil, 0, b, &jpegYCC); read != nil {
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

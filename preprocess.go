package pinrec

import (
	"fmt"
	"image"
	"strings"
)

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
// and for JPEGs in cgo builds, which decode them with libjpeg-turbo to Pillow's
// exact pixels (see JPEGDecoder); about 3 for JPEGs decoded by image/jpeg
// (CGO_ENABLED=0 or the nolibjpeg tag) and lossy WebP, whose decoders are not
// bit-exact with libjpeg-turbo's and libwebp's (TestPreprocessMatchesPillow).
// Unlike Keras' load_img, DecodeFile applies the EXIF orientation, and alpha
// is composited on white rather than dropped.
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

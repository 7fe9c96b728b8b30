// Package jpegturbo decodes JPEG files with libjpeg-turbo through cgo, with the settings Pillow
// uses (accurate integer inverse DCT, fancy chroma upsampling), so that the pixels equal those
// Pillow (and so Keras' load_img) gives for the same file, byte for byte.
//
// It needs cgo and libjpeg-turbo's headers and library (Debian: libjpeg62-turbo-dev). Built
// without cgo or with the nolibjpeg build tag, Available is false and every call returns
// ErrUnavailable; callers then fall back to a pure-Go decoder.
package jpegturbo

import (
	"errors"
	"fmt"
)

// ErrUnavailable is returned by every function in builds without libjpeg-turbo.
var ErrUnavailable = errors.New("jpegturbo: built without libjpeg-turbo")

// MaxScans bounds the scans of a progressive JPEG that Decode reads (libjpeg-turbo's own
// tools use the same kind of limit against files crafted to be slow).
const MaxScans = 500

// ColorModel is what a JPEG decodes to.
type ColorModel int

const (
	// RGB is a colour image (Y'CbCr or RGB in the file): Decode returns *image.RGBA.
	RGB ColorModel = iota
	// Gray is a one-component image: Decode returns *image.Gray.
	Gray
	// CMYK is a four-component image (CMYK or YCCK in the file): Decode returns *image.CMYK.
	CMYK
)

// Config is what a JPEG's header says.
type Config struct {
	Width, Height int
	Components    int
	ColorModel    ColorModel
	Progressive   bool
}

// Error is a decoding failure, with libjpeg's message.
type Error struct {
	Msg string
	// Unsupported is set when the file uses a feature this build does not decode (for
	// example 12-bit samples); otherwise the data is corrupt or truncated.
	Unsupported bool
	// TooLarge is set when the header declares more pixels than the caller's limit.
	TooLarge bool
	code     int
}

func (e *Error) Error() string {
	if e.code != 0 {
		return fmt.Sprintf("libjpeg-turbo: %s", e.Msg)
	}
	return "jpegturbo: " + e.Msg
}

// unsupportedCodes holds the libjpeg message codes (jerror.h) that mean the decoder lacks a
// feature rather than that the data is bad; the cgo file fills it.
var unsupportedCodes = map[int]bool{}

func unsupportedCode(code int) bool { return unsupportedCodes[code] }

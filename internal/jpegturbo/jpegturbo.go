//go:build cgo && !nolibjpeg

package jpegturbo

/*
#cgo LDFLAGS: -ljpeg
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>
#include <jerror.h>
#include "decode.h"
*/
import "C"

import (
	"fmt"
	"image"
	"unsafe"
)

// Available reports whether this build decodes with libjpeg-turbo (cgo, without the nolibjpeg
// build tag). When false, every function returns ErrUnavailable.
const Available = true

// Version is the libjpeg-turbo version the package was compiled against, e.g. "2.1.5".
var Version = C.GoString(C.pr_version())

// libjpeg's color spaces (J_COLOR_SPACE in jpeglib.h).
const (
	jcsGrayscale = 1
	jcsRGB       = 2
	jcsYCbCr     = 3
	jcsCMYK      = 4
	jcsYCCK      = 5
)

// Header reads the frame header of the JPEG in data, without decoding any pixel.
func Header(data []byte) (Config, error) {
	if len(data) == 0 {
		return Config{}, &Error{Msg: "empty input"}
	}
	var r C.pr_result
	if C.pr_header((*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), &r) != 0 {
		return Config{}, resultError(&r)
	}
	cfg := Config{
		Width:       int(r.width),
		Height:      int(r.height),
		Components:  int(r.components),
		Progressive: r.progressive != 0,
	}
	switch r.color_space {
	case jcsGrayscale:
		cfg.ColorModel = Gray
	case jcsCMYK, jcsYCCK:
		cfg.ColorModel = CMYK
	default:
		cfg.ColorModel = RGB
	}
	return cfg, nil
}

// Decode decodes the JPEG in data as Pillow does: libjpeg-turbo with the accurate integer
// inverse DCT (JDCT_ISLOW) and fancy chroma upsampling. The header is read first, and an image
// of more than maxPixels pixels (maxPixels > 0) fails with an *Error whose TooLarge is set
// before any pixel memory is allocated.
//
// The result is an *image.Gray for greyscale files, an *image.CMYK for CMYK and YCCK files
// (samples inverted as Pillow reads them: Adobe's convention, which is what every CMYK JPEG
// writer uses), and an *image.RGBA (alpha 255) for the rest. Errors are *Error values.
// Decode is safe for concurrent use.
func Decode(data []byte, maxPixels int64) (image.Image, error) {
	cfg, err := Header(data)
	if err != nil {
		return nil, err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, &Error{Msg: fmt.Sprintf("header declares %dx%d pixels", cfg.Width, cfg.Height)}
	}
	if n := int64(cfg.Width) * int64(cfg.Height); maxPixels > 0 && n > maxPixels {
		return nil, &Error{TooLarge: true, Msg: fmt.Sprintf("header declares %dx%d = %d pixels, limit %d", cfg.Width, cfg.Height, n, maxPixels)}
	}
	rect := image.Rect(0, 0, cfg.Width, cfg.Height)
	var (
		img  image.Image
		pix  []byte
		kind C.int
		str  int
	)
	switch cfg.ColorModel {
	case Gray:
		m := image.NewGray(rect)
		img, pix, str, kind = m, m.Pix, m.Stride, C.PR_OUT_GRAY
	case CMYK:
		m := image.NewCMYK(rect)
		img, pix, str, kind = m, m.Pix, m.Stride, C.PR_OUT_CMYK
	default:
		m := image.NewRGBA(rect)
		img, pix, str, kind = m, m.Pix, m.Stride, C.PR_OUT_RGBA
	}
	var r C.pr_result
	if C.pr_decode((*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)),
		(*C.uchar)(unsafe.Pointer(&pix[0])), C.int(str), C.int(cfg.Width), C.int(cfg.Height),
		kind, C.int(MaxScans), &r) != 0 {
		return nil, resultError(&r)
	}
	if cfg.ColorModel == CMYK {
		// libjpeg returns the stored samples; Pillow reads them as "CMYK;I" (inverted).
		for i := range pix {
			pix[i] = 255 - pix[i]
		}
	}
	return img, nil
}

func init() {
	for _, c := range []C.int{C.JERR_ARITH_NOTIMPL, C.JERR_BAD_PRECISION, C.JERR_CONVERSION_NOTIMPL, C.JERR_NOTIMPL, C.JERR_NOT_COMPILED} {
		unsupportedCodes[int(c)] = true
	}
}

// resultError turns a failed call's result into an *Error.
func resultError(r *C.pr_result) *Error {
	code := int(r.code)
	return &Error{
		Msg:         C.GoString(&r.msg[0]),
		Unsupported: unsupportedCode(code),
		code:        code,
	}
}

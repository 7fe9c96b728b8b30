package pinrec

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"

	"pinrec/internal/jpegturbo"
)

// JPEGDecoder names the JPEG decoder of this build: "libjpeg-turbo X.Y.Z" (cgo, the default),
// whose pixels equal Pillow's (TestDecodeJPEGMatchesPillow), or "image/jpeg" (built without cgo
// or with the nolibjpeg tag), Go's decoder, whose inverse DCT differs from libjpeg-turbo's by a
// few levels.
func JPEGDecoder() string {
	if jpegturbo.Available {
		return "libjpeg-turbo " + jpegturbo.Version
	}
	return "image/jpeg"
}

// useTurbo is false in tests that compare the two JPEG paths.
var useTurbo = jpegturbo.Available

// decodeJPEGConfig reads a JPEG header.
func decodeJPEGConfig(b []byte) (image.Config, error) {
	if !useTurbo {
		return jpeg.DecodeConfig(bytes.NewReader(b))
	}
	c, err := jpegturbo.Header(b)
	if err != nil {
		return image.Config{}, turboError(err)
	}
	m := color.Model(color.RGBAModel)
	switch c.ColorModel {
	case jpegturbo.Gray:
		m = color.GrayModel
	case jpegturbo.CMYK:
		m = color.CMYKModel
	}
	return image.Config{ColorModel: m, Width: c.Width, Height: c.Height}, nil
}

// decodeJPEG decodes a JPEG whose header has been checked against maxPixels: with libjpeg-turbo
// as Pillow does (an *image.RGBA, *image.Gray or *image.CMYK), or with image/jpeg.
func decodeJPEG(b []byte, maxPixels int64) (image.Image, error) {
	if !useTurbo {
		return jpeg.Decode(bytes.NewReader(b))
	}
	img, err := jpegturbo.Decode(b, maxPixels)
	if err != nil {
		return nil, turboError(err)
	}
	return img, nil
}

// turboError maps a jpegturbo error onto the package sentinels.
func turboError(err error) error {
	var e *jpegturbo.Error
	switch {
	case !errors.As(err, &e):
		return fmt.Errorf("%w (jpeg): %w", ErrCorruptImage, err)
	case e.TooLarge:
		return fmt.Errorf("%w: jpeg %s", ErrTooLarge, e.Msg)
	case e.Unsupported:
		return fmt.Errorf("%w (jpeg): %w", ErrUnsupportedFormat, err)
	}
	return fmt.Errorf("%w (jpeg): %w", ErrCorruptImage, err)
}

// cmykToRGB converts CMYK to RGB as Pillow's convert("RGB") does (libImaging/Convert.c
// cmyk2rgb): each channel is nk - c*nk/255 with nk = 255 - k, the product rounded by Pillow's
// MULDIV255. color.CMYKToRGB rounds differently (off by one in about 30% of colours).
func cmykToRGB(c, m, y, k uint8) (uint8, uint8, uint8) {
	nk := 255 - uint32(k)
	f := func(v uint8) uint8 {
		t := uint32(v)*nk + 128
		return uint8(nk - ((t>>8)+t)>>8)
	}
	return f(c), f(m), f(y)
}

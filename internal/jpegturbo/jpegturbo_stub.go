//go:build !cgo || nolibjpeg

package jpegturbo

import "image"

// Available reports whether this build decodes with libjpeg-turbo: it does not (no cgo, or the
// nolibjpeg build tag).
const Available = false

// Version is empty in builds without libjpeg-turbo.
var Version = ""

// Header returns ErrUnavailable in builds without libjpeg-turbo.
func Header(data []byte) (Config, error) { return Config{}, ErrUnavailable }

// Decode returns ErrUnavailable in builds without libjpeg-turbo.
func Decode(data []byte, maxPixels int64) (image.Image, error) { return nil, ErrUnavailable }

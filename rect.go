package pinrec

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"strconv"
	"strings"
)

// ErrBadRect is returned (wrapped) for a rectangle that cannot be used on an image: an empty
// one (width or height below 1), one with a negative corner, or one that reaches outside the
// image. Test it with [errors.Is].
var ErrBadRect = errors.New("pinrec: bad rectangle")

// Rect is a rectangle of an image in source pixels: X and Y are its top-left corner, counted from
// the image's top-left pixel (after the EXIF orientation that [Decode] applies), W and H its
// width and height. It is how crop queries, region items and collapsed search results name a
// part of an image. In JSON it is {"x":..,"y":..,"w":..,"h":..}.
type Rect struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

// String returns "x,y,w,h", the form [ParseRect] reads and region items record in their
// metadata (key [MetaBox]).
func (r Rect) String() string {
	return fmt.Sprintf("%d,%d,%d,%d", r.X, r.Y, r.W, r.H)
}

// ParseRect reads "x,y,w,h" (four integers separated by commas, spaces around them allowed).
// It checks the form only; [Rect.In] checks the rectangle against an image. Errors wrap
// [ErrBadRect].
func ParseRect(s string) (Rect, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return Rect{}, fmt.Errorf("%w: %q: want x,y,w,h", ErrBadRect, s)
	}
	var v [4]int
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return Rect{}, fmt.Errorf("%w: %q: want x,y,w,h as integers", ErrBadRect, s)
		}
		v[i] = n
	}
	r := Rect{X: v[0], Y: v[1], W: v[2], H: v[3]}
	if r.W < 1 || r.H < 1 {
		return Rect{}, fmt.Errorf("%w: %v is empty (width and height must be at least 1)", ErrBadRect, r)
	}
	if r.X < 0 || r.Y < 0 {
		return Rect{}, fmt.Errorf("%w: %v has a negative corner", ErrBadRect, r)
	}
	return r, nil
}

// In checks that r is a non-empty rectangle inside an image of the given width and height.
// The error wraps [ErrBadRect] and says what is wrong.
func (r Rect) In(width, height int) error {
	switch {
	case r.W < 1 || r.H < 1:
		return fmt.Errorf("%w: %v is empty (width and height must be at least 1)", ErrBadRect, r)
	case r.X < 0 || r.Y < 0:
		return fmt.Errorf("%w: %v has a negative corner", ErrBadRect, r)
	case r.X > width-r.W || r.Y > height-r.H: // r.W, r.H >= 1: no overflow
		return fmt.Errorf("%w: %v reaches outside the %dx%d image", ErrBadRect, r, width, height)
	}
	return nil
}

// Crop returns the part r of img as an image whose bounds are r moved by img.Bounds().Min (so
// r is in pixels from the image's top-left corner). The pixels are not copied: the result
// reads img, which must not change while it is in use.
//
// Preprocessing the result gives exactly what preprocessing the crop saved as a lossless file
// would give (the crop is taken before the resize, and colour conversion at the crop's edges
// uses the pixels around it, as a decoder of the whole file does). This is what a crop query
// embeds: [Embedder.EmbedCrop]. The error wraps [ErrBadRect] when r is empty, has a negative
// corner or reaches outside img.
func Crop(img image.Image, r Rect) (image.Image, error) {
	b := img.Bounds()
	if err := r.In(b.Dx(), b.Dy()); err != nil {
		return nil, err
	}
	return &cropImage{src: img, r: image.Rect(r.X, r.Y, r.X+r.W, r.Y+r.H).Add(b.Min)}, nil
}

// cropImage is a view of part of an image; rowReader reads its source directly over its bounds.
type cropImage struct {
	src image.Image
	r   image.Rectangle
}

func (c *cropImage) ColorModel() color.Model { return c.src.ColorModel() }
func (c *cropImage) Bounds() image.Rectangle { return c.r }
func (c *cropImage) At(x, y int) color.Color {
	if !(image.Point{x, y}).In(c.r) {
		return color.RGBA{}
	}
	return c.src.At(x, y)
}

package pinrec_test

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"

	"pinrec"
)

// Preprocess turns any image into the tensor a Keras ResNet50 expects:
// 224x224, NHWC, BGR with the ImageNet mean subtracted.
func ExamplePreprocess() {
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	orange := color.RGBA{R: 255, G: 128, B: 0, A: 255}
	draw.Draw(img, img.Bounds(), image.NewUniform(orange), image.Point{}, draw.Src)

	x := pinrec.Preprocess(img, 224, pinrec.ModeCaffe)
	fmt.Println(len(x))
	fmt.Printf("first pixel, B G R minus the ImageNet mean: %.3f %.3f %.3f\n", x[0], x[1], x[2])

	x = pinrec.Preprocess(img, 224, pinrec.ModeTF)
	fmt.Printf("same pixel in tf mode, R G B in [-1, 1]: %.3f %.3f %.3f\n", x[0], x[1], x[2])
	// Output:
	// 150528
	// first pixel, B G R minus the ImageNet mean: -103.939 11.221 131.320
	// same pixel in tf mode, R G B in [-1, 1]: 1.000 0.004 -1.000
}

// DecodeFile sniffs the format from the bytes and applies the EXIF
// orientation: this JPEG is stored 48x64 with Orientation 6 ("rotate 90°
// clockwise to display").
func ExampleDecodeFile() {
	img, err := pinrec.DecodeFile("testdata/images/edge/exif-orientation-6.jpg")
	if err != nil {
		fmt.Println(err)
		return
	}
	r, g, b, _ := img.At(4, 4).RGBA()
	fmt.Println("upright size:", img.Bounds().Size())
	fmt.Println("top-left is red:", r>>8 > 200 && g>>8 < 60 && b>>8 < 60)
	// Output:
	// upright size: (64,48)
	// top-left is red: true
}

// Bad files give errors that callers branch on with errors.Is. The header of
// this 69-byte PNG declares 40000x40000 pixels: it is refused before any pixel
// memory is allocated.
func ExampleDecodeFile_errors() {
	for _, path := range []string{
		"testdata/images/bad/huge-40000x40000.png",
		"testdata/images/bad/not-an-image.png",
		"testdata/images/bad/truncated.jpg",
	} {
		_, err := pinrec.DecodeFile(path)
		switch {
		case errors.Is(err, pinrec.ErrTooLarge):
			fmt.Println("too large:", path)
		case errors.Is(err, pinrec.ErrUnsupportedFormat):
			fmt.Println("not an image:", path)
		case errors.Is(err, pinrec.ErrCorruptImage):
			fmt.Println("corrupt:", path)
		}
	}
	// Output:
	// too large: testdata/images/bad/huge-40000x40000.png
	// not an image: testdata/images/bad/not-an-image.png
	// corrupt: testdata/images/bad/truncated.jpg
}

func ExampleParsePreprocessMode() {
	m, err := pinrec.ParsePreprocessMode("torch")
	fmt.Println(m, err)
	_, err = pinrec.ParsePreprocessMode("imagenet")
	fmt.Println(err)
	// Output:
	// torch <nil>
	// pinrec: unknown preprocess mode "imagenet" (want caffe, tf or torch)
}

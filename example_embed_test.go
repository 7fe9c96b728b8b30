//go:build cgo && !notensorflow

package pinrec_test

import (
	"context"
	"fmt"
	"log"
	"path/filepath"

	"pinrec"
)

// Open the model that `make setup` exports and embed one image file.
func ExampleNewEmbedder() {
	e, err := pinrec.NewEmbedder("models/resnet50", pinrec.WithTensorFlowThreads(2, 1), pinrec.WithBatchSize(8))
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	vec, err := e.EmbedFile(context.Background(), "testdata/images/ok/fabric-224x224.jpg")
	if err != nil {
		log.Fatal(err)
	}
	info := e.Info()
	fmt.Println(len(vec), e.Dim(), info.InputSize, info.Mode)
	// Output: 2048 2048 224 caffe
}

// Embed a folder of images (decoding overlaps inference), index them, and ask for the images
// most like one of them: "More like this".
func ExampleEmbedder_EmbedFiles() {
	e, err := pinrec.NewEmbedder("models/resnet50")
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	ctx := context.Background()
	paths, _ := filepath.Glob("testdata/images/ok/*.jpg")
	vecs, err := e.EmbedFiles(ctx, paths)
	if err != nil {
		// Files that failed to decode are named in err and have nil vectors; skip them.
		log.Print(err)
	}
	ix, err := pinrec.NewIndex(e.Dim())
	if err != nil {
		log.Fatal(err)
	}
	for i, v := range vecs {
		if v != nil {
			if err := ix.Add(pinrec.Item{ID: filepath.Base(paths[i]), Vector: v}); err != nil {
				log.Fatal(err)
			}
		}
	}
	ix.SetInfo("weights", e.Info().Weights)

	similar, err := ix.Similar(ctx, filepath.Base(paths[0]), 3)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("all indexed:", ix.Len() == len(paths), "- most similar:", len(similar))
	// Output: all indexed: true - most similar: 3
}

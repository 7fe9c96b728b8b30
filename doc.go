// Package pinrec is content-based image recommendation: Pinterest's "More like this".
//
// It turns every image into a ResNet50 embedding, keeps the vectors in an index, and for a
// query image returns the K most similar images by Euclidean distance.
//
// The pieces compose:
//
//   - [Embedder] runs a Keras ResNet50 SavedModel (no top, average pooled, 2048-d) through
//     TensorFlow's C library, with the Go bindings that github.com/galeone/tfgo is built on
//     (tfgo's own Model wrapper hides the serving signatures, panics on errors and closes its
//     session only from a finalizer, so pinrec drives the bindings itself and has a real
//     [Embedder.Close]). [NewEmbedder] opens the model folder
//     written by tools/export_model.py, which holds the SavedModel and a pinrec.json file naming
//     its input size, preprocessing mode and weights source.
//   - [DecodeFile] and [Preprocess] decode JPEG, PNG, GIF, WebP, BMP and TIFF, apply the EXIF
//     orientation, composite alpha on white, resize like Pillow's bilinear filter and apply
//     Keras' preprocess_input (caffe, tf or torch mode).
//   - [Index] is a flat float32 store with exact Euclidean top-K ([Index.Search],
//     [Index.SearchBatch], [Index.Similar]) over SIMD kernels (AVX2+FMA on amd64, portable Go
//     elsewhere or with the purego build tag).
//   - [Searcher] is what answers "more like this" over IDs ([Index] and the approximate and
//     remote indexes of other packages implement it); [Store] adds reading and changing items.
//     Searches take options: [WithFilter], [WithMeta], [WithWorkers], [WithEffort].
//   - [Index.Save] writes a documented, checksummed binary file atomically; [Load] reads it
//     back, optionally memory-mapped. [Index.SaveExtended] adds a kind-specific section (an
//     approximate graph, say) to the same file, and [Open] opens a file of any registered kind
//     ([RegisterKind]) as a Store.
//
// A typical program:
//
//	emb, err := pinrec.NewEmbedder("models/resnet50") // the folder make setup exports
//	if err != nil { ... }
//	defer emb.Close()
//	ix, _ := pinrec.NewIndex(emb.Dim())
//	for _, path := range paths {
//		vec, err := emb.EmbedFile(ctx, path)
//		if err != nil { log.Print(err); continue } // names the file and the reason
//		ix.Add(pinrec.Item{ID: path, Vector: vec})
//	}
//	q, _ := emb.EmbedFile(ctx, "query.jpg")
//	results, err := ix.Search(ctx, q, 5)
//
// # Errors and panics
//
// Errors wrap exported sentinels (ErrDimMismatch, ErrTooLarge, ErrChecksum, ...) that callers
// test with [errors.Is]; those about a file name it. Bad data never panics: corrupt index files,
// undecodable images, and bad vectors, queries or k return errors, and so does every method of
// a zero [Index]. Exactly these programmer errors panic, as their functions document:
//
//   - [Preprocess] and [PreprocessInto] with a size below 1 or a mode that is not one of the
//     Mode constants, and PreprocessInto with a dst shorter than size*size*3;
//   - [RegisterKind] with an invalid, "flat" or already registered kind, or a nil Opener (a
//     bug of the registering package, found when the program starts).
//
// A panic raised by a caller's own function ([WithFilter]) is raised again on the goroutine
// that called the search.
//
// # TensorFlow
//
// Only [Embedder] needs TensorFlow. Built with CGO_ENABLED=0 or the notensorflow build tag, the
// package has no cgo dependency, the index and image code work as usual, and [NewEmbedder]
// returns [ErrNoTensorFlow].
package pinrec

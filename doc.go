// Package pinrec is content-based image recommendation: Pinterest's "More like this".
//
// It turns every image into a ResNet50 embedding ([Embedder]), keeps the vectors in an index
// ([Index]), saves the index to one checksummed file ([Index.Save], [Load]), and for a query
// image or a pin returns the K most similar pins by Euclidean distance ([Index.Search],
// [Index.Similar]):
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
//	if err := ix.Save("pins.pinrec"); err != nil { ... }
//	q, _ := emb.EmbedFile(ctx, "query.jpg")
//	results, err := ix.Search(ctx, q, 5)
//
// The sections below follow that story; each names the types and functions it is about, so
// that the alphabetical list after this text can be read in that order.
//
// # Embedding images
//
// [NewEmbedder] opens a model folder written by tools/export_model.py: a Keras ResNet50
// SavedModel (no top, average pooled, 2048-d) and its pinrec.json ([ModelInfoFile], read
// alone by [ReadModelInfo] into a [ModelInfo]). The [Embedder] runs it through TensorFlow's C
// library with the Go bindings that github.com/galeone/tfgo is built on, driven directly so
// that errors are returned and [Embedder.Close] releases the session. [Embedder.EmbedFile],
// [Embedder.EmbedFiles], [Embedder.Embed] and [Embedder.EmbedStream] (one [EmbedResult] per
// file, a [FileError] for a bad one) overlap decoding with inference. Options:
// [WithBatchSize], [WithDecodeWorkers], [WithTensorFlowThreads], [WithFastMode] (bfloat16,
// [PrecisionFast]). [NewPixelEmbedder] is a baseline that needs no model.
//
// Thread and worker options follow one naming: Threads for TensorFlow's own thread pools,
// Workers for the goroutines pinrec runs ([WithDecodeWorkers], [WithWorkers]).
//
// # The index
//
// An [Index] holds [Item] values (an ID, a vector, metadata) in one float32 block and answers
// exact Euclidean top-K: [Index.Search], [Index.SearchBatch], [Index.Similar] (an item's
// neighbours, itself left out) and [Index.SearchAmong] (among given IDs), each returning
// [Result] values, nearest first, ties broken by insertion order. The distance kernels are
// AVX2+FMA on amd64 CPUs that have them and portable Go elsewhere or with the purego build
// tag. [NewIndex] takes [WithCapacity]; a zero Index is usable and takes its dimension from
// its first Add.
//
// # Any searcher
//
// [Searcher] is what answers "more like this" over IDs: [Index] implements it, and so do the
// approximate index of pinrec/ann and the Weaviate store of pinrec/weaviate; [Store] adds
// reading and changing items. Every search takes [SearchOption] values: [WithFilter],
// [WithMeta], [WithWorkers], [WithEffort] (gathered by [NewSearchParams] for implementers).
//
// # Files
//
// [Index.Save] writes the documented binary format ([FormatVersion]) atomically: a temporary
// file, fsync, rename, folder fsync. [Load] reads it back and checks a CRC-32C over the whole
// file, optionally memory-mapped ([WithMmap], [WithoutVectorChecksum]); [Index.WriteTo] and
// [ReadIndex] do the same over an io seam. A file may carry a kind-specific section after the
// vectors ([Extension]: [Index.SaveExtended], [LoadExtended]); [Open] opens a file of any kind
// registered with [RegisterKind] ([KindFlat] is this package's own) as a [Store].
//
// # Decoding and preprocessing
//
// [DecodeFile] and [Decode] read JPEG (libjpeg-turbo, as Pillow does; [JPEGDecoder] says
// which decoder is built in), PNG, GIF, WebP, BMP and TIFF, apply the EXIF orientation and
// composite alpha on white, refusing images over [DefaultMaxPixels] ([WithMaxPixels]).
// [Preprocess] resizes like Pillow's bilinear filter and applies Keras' preprocess_input
// ([PreprocessMode]: caffe, tf or torch). [Crop] cuts a [Rect] out of an image ([ParseRect]
// reads "x,y,w,h").
//
// # Objects inside pins
//
// With [WithRegions], [Embedder.EmbedStream] also reports each image's [Region] values: boxes
// proposed on the network's 7x7 [FeatureMap] by a [RegionProposer] ([DefaultProposer],
// [RMACProposer], [SCDAProposer], or a [ProposerFunc] of yours), each with a vector pooled over
// its cells ([Regions], [Embedder.EmbedFeatures]). [RegionItems] and [PutPin] store them as
// ordinary items beside their pin ([RegionID], [MetaKind], [MetaParent], [MetaBox]);
// [SearchPins] and [SimilarPins] search pins and region items and return each pin once
// ([CollapseRegions]); [RemovePins] removes a pin with its regions. [Embedder.EmbedCrop] embeds
// exactly a box of an image.
//
// # Concurrency
//
// [Embedder] and [Index] are safe for concurrent use by multiple goroutines; each type's
// documentation says what a call waits for. Options and results are plain values.
//
// # Errors and panics
//
// Errors wrap exported sentinels ([ErrDimMismatch], [ErrBadFormat], [ErrChecksum],
// [ErrNoTensorFlow], ...) that callers test with [errors.Is]; those about a file name it. Bad
// data never panics: corrupt index files, undecodable images, and bad vectors, queries or k
// return errors, and so does every method of a zero [Index]. Exactly these programmer errors
// panic, as their functions document:
//
//   - [Preprocess] and [PreprocessInto] with a size below 1 or a mode that is not one of the
//     Mode constants, and PreprocessInto with a dst shorter than size*size*3;
//   - [RegisterKind] with an invalid, "flat" or already registered kind, or a nil Opener (a
//     bug of the registering package, found when the program starts).
//
// A panic raised by a caller's own function ([WithFilter]) is raised again on the goroutine
// that called the search.
//
// # Build tags
//
// Only [Embedder] needs TensorFlow. Built with CGO_ENABLED=0 or the notensorflow build tag, the
// package has no cgo dependency, the index and image code work as usual, and [NewEmbedder]
// returns [ErrNoTensorFlow]. The nolibjpeg tag (or CGO_ENABLED=0) decodes JPEG with Go's
// image/jpeg instead of libjpeg-turbo; the purego tag uses the portable distance kernels.
package pinrec

// Package dupes finds near-duplicate pictures in a pinrec index: the same picture re-pinned,
// resized, recompressed, cropped, brightened or captioned, which search would otherwise return
// several times.
//
// [Find] groups a whole collection by a self-join through the store's own search: every item's
// nearest neighbours within a distance threshold, then union-find into groups (connected
// components of the "within the threshold" graph). Through an approximate index ([pinrec/ann])
// this costs one approximate search per item; through the exact [pinrec.Index] it shares
// passes over the vectors between batches of queries. Neither builds an n x n matrix: memory
// grows with n*k.
//
// The threshold is a Euclidean distance between embeddings, in the same units as search
// results' distances. It is given ([WithThreshold]) or calibrated from the data ([Calibrate]):
// from the distribution of every item's distance to its nearest other item, where
// near-duplicates form a low mode far below the distances between distinct pictures. The
// [Calibration] in every [Report] says which rule chose the threshold and from which figures.
//
// Exact duplicates are reported apart from near ones: the same bytes (equal content hashes in
// the items' metadata, [MetaHash]) or the same pixels as far as the embedding can tell
// (bit-identical vectors). [Check] answers the same question for one new vector against an
// index, and [Collapse] hides near-duplicates of higher-ranked results in a result list
// ("3 similar hidden"), keeping them retrievable.
//
// Every function is safe for concurrent use with searches on the same store; results reflect
// the store as it was while they ran (a concurrent Add may or may not be seen).
package dupes

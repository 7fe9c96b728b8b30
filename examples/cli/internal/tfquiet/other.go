//go:build !linux || !cgo || notensorflow

package tfquiet

// Do runs fn. Builds without TensorFlow, or outside Linux, capture nothing.
func Do(fn func()) { fn() }

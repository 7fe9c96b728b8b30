package crc32c

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCombine checks Combine against the checksum of the whole, for splits at every kind of
// boundary, empty parts included.
func TestCombine(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, split := range []int{0, 1, 3, 4, 100, 2500, 4999, 5000} {
		a, b := data[:split], data[split:]
		got := Combine(crc32.Checksum(a, Table), crc32.Checksum(b, Table), int64(len(b)))
		require.Equal(t, crc32.Checksum(data, Table), got, "split %d", split)
	}
	// Three parts, combined left to right.
	a, b, c := data[:7], data[7:4000], data[4000:]
	ab := Combine(crc32.Checksum(a, Table), crc32.Checksum(b, Table), int64(len(b)))
	require.Equal(t, crc32.Checksum(data, Table), Combine(ab, crc32.Checksum(c, Table), int64(len(c))))
}

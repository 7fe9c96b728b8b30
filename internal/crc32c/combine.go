// Package crc32c combines CRC-32C (Castagnoli) checksums of consecutive blocks, so that blocks
// checksummed in parallel give the checksum of the whole.
package crc32c

import "hash/crc32"

// Table is the CRC-32C table of package hash/crc32.
var Table = crc32.MakeTable(crc32.Castagnoli)

// Combine returns the CRC-32C of A followed by B from crcA, crcB and len(B) (zlib's
// crc32_combine: crcA times x^(8*lenB) modulo the polynomial, plus crcB, in GF(2)).
func Combine(crcA, crcB uint32, lenB int64) uint32 {
	if lenB <= 0 {
		return crcA
	}
	var even, odd [32]uint32 // operators: even and odd powers of two zero bits
	odd[0] = crc32.Castagnoli
	for n, row := 1, uint32(1); n < 32; n, row = n+1, row<<1 {
		odd[n] = row
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd)
		if lenB&1 != 0 {
			crcA = gf2Times(&even, crcA)
		}
		if lenB >>= 1; lenB == 0 {
			break
		}
		gf2Square(&odd, &even)
		if lenB&1 != 0 {
			crcA = gf2Times(&odd, crcA)
		}
		if lenB >>= 1; lenB == 0 {
			break
		}
	}
	return crcA ^ crcB
}

func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[32]uint32) {
	for n := range 32 {
		square[n] = gf2Times(mat, mat[n])
	}
}

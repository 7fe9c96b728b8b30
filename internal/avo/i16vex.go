package main

// The AVX-VNNI int16 tiles: i16vexR<r>Q<q> (r <= 4, q <= 3) compute what i16R<r>Q<q> does
// (see i16.go), with the VEX-encoded 256-bit VPDPWSSD of AVX-VNNI, which CPUs without AVX-512
// have (Intel cores since Alder Lake, Sierra Forest; AMD Zen 5 has it beside AVX512_VNNI).
// VPDPWSSD multiplies 16 pairs of codes, adds neighbours and accumulates into 8 int32 lanes in
// one instruction, without VPMADDWD's temporary register, so a tile of 4 rows x 3 queries fits
// the 16 YMM registers: 12 accumulators, 3 query registers and 1 row register, 7 loads for
// 12 instructions (the AVX2 tile: 3 x 3, 6 loads for 9 VPMADDWD and 9 VPADDD). Each lane
// sums at most 2048/8 = 256 products per chunk, as in the AVX2 tiles, and the reduction is
// theirs: the sums are exact.
//
// The Go assembler encodes VPDPWSSD only in its EVEX (AVX512_VNNI) form, which faults on a CPU
// without AVX-512, so the kernels are written with fixed registers and each VPDPWSSD is
// emitted as its five VEX bytes (vexVPDPWSSD), with the instruction in a comment beside them.

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

const (
	i16vexRows    = 4
	i16vexQueries = 3
)

func genI16VEX() {
	for r := 1; r <= i16vexRows; r++ {
		for q := 1; q <= i16vexQueries; q++ {
			i16VEXTile(r, q)
		}
	}
}

// ymm returns YMM register i (0..15).
func ymm(i int) reg.VecPhysical {
	return []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7,
		reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15}[i]
}

// vexVPDPWSSD emits VPDPWSSD Y<b>, Y<a>, Y<acc> (Go operand order: acc += the pairwise
// products of a and b, summed in neighbours) in its VEX encoding, VEX.256.66.0F38.W0 52 /r:
// C4, then R̄X̄B̄ and the map 0F38, then W=0, the inverted register a, L=1 and the prefix 66,
// then the opcode and ModRM (register form: acc in reg, b in rm).
func vexVPDPWSSD(b, a, acc int) {
	inv := func(r int) byte { // the inverted fourth bit of a register number
		if r >= 8 {
			return 0
		}
		return 1
	}
	bytes := []byte{
		0xC4,
		inv(acc)<<7 | 1<<6 | inv(b)<<5 | 0x02,
		byte(^a&15)<<3 | 1<<2 | 0x01,
		0x52,
		0xC0 | byte(acc&7)<<3 | byte(b&7),
	}
	Comment(fmt.Sprintf("VPDPWSSD Y%d, Y%d, Y%d (AVX-VNNI, VEX)", b, a, acc))
	for _, x := range bytes {
		Instruction(&ir.Instruction{Opcode: "BYTE", Operands: []Op{U8(x)}})
	}
}

func i16VEXTile(nr, nq int) {
	name := fmt.Sprintf("i16vexR%dQ%d", nr, nq)
	TEXT(name, NOSPLIT, "func(x []int16, xs int, q []int16, qs int, n int, out []float64, os int, add int)")
	Doc(
		fmt.Sprintf("%s computes out[j*os+i] = Σ_{t<n} x[i*xs+t] * q[j*qs+t] for i < %d, j < %d,", name, nr, nq),
		"exactly, or with add != 0 adds the sum to out[j*os+i], with AVX-VNNI. n is a multiple of 32, at most",
		"2048; codes are in [-2047, 2047]. The caller guarantees that every element it reads or writes is in bounds.",
	)
	// Fixed registers: accumulator (i, j) is Y(i*nq+j), query j is Y(12+j), the row Y15.
	acc := func(i, j int) int { return i*nq + j }
	const qreg, xreg = 12, 15

	xp := strided("x", "xs", nr, 1)
	qp := strided("q", "qs", nq, 1)
	n := Load(Param("n"), GP64())
	for i := range nr {
		for j := range nq {
			a := ymm(acc(i, j))
			VPXOR(a, a, a)
		}
	}
	off := GP64()
	XORQ(off, off)
	blocks := GP64()
	MOVQ(n, blocks)
	SHRQ(U8(4), blocks) // 16 codes per 32 bytes
	TESTQ(blocks, blocks)
	JZ(LabelRef(name + "_reduce"))

	Label(name + "_loop")
	for j := range nq {
		VMOVDQU(Mem{Base: qp[j], Index: off, Scale: 1}, ymm(qreg+j))
	}
	for i := range nr {
		VMOVDQU(Mem{Base: xp[i], Index: off, Scale: 1}, ymm(xreg))
		for j := range nq {
			vexVPDPWSSD(xreg, qreg+j, acc(i, j))
		}
	}
	ADDQ(U8(32), off)
	DECQ(blocks)
	JNZ(LabelRef(name + "_loop"))

	Label(name + "_reduce")
	op := Load(Param("out").Base(), GP64())
	os := Load(Param("os"), GP64())
	SHLQ(U8(3), os)
	add := Load(Param("add"), GP64())
	// Each pair is reduced in Y12-Y14 (free after the loop) and stored, or added to out, at once.
	for _, adding := range []bool{false, true} {
		if adding {
			Label(name + "_add")
		} else {
			TESTQ(add, add)
			JNZ(LabelRef(name + "_add"))
		}
		p := GP64()
		MOVQ(op, p)
		for j := range nq {
			for i := range nr {
				a := ymm(acc(i, j))
				l, d, h := reg.X12, reg.Y13, reg.X14
				VEXTRACTI128(U8(1), a, l)
				VPADDD(l, a.AsX(), l) // 4 int32 lanes of at most 512 products
				VCVTDQ2PD(l, d)
				VEXTRACTF128(U8(1), d, h)
				VADDPD(h, d.AsX(), d.AsX())
				VPERMILPD(U8(1), d.AsX(), h)
				VADDSD(h, d.AsX(), d.AsX())
				if adding {
					VADDSD(Mem{Base: p, Disp: 8 * i}, d.AsX(), d.AsX())
				}
				VMOVSD(d.AsX(), Mem{Base: p, Disp: 8 * i})
			}
			if j+1 < nq {
				ADDQ(os, p)
			}
		}
		VZEROUPPER()
		RET()
	}
}

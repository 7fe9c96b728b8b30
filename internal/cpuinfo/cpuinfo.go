// Package cpuinfo names the processor and the instruction-set features that change pinrec's code
// paths, so that a test log, `pinrec version` or a benchmark can say which machine a figure came
// from: the distance kernels (AVX2 and FMA, AVX-512F, and for the int16 tiles of batches
// AVX512BW, AVX512_VNNI and AVX_VNNI) and TensorFlow's fast mode, whose bfloat16
// rewrite only runs natively with AVX512_BF16 or AMX-BF16.
package cpuinfo

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/cpu"
)

// Info is what this package reports about the running machine.
type Info struct {
	// Model is the processor's model name ("model name" in /proc/cpuinfo on Linux), or
	// GOARCH when the operating system does not say.
	Model string
	// Features lists, in a fixed order, the features of those pinrec cares about that the CPU
	// has: avx2, fma, avx512f, avx512bw, avx512_vnni, avx_vnni, avx512_bf16, amx_tile, amx_bf16.
	Features []string
	// NativeBF16 is true when the CPU computes in bfloat16 natively (AVX512_BF16 or AMX-BF16):
	// only then does the Embedder's fast mode run in bfloat16.
	NativeBF16 bool
	// CPUs is the number of logical CPUs usable by this process.
	CPUs int
}

// Read reports the running machine. It never fails: what cannot be read is left out.
func Read() Info {
	x := cpu.X86
	feats := []struct {
		name string
		has  bool
	}{
		{"avx2", x.HasAVX2},
		{"fma", x.HasFMA},
		{"avx512f", x.HasAVX512F},
		{"avx512bw", x.HasAVX512BW},
		{"avx512_vnni", x.HasAVX512VNNI},
		{"avx_vnni", x.HasAVXVNNI},
		{"avx512_bf16", x.HasAVX512BF16},
		{"amx_tile", x.HasAMXTile},
		{"amx_bf16", x.HasAMXBF16},
	}
	info := Info{Model: modelName(), CPUs: runtime.NumCPU(), NativeBF16: x.HasAVX512BF16 || x.HasAMXBF16}
	for _, f := range feats {
		if f.has {
			info.Features = append(info.Features, f.name)
		}
	}
	return info
}

// String is one line: the model, the logical CPU count and the features, as
// "AMD EPYC 9B45 (2 CPUs; avx2 fma avx512f avx512bw avx512_vnni avx_vnni avx512_bf16)".
func (i Info) String() string {
	feats := strings.Join(i.Features, " ")
	if feats == "" {
		feats = "none of avx2 fma avx512f avx512bw avx512_vnni avx_vnni avx512_bf16 amx"
	}
	return fmt.Sprintf("%s (%d CPUs; %s)", i.Model, i.CPUs, feats)
}

// modelName reads the first "model name" line of /proc/cpuinfo.
func modelName() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
	}
	return runtime.GOARCH
}

package cpuinfo

import (
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRead checks Read against /proc/cpuinfo's own flags line, an independent reading of the
// same facts (Linux only; elsewhere it checks the fallbacks).
func TestRead(t *testing.T) {
	info := Read()
	t.Logf("cpu: %s", info)
	require.NotEmpty(t, info.Model)
	require.Equal(t, runtime.NumCPU(), info.CPUs)
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil || runtime.GOARCH != "amd64" {
		require.Empty(t, info.Features, "no /proc/cpuinfo or not amd64: no x86 features")
		return
	}
	var flags map[string]bool
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
			flags = map[string]bool{}
			for _, f := range strings.Fields(v) {
				flags[f] = true
			}
			break
		}
	}
	require.NotNil(t, flags, "/proc/cpuinfo has no flags line")
	for _, f := range []string{"avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16"} {
		require.Equalf(t, flags[f], slices.Contains(info.Features, f), "feature %s: /proc/cpuinfo and Read disagree", f)
	}
	require.Equal(t, flags["avx512_bf16"] || flags["amx_bf16"], info.NativeBF16)
	require.Contains(t, info.String(), info.Model)
}

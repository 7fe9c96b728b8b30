package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"pinrec/internal/cpuinfo"
)

// TestVersion checks that `pinrec version` names this machine's CPU and the features that
// change pinrec's paths, as cpuinfo reads them (itself tested against /proc/cpuinfo).
func TestVersion(t *testing.T) {
	want := cpuinfo.Read()
	r := cli(t, "", "version")
	require.Equal(t, 0, r.code, r.stderr)
	out := strings.Join(lines(r.stdout), "\n")
	require.Contains(t, out, "cpu: "+want.String())
	if want.NativeBF16 {
		require.Contains(t, out, "fast mode: runs in bfloat16")
	} else {
		require.Contains(t, out, "fast mode: no effect")
	}

	r = cli(t, "", "version", "-json")
	require.Equal(t, 0, r.code, r.stderr)
	var v versionInfo
	require.NoError(t, json.Unmarshal([]byte(strings.Join(lines(r.stdout), "\n")), &v))
	require.Equal(t, want.Model, v.CPU)
	require.Equal(t, want.CPUs, v.CPUs)
	require.ElementsMatch(t, want.Features, v.Features)
	require.Contains(t, v.Go, "go")

	r = cli(t, "", "version", "extra")
	require.Equal(t, 2, r.code, "a stray argument is a usage error")
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"pinrec/internal/cpuinfo"
)

// versionInfo is what `pinrec version` prints: enough to trace any figure to its build and machine.
type versionInfo struct {
	Version  string   `json:"version"`
	Go       string   `json:"go"`
	Platform string   `json:"platform"`
	CPU      string   `json:"cpu"`
	CPUs     int      `json:"cpus"`
	Features []string `json:"cpu_features"`
	// FastMode says what -fast does on this CPU.
	FastMode string `json:"fast_mode"`
}

func runVersion(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet("version", "[-json]", stdout)
	asJSON := fs.Bool("json", false, "print one JSON object")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	cpu := cpuinfo.Read()
	v := versionInfo{Version: "(devel)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		CPU: cpu.Model, CPUs: cpu.CPUs, Features: cpu.Features}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v.Version = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v.Version += " " + s.Value[:12]
			}
		}
	}
	switch {
	case cpu.NativeBF16:
		v.FastMode = "runs in bfloat16 on this CPU (native AVX512_BF16 or AMX-BF16)"
	default:
		v.FastMode = "no effect on this CPU (no native bfloat16): vectors stay float32"
	}
	if v.Features == nil {
		v.Features = []string{}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	fmt.Fprintf(stdout, "pinrec %s (%s, %s)\n", v.Version, v.Go, v.Platform)
	fmt.Fprintf(stdout, "cpu: %s\n", cpu)
	fmt.Fprintf(stdout, "fast mode: %s\n", v.FastMode)
	return nil
}

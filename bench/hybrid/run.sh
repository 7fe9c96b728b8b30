#!/usr/bin/env bash
# make bench-hybrid: a SIMULATION (no real engagement data exists here). Writes the 10,000
# Fashion-MNIST test images as PNG folders (examples/fashionmnist, as tools/demo.sh does),
# indexes them with the raw-pixel embedding (pinrec index -embedding pixels: 16x16 RGB,
# which beats the random-weight ResNet50 on these images, README), then runs
# bench/hybrid: simulated users save pins, part of each user's saves is held out,
# and visual-only and hybrid ranking are compared at finding them. Ends with name=value lines.
set -euo pipefail
cd "$(dirname "$0")/../.."

data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
out=.cache/bench-hybrid
bin=bin/pinrec
[ -x "$bin" ] || { echo "bench-hybrid: $bin is missing: run make build" >&2; exit 1; }
mkdir -p "$out"
echo "== uptime: $(uptime)"
go run ./examples/fashionmnist -dir "$data" -split test -per-class 1000 -out "$out/images"
"$bin" index -embedding pixels -index "$out/pixels.pinrec" "$out/images"
go build -o "$out/simbench" ./bench/hybrid
"$out/simbench" -index "$out/pixels.pinrec" -work "$out" "$@"
echo "== uptime: $(uptime)"

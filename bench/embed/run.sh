#!/usr/bin/env bash
# Side-by-side speed of the whole embedding path (decode, resize to 224x224, ResNet50) on the same
# images and the same SavedModel, with the same TensorFlow thread settings:
#   Go      pinrec's EmbedFiles (bench/embed/main.go): decoding and preprocessing in goroutines while
#           the TensorFlow session runs the previous batch;
#   Python  Keras: keras.utils.load_img (Pillow), preprocess_input, model(x) (bench/embed/embed_keras.py).
# Batch 1 and batch 8, best of BENCH_REPEAT passes. `make bench-embed` runs it from the repo root.
# Two more rows explain where the difference comes from: go_serial_* is Go without the overlap
# (decode a batch, then run it), savedmodel_* is Python calling the SavedModel's serving signature
# (the graph Go runs) instead of Keras' layers. *_cpu_ms_per_img is the least CPU time (all threads)
# per image, steadier than the rates on a busy machine.
#
# Environment: BENCH_IMAGES (folder; default: 64 generated 640x480 JPEGs under .cache/),
# BENCH_INTRA / BENCH_INTER (TensorFlow threads; default: the number of cores / 1),
# BENCH_BATCH (default 1,8), BENCH_REPEAT (default 3), BENCH_SERIAL and BENCH_SAVEDMODEL (default 1;
# empty skips those rows), PINREC_MODEL, PINREC_PYTHON. Takes several minutes (Keras at batch 1 is slow).
#
# The last lines are name=value pairs; embed_ratio_vs_keras is Go's best images/s over Keras' best
# (each at its best batch size); the per-batch ratios come just before it.
#
# Fast mode and decoders (BENCH_FAST=1, the default; empty skips): the fast mode (WithFastMode, oneDNN
# bfloat16 auto mixed precision) against float32 at the last batch size, fast_mode_speedup,
# fast_mode_worst_cosine, fast_mode_discriminative_ratio, and whether the answers change: each
# picture's top-10 among the others, on the photos and on 1,000 distinct Fashion-MNIST pins
# (BENCH_FAST_PINS, a folder; default: the demo's sample, written under .cache/), ending with
# fast_mode_top10_overlap (the pins') and fast_mode_speedup; the network alone on decoded inputs,
# inference_gflop_s, against cpu_peak_gflop_s = cores x clock (/proc/cpuinfo "cpu MHz") x FLOP per
# cycle per core (32: two 256-bit FMA pipes x 8 floats x 2; 64 when the CPU has AVX-512F, taken
# as two 512-bit FMA pipes); and the JPEG decoders: jpeg_max_abs_diff_vs_pillow (DecodeFile's
# pixels against Pillow's on every test JPEG, TestDecodeJPEGMatchesPillow), and
# decode_ms_per_mpixel_go / decode_ms_per_mpixel_turbo (image/jpeg and libjpeg-turbo, each up to
# RGB pixels, on a 640x480 photo, BenchmarkDecodeJPEG).
set -euo pipefail
cd "$(dirname "$0")/../.."
py=${PINREC_PYTHON:-.venv/bin/python}
model=${PINREC_MODEL:-models/resnet50}
intra=${BENCH_INTRA:-$(nproc)}
inter=${BENCH_INTER:-1}
batch=${BENCH_BATCH:-1,8}
repeat=${BENCH_REPEAT:-3}
serial=${BENCH_SERIAL-1}
savedmodel=${BENCH_SAVEDMODEL-1}
fast=${BENCH_FAST-1}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
if [ -z "${CGO_CFLAGS:-}" ] && [ -f .venv/tf/env.sh ]; then . .venv/tf/env.sh; fi
quiet() { grep -v -E 'oneDNN|absl::InitializeLog|cpu_feature_guard|AVX|rebuild TensorFlow' >&2 || true; }

images=${BENCH_IMAGES:-}
if [ -z "$images" ]; then
  images=.cache/bench-embed-images
  if [ "$(ls "$images" 2>/dev/null | wc -l)" -ne 64 ]; then
    rm -rf "$images"
    "$py" bench/embed/embed_keras.py make-images "$images" 64
  fi
fi
n=$(ls "$images" | wc -l)
weights=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["weights"])' "$model/pinrec.json")
echo "bench-embed: $n images in $images, model $model ($weights), TensorFlow threads intra=$intra inter=$inter, batch $batch, best of $repeat, $(nproc) cores"

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/benchembed" ./bench/embed

out=$(mktemp)
trap 'rm -rf "$bin" "$out"' EXIT
echo "bench-embed: Go (pinrec, bench/embed)"
pins=
if [ -n "$fast" ]; then
  # The fast mode's answers on distinct pins: the demo's sample of Fashion-MNIST (100 per class).
  pins=${BENCH_FAST_PINS:-.cache/bench-embed-pins}
  if [ -z "${BENCH_FAST_PINS:-}" ] && [ "$(find "$pins" -name '*.png' 2>/dev/null | wc -l)" -ne 1000 ]; then
    go run ./examples/fashionmnist -split test -per-class 100 -out "$pins" >/dev/null
  fi
fi
"$bin/benchembed" -model "$model" -images "$images" -intra "$intra" -inter "$inter" -batch "$batch" -repeat "$repeat" ${serial:+-serial} ${fast:+-fast} ${pins:+-fidelity-images "$pins"} 2> >(quiet) | tee -a "$out"
echo "bench-embed: Python (Keras, bench/embed/embed_keras.py)"
"$py" bench/embed/embed_keras.py keras --model "$model" --images "$images" --intra "$intra" --inter "$inter" --batch "$batch" --repeat "$repeat" ${savedmodel:+--savedmodel} 2> >(quiet) | tee -a "$out"

"$py" - "$out" "$batch" <<'PY'
import sys
vals = dict(l.strip().split("=", 1) for l in open(sys.argv[1]) if "=" in l)
batches = sys.argv[2].split(",")
go = {b: float(vals[f"go_b{b}_img_s"]) for b in batches}
kr = {b: float(vals[f"keras_b{b}_img_s"]) for b in batches}
for b in batches:
    if f"savedmodel_b{b}_img_s" in vals:
        print(f"embed_ratio_vs_python_savedmodel_b{b}={go[b] / float(vals[f'savedmodel_b{b}_img_s']):.3f}")
for b in batches:
    print(f"embed_ratio_vs_keras_b{b}={go[b] / kr[b]:.3f}")
print(f"go_img_s={max(go.values()):.3f}")
print(f"keras_img_s={max(kr.values()):.3f}")
print(f"embed_ratio_vs_keras={max(go.values()) / max(kr.values()):.3f}")
PY

echo "bench-embed: JPEG decoding (jpeg_test.go: TestDecodeJPEGMatchesPillow, BenchmarkDecodeJPEG)"
go test -count=1 -run '^TestDecodeJPEGMatchesPillow$' -v . 2>&1 | sed -n 's/.*\(jpeg_max_abs_diff_vs_pillow[_a-z]*=[0-9]*\).*/\1/p'
go test -count=1 -run '^$' -bench '^BenchmarkDecodeJPEG$' -benchtime 40x . 2>&1 |
  awk '/^BenchmarkDecodeJPEG\//{split($1, a, "/"); sub(/-[0-9]+$/, "", a[2]); for (i = 2; i < NF; i++) if ($(i+1) == "ms/Mpixel") printf "decode_ms_per_mpixel_%s=%s\n", a[2], $i}'
if [ -n "$fast" ]; then
  "$py" - "$out" <<'PY'
import os, re, sys
vals = dict(l.strip().split("=", 1) for l in open(sys.argv[1]) if "=" in l)
flags = open("/proc/cpuinfo").read()
mhz = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([0-9.]+)", flags, re.M)]
per_cycle = 64 if re.search(r"\bavx512f\b", flags) else 32
peak = len(mhz) * (sum(mhz) / len(mhz)) / 1000 * per_cycle
print(f"cpu_peak_gflop_s={peak:.1f}")
if "inference_gflop_s" in vals:
    print(f"inference_peak_fraction={float(vals['inference_gflop_s']) / peak:.3f}")
print(f"cpu={vals.get('cpu', '?')}")
print(f"fast_mode_top10_overlap={vals.get('fast_mode_pins_top10_overlap', vals.get('fast_mode_photos_top10_overlap'))}")
print(f"fast_mode_speedup={vals['fast_mode_speedup']}")
PY
fi

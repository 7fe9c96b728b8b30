#!/usr/bin/env bash
# Side-by-side speed of the whole embedding path (decode, resize to 224x224, ResNet50) on the same
# images and the same SavedModel, with the same TensorFlow thread settings:
#   Go      pinrec's EmbedFiles (tools/benchembed): decoding and preprocessing in goroutines while
#           the TensorFlow session runs the previous batch;
#   Python  Keras: keras.utils.load_img (Pillow), preprocess_input, model(x) (tools/bench_embed.py).
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
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PINREC_PYTHON:-.venv/bin/python}
model=${PINREC_MODEL:-models/resnet50}
intra=${BENCH_INTRA:-$(nproc)}
inter=${BENCH_INTER:-1}
batch=${BENCH_BATCH:-1,8}
repeat=${BENCH_REPEAT:-3}
serial=${BENCH_SERIAL-1}
savedmodel=${BENCH_SAVEDMODEL-1}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
if [ -z "${CGO_CFLAGS:-}" ] && [ -f .venv/tf/env.sh ]; then . .venv/tf/env.sh; fi
quiet() { grep -v -E 'oneDNN|absl::InitializeLog|cpu_feature_guard|AVX|rebuild TensorFlow' >&2 || true; }

images=${BENCH_IMAGES:-}
if [ -z "$images" ]; then
  images=.cache/bench-embed-images
  if [ "$(ls "$images" 2>/dev/null | wc -l)" -ne 64 ]; then
    rm -rf "$images"
    "$py" tools/bench_embed.py make-images "$images" 64
  fi
fi
n=$(ls "$images" | wc -l)
weights=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["weights"])' "$model/pinrec.json")
echo "bench-embed: $n images in $images, model $model ($weights), TensorFlow threads intra=$intra inter=$inter, batch $batch, best of $repeat, $(nproc) cores"

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/benchembed" ./tools/benchembed

out=$(mktemp)
trap 'rm -rf "$bin" "$out"' EXIT
echo "bench-embed: Go (pinrec, tools/benchembed)"
"$bin/benchembed" -model "$model" -images "$images" -intra "$intra" -inter "$inter" -batch "$batch" -repeat "$repeat" ${serial:+-serial} 2> >(quiet) | tee -a "$out"
echo "bench-embed: Python (Keras, tools/bench_embed.py)"
"$py" tools/bench_embed.py keras --model "$model" --images "$images" --intra "$intra" --inter "$inter" --batch "$batch" --repeat "$repeat" ${savedmodel:+--savedmodel} 2> >(quiet) | tee -a "$out"

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

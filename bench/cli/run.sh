#!/usr/bin/env bash
# Indexing throughput of `pinrec index` against the seed's Python way (bench/cli/cli_python.py:
# keras load_img, preprocess_input and model.predict per image) on the demo's 1,000 Fashion-MNIST
# images, with the same SavedModel and the same TensorFlow thread pools. Each side does one
# full run over the images, best of 3. make bench-cli runs it after make build and make dataset.
#
# pinrec is timed end to end (process start, model load, walk, decode, inference, save: a fresh
# index every run); Python only over its loop (its import and model load are left out), so the
# ratio is, if anything, in Python's favour.
#
# It takes a while: the Python loop does about 2 to 5 images/s on 2 cores, so the default (1,000
# images, best of 3 on each side) runs 15 to 30 minutes there. BENCH_RUNS=1 takes about a third
# of that; BENCH_N=200 a fifth (with a larger share of pinrec's model load in its time).
#
#   BENCH_N=1000 BENCH_RUNS=3 BENCH_THREADS=$(nproc) bench/cli/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

py=${PINREC_PYTHON:-.venv/bin/python}
bin=bin/pinrec
model=${PINREC_MODEL:-models/resnet50}
n=${BENCH_N:-1000}
runs=${BENCH_RUNS:-3}
threads=${BENCH_THREADS:-$(nproc)}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
[ -x "$bin" ] || { echo "bench_cli: $bin is missing: run make build" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The demo's images: 100 per class, 1,000 in all; the first n of them in dataset order.
go run ./examples/fashionmnist -dir "$data" -split test -per-class 100 -out "$work/all" >/dev/null
mapfile -t files < <(cd "$work/all" && find . -name '*.png' | sort -t/ -k3)
for f in "${files[@]:0:$n}"; do
  mkdir -p "$work/images/$(dirname "$f")"
  cp "$work/all/$f" "$work/images/$f"
done
count=$(find "$work/images" -name '*.png' | wc -l)
echo "bench_cli: $count images, model $model, $threads TensorFlow threads, best of $runs ($(nproc) cores)"

best=0
for r in $(seq "$runs"); do
  rm -f "$work/bench.pinrec"
  t0=$(date +%s.%N)
  "$bin" index -model "$model" -threads "$threads" -index "$work/bench.pinrec" "$work/images" >"$work/out" 2>"$work/err" \
    || { cat "$work/err" >&2; exit 1; }
  t1=$(date +%s.%N)
  rate=$(awk -v n="$count" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", n / (b - a) }')
  echo "pinrec run $r: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s end to end, $rate images/s ($(cat "$work/out"))"
  best=$(awk -v a="$best" -v b="$rate" 'BEGIN { print (b > a) ? b : a }')
done
echo "pinrec_images_per_s=$best"

"$py" bench/cli/cli_python.py --model "$model" --images "$work/images" --runs "$runs" --threads "$threads" | tee "$work/py"
pyrate=$(sed -n 's/^python_images_per_s=//p' "$work/py")
awk -v a="$best" -v b="$pyrate" 'BEGIN { printf "index_ratio_vs_python=%.2f\n", a / b }'

#!/usr/bin/env bash
# make bench-personal: a SIMULATION (no real engagement data exists here). Simulated users with
# drifting latent interests and impulse actions like and save the 10,000 Fashion-MNIST test
# images (raw-pixel embedding, 16x16 RGB, as make bench-hybrid); walking forward by day, each
# method's candidates from the actions before a day are scored against the actions of the day
# (relevance and recall@K, 95% bootstrap intervals over users). Then a "For you" feed is timed
# for a user with 1,000 saves over a 100k-item approximate index of synthetic vectors.
# BENCH_USERS (400), BENCH_LATENCY_N (100000; 0 skips the timing), BENCH_LATENCY_DIM (768).
# Ends with name=value lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${CGO_CFLAGS:-}" ] && [ -f .venv/tf/env.sh ]; then . .venv/tf/env.sh; fi

data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
out=.cache/bench-personal
mkdir -p "$out"
echo "== command: make bench-personal (bench/personal/run.sh $*)"
echo "== uptime: $(uptime)"
go build -o "$out/personal" ./bench/personal
"$out/personal" -dir "$data" -users "${BENCH_USERS:-400}" -latency-n "${BENCH_LATENCY_N:-100000}" \
	-latency-dim "${BENCH_LATENCY_DIM:-768}" "$@"
echo "== uptime: $(uptime)"

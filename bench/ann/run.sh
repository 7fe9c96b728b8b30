#!/usr/bin/env bash
# make bench-ann: pinrec's HNSW index (package ann) against FAISS IndexHNSWFlat(d, 32) and
# HNSW32,SQ8 on the same synthetic ResNet50-like vectors (bench/synth_embeddings.py:
# non-negative, clustered, low intrinsic dimension), in one run, one process after the other.
#
#   BENCH_N (default 1000000) x BENCH_D (2048) vectors, BENCH_NQ (1000) queries; the data take
#   BENCH_N*BENCH_D*4 bytes on disk (8.2 GB at the default) in $BENCH_TMP (default a temp dir),
#   removed at the end. pinrec's exact index file takes as much again, its ANN file a quarter more.
#   BENCH_EF: efSearch values swept; BENCH_M, BENCH_EFC, BENCH_CODEC: pinrec's graph;
#   BENCH_RERANK: candidates re-ranked exactly (0, the default: max(2k, min(ef, 4k))).
#
# Steps: generate; pinrec exact index + exact top-10 (ground truth) + exact query time; pinrec
# ANN build (2 threads) and sweep; FAISS builds and sweeps (2 threads); report. Peak memory is
# about the vectors once (the exact index is built in RAM, then used memory-mapped), which is
# also what FAISS's IndexHNSWFlat holds. Prints a table and name=value lines.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PINREC_PYTHON:-.venv/bin/python}
N=${BENCH_N:-1000000}
D=${BENCH_D:-2048}
NQ=${BENCH_NQ:-1000}
EF=${BENCH_EF:-16,24,32,48,64,96,128,192,256}
SYNTH=${BENCH_SYNTH:-bench/synth_embeddings.py}
gb=$(awk -v n="$N" -v d="$D" 'BEGIN{printf "%.1f", n*d*4/1e9}')

tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/pinrec-bench-ann.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "bench-ann: N=$N d=$D NQ=$NQ: ${gb} GB of vectors on disk in $tmp (x2 with pinrec's index file), deleted at the end" >&2
echo "load before: $(uptime)" >&2

CGO_ENABLED=0 go build -o "$tmp/benchann" ./bench/ann
"$PY" "$SYNTH" --out "$tmp" --n "$N" --nq "$NQ" --d "$D"

echo "pinrec exact index and ground truth..." >&2
GOMAXPROCS=2 "$tmp/benchann" exact -dir "$tmp"
echo "pinrec ANN build (2 threads)..." >&2
GOMAXPROCS=2 "$tmp/benchann" build -dir "$tmp" -threads 2 -m "${BENCH_M:-16}" -efc "${BENCH_EFC:-64}" -codec "${BENCH_CODEC:-sq8}"
rm -f "$tmp/exact.idx.tmp"
echo "pinrec ANN sweep..." >&2
GOMAXPROCS=2 "$tmp/benchann" search -dir "$tmp" -ef "$EF" -rerank "${BENCH_RERANK:-0}"
echo "FAISS (2 threads)..." >&2
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2 "$PY" bench/ann/ann_faiss.py --dir "$tmp" --ef "$EF" --threads 2 >&2
"$tmp/benchann" report -dir "$tmp"
echo "load after: $(uptime)"

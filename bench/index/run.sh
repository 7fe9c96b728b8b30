#!/usr/bin/env bash
# make bench-index: pinrec's Index against FAISS IndexFlatL2 on the same random data, in one run.
#
#   N=100000 d=2048 k=10; one query and a batch of 100; 1 and 2 threads (GOMAXPROCS for pinrec,
#   OMP_NUM_THREADS/OPENBLAS_NUM_THREADS for FAISS); best of 5 each, in 3 trials: in each trial
#   and for each thread count FAISS and pinrec run back to back, in alternating order, so that
#   load from other programs drifting between the two is caught; the best over the trials is
#   kept and each trial's ratio printed. The machine's read bandwidth
#   (bench/bandwidth/bandwidth.c, 1 and 2 threads) is measured twice before, the best kept.
#   Prints each case with times and ratios, and ends with name=value lines:
#   single_ratio_vs_faiss= batch_ratio_vs_faiss= single_bandwidth_fraction= (2 threads).
#
# Environment: PINREC_PYTHON (default .venv/bin/python, with numpy and faiss-cpu),
# BENCH_N, BENCH_D, BENCH_NQ, BENCH_K, BENCH_REPS, BENCH_THREADS (e.g. "1,2"), BENCH_TRIALS, BENCH_TMP.
# BENCH_ISA chooses the instruction set of both sides, to compare them as on another machine:
#   avx2   pinrec without AVX-512 (PINREC_KERNEL=avx2), OpenBLAS's Haswell kernels for FAISS
#   avx512 pinrec's AVX-512 kernels, OpenBLAS's SkylakeX kernels for FAISS
#   unset  whatever each chooses (OpenBLAS 0.3.15 in faiss-cpu 1.15.1 picks its AVX2 kernels on
#          CPUs it does not know, e.g. AMD Zen 5, even where they have AVX-512)
# The output names the CPU, pinrec's kernels and OpenBLAS's.
# Needs about 3.5 GB of memory and 1 GB in $BENCH_TMP (default a temp dir, removed at the end).
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PINREC_PYTHON:-.venv/bin/python}
N=${BENCH_N:-100000}
D=${BENCH_D:-2048}
NQ=${BENCH_NQ:-100}
K=${BENCH_K:-10}
REPS=${BENCH_REPS:-5}
THREADS=${BENCH_THREADS:-1,2}
TRIALS=${BENCH_TRIALS:-3}

case "${BENCH_ISA:-}" in
"") ;;
avx2) export PINREC_KERNEL=avx2 OPENBLAS_CORETYPE=Haswell ;;
avx512) export PINREC_KERNEL= OPENBLAS_CORETYPE=SkylakeX ;;
*) echo "BENCH_ISA=$BENCH_ISA: want avx2, avx512 or nothing" >&2; exit 2 ;;
esac

tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/pinrec-bench-index.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "building the bandwidth probe and the Go driver..." >&2
cc -O2 -mavx2 -mfma -pthread bench/bandwidth/bandwidth.c -o "$tmp/bandwidth"
CGO_ENABLED=0 go build -o "$tmp/benchindex" ./bench/index

echo "generating N=$N d=$D random vectors and $NQ queries..." >&2
"$PY" bench/index/index_faiss.py gen --dir "$tmp" --n "$N" --d "$D" --nq "$NQ"

mb=$(( N * D * 4 / 1048576 ))
mb=$(( mb < 256 ? 256 : mb ))
for _ in 1 2; do
	"$tmp/bandwidth" "$mb" "$REPS" ${THREADS//,/ } >>"$tmp/bandwidth.txt" 2>/dev/null
done

echo "pinrec and FAISS, $TRIALS trial(s)..." >&2
"$tmp/benchindex" -dir "$tmp" -n "$N" -d "$D" -nq "$NQ" -k "$K" -reps "$REPS" -threads "$THREADS" \
	-faiss-cmd "$PY bench/index/index_faiss.py" -trials "$TRIALS" -bandwidth "$tmp/bandwidth.txt"

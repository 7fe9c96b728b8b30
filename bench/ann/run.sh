#!/usr/bin/env bash
# make bench-ann: pinrec's HNSW index (package ann) against FAISS IndexHNSWFlat(d, 32) and
# HNSW32,SQ8, hnswlib (M=16 and 32, ef_construction 200) and usearch (f16, when it installs),
# on the same data and queries, one process after the other, for each data set of BENCH_DATA
# (default "fashion synth"):
#
#   fashion  Fashion-MNIST: the 60,000 training images as 784 float32 pixel values, the 10,000
#            test images as queries (BENCH_NQ; ann-benchmarks' fashion-mnist-784-euclidean;
#            make dataset installs Debian's dataset-fashion-mnist). Goal recall 0.99.
#   synth    BENCH_N (default 1000000) x BENCH_D (2048) synthetic ResNet50-like vectors
#            (bench/synth_embeddings.py: non-negative, clustered, low intrinsic dimension),
#            BENCH_NQ (5000) fresh queries. Goal recall 0.95. The data take BENCH_N*BENCH_D*4
#            bytes on disk (8.2 GB at the default) in $BENCH_TMP (default a temp dir), removed
#            at the end; pinrec's exact index file takes as much again.
#
# BENCH_FAISS: the FAISS factory strings built, separated by ';' (default "HNSW32,Flat;HNSW32,SQ8");
# BENCH_NO_PEERS=1 leaves hnswlib and usearch out (the 1M run takes hours with every peer).
# BENCH_KEEP=1 keeps each data set's folder (pinrec's exact.idx and ann.idx, not the raw vectors)
# for bench-serve's approximate-index phase (BENCH_ANN_DIR, see bench/serve/run.sh).
# BENCH_EF: efSearch values swept; BENCH_M, BENCH_EFC, BENCH_CODEC, BENCH_TARGET: pinrec's graph
# and target recall; BENCH_RERANK: candidates re-ranked exactly (0: max(2k, k+10), at most ef).
#
# Recall@10 is scored on every query (the default search's with its standard error: about
# 0.003 at 5,000 queries and recall 0.95); latency and QPS on the first BENCH_NLAT (1000)
# queries, in BENCH_REPS (3) passes over the whole sweep, rising then falling efSearch, each
# point keeping its best pass: pinrec, FAISS, hnswlib and usearch alike. Filtered search and
# churn use the first 1,000 queries.
#
# Steps per data set: data; pinrec exact index + exact top-10 (ground truth) + exact query time;
# pinrec ANN build (2 threads, calibrated) and sweep; filtered search and churn; FAISS, then
# hnswlib and usearch builds (2 threads) and sweeps; report: a table and name=value lines.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PINREC_PYTHON:-.venv/bin/python}
EF=${BENCH_EF:-16,24,32,48,64,96,128,192,256}
NLAT=${BENCH_NLAT:-1000} REPS=${BENCH_REPS:-3}
root=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/pinrec-bench-ann.XXXXXX")
trap '[ -n "${BENCH_KEEP:-}" ] || rm -rf "$root"' EXIT
CGO_ENABLED=0 go build -o "$root/benchann" ./bench/ann

one() {
	local data=$1 tmp=$root/$1
	mkdir -p "$tmp"
	echo "bench-ann $data: load before: $(uptime)" >&2
	case $data in
	fashion) "$PY" bench/ann/fashion.py --out "$tmp" --n "${BENCH_FASHION_N:-60000}" --nq "${BENCH_NQ:-10000}" ;;
	synth)
		N=${BENCH_N:-1000000} D=${BENCH_D:-2048}
		echo "bench-ann synth: N=$N d=$D: $(awk -v n="$N" -v d="$D" 'BEGIN{printf "%.1f", n*d*4/1e9}') GB of vectors on disk in $tmp (x2 with pinrec's index file), deleted at the end" >&2
		"$PY" "${BENCH_SYNTH:-bench/synth_embeddings.py}" --out "$tmp" --n "$N" --nq "${BENCH_NQ:-5000}" --d "$D" ;;
	*) echo "bench-ann: unknown data set $data (fashion or synth)" >&2; return 2 ;;
	esac
	echo "pinrec exact index and ground truth..." >&2
	GOMAXPROCS=2 "$root/benchann" exact -dir "$tmp"
	echo "pinrec ANN build (2 threads)..." >&2
	GOMAXPROCS=2 "$root/benchann" build -dir "$tmp" -threads 2 -m "${BENCH_M:-32}" -efc "${BENCH_EFC:-40}" \
		-codec "${BENCH_CODEC:-sq8}" -target "${BENCH_TARGET:-0.95}"
	echo "pinrec ANN sweep..." >&2
	GOMAXPROCS=2 "$root/benchann" search -dir "$tmp" -ef "$EF" -rerank "${BENCH_RERANK:-0}" -nlat "$NLAT" -reps "$REPS"
	echo "pinrec filtered search and churn..." >&2
	GOMAXPROCS=2 "$root/benchann" churn -dir "$tmp"
	echo "FAISS (2 threads)..." >&2
	OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2 "$PY" bench/ann/ann_faiss.py --dir "$tmp" --ef "$EF" --nlat "$NLAT" --reps "$REPS" --threads 2 \
		--indexes "${BENCH_FAISS:-HNSW32,Flat;HNSW32,SQ8}" >&2
	echo "hnswlib and usearch (2 threads)..." >&2
	if [ -n "${BENCH_NO_PEERS:-}" ]; then
		echo "  hnswlib and usearch left out (BENCH_NO_PEERS is set)" >&2
	elif "$PY" -c "import hnswlib" 2>/dev/null; then
		OMP_NUM_THREADS=2 "$PY" bench/ann/ann_peers.py --dir "$tmp" --ef "$EF" --nlat "$NLAT" --reps "$REPS" --threads 2 >&2
	else
		echo "  hnswlib is not installed in $PY: left out (make setup installs it)" >&2
	fi
	"$root/benchann" report -dir "$tmp"
	echo "load after: $(uptime)"
	if [ -n "${BENCH_KEEP:-}" ]; then
		rm -f "$tmp/base.f32"
		echo "bench-ann $data: BENCH_KEEP: kept $tmp (exact.idx, ann.idx); BENCH_ANN_DIR=$tmp make bench-serve serves it" >&2
	else
		rm -rf "$tmp"
	fi
}

for data in ${BENCH_DATA:-fashion synth}; do
	one "$data"
done
